//! The topic metadata file: `<data dir>/weir-topics.json`, replaced atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{MetadataError, TopicConfigs};

const FILE_NAME: &str = "weir-topics.json";
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredTopics {
    pub(super) version: u32,
    pub(super) topics: Vec<StoredTopic>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredTopic {
    pub(super) name: String,
    /// The topic id as 32 hex digits.
    pub(super) id: String,
    pub(super) partitions: i32,
    #[serde(default)]
    pub(super) configs: TopicConfigs,
}

pub(super) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

pub(super) fn load(data_dir: &Path) -> Result<Vec<StoredTopic>, MetadataError> {
    let path = path(data_dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(MetadataError::Io {
                context: format!("reading {}", path.display()),
                source,
            })
        }
    };
    let stored: StoredTopics =
        serde_json::from_str(&text).map_err(|e| MetadataError::CorruptMetadata {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if stored.version != VERSION {
        return Err(MetadataError::CorruptMetadata {
            path: path.display().to_string(),
            reason: format!("unsupported version {}", stored.version),
        });
    }
    Ok(stored.topics)
}

/// Writes the file through a temporary file, fsync and rename, so a crash leaves
/// either the old or the new list, never a torn one.
pub(super) fn save(data_dir: &Path, topics: Vec<StoredTopic>) -> Result<(), MetadataError> {
    let path = path(data_dir);
    let tmp = path.with_extension("json.tmp");
    let io = |context: String| move |source| MetadataError::Io { context, source };
    let body = serde_json::to_vec_pretty(&StoredTopics {
        version: VERSION,
        topics,
    })
    .expect("topic metadata always serializes");
    let mut file = fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
    file.write_all(&body)
        .and_then(|()| file.sync_all())
        .map_err(io(format!("writing {}", tmp.display())))?;
    fs::rename(&tmp, &path).map_err(io(format!("replacing {}", path.display())))?;
    fs::File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io(format!("syncing {}", data_dir.display())))
}
