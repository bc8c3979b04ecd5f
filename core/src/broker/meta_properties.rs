//! `meta.properties`: the data directory's identity (cluster id and node id), in the
//! same `key=value` form Kafka writes, so a directory is never silently reused by
//! another node.

use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::Path;

use super::BrokerError;

const FILE_NAME: &str = "meta.properties";

/// Reads the cluster id, creating the file with a new id on first start. A directory
/// written by another node id is refused.
pub(crate) fn load_or_create(data_dir: &Path, node_id: i32) -> Result<String, BrokerError> {
    let path = data_dir.join(FILE_NAME);
    let io = |context: String| move |source| BrokerError::Io { context, source };
    match fs::read_to_string(&path) {
        Ok(text) => {
            let value = |key: &str| {
                text.lines()
                    .filter_map(|line| line.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().to_owned())
            };
            let stored_node = value("node.id").and_then(|v| v.parse::<i32>().ok());
            if stored_node.is_some_and(|n| n != node_id) {
                return Err(BrokerError::Io {
                    context: format!(
                        "{} belongs to node.id {}, but this broker is node.id {node_id}; use that node id or another data directory",
                        path.display(),
                        stored_node.unwrap_or_default()
                    ),
                    source: std::io::Error::from(std::io::ErrorKind::InvalidData),
                });
            }
            value("cluster.id").ok_or_else(|| BrokerError::Io {
                context: format!("{} has no cluster.id", path.display()),
                source: std::io::Error::from(std::io::ErrorKind::InvalidData),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = new_cluster_id();
            let tmp = path.with_extension("tmp");
            let mut file =
                fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
            write!(
                file,
                "#Written by Weir at first start.\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"
            )
            .and_then(|()| file.sync_all())
            .map_err(io(format!("writing {}", tmp.display())))?;
            fs::rename(&tmp, &path).map_err(io(format!("creating {}", path.display())))?;
            Ok(cluster_id)
        }
        Err(source) => Err(BrokerError::Io {
            context: format!("reading {}", path.display()),
            source,
        }),
    }
}

/// 22 characters of URL-safe base64 over 128 random bits, the shape of Kafka's ids.
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let bits = (u128::from(random()) << 64) | u128::from(random());
    (0..22)
        .map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_stable_and_node_id_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), 1).unwrap();
        assert_eq!(first.len(), 22);
        assert_eq!(load_or_create(dir.path(), 1).unwrap(), first);
        let err = load_or_create(dir.path(), 2).unwrap_err();
        assert!(err.to_string().contains("node.id 1"), "{err}");
    }
}
