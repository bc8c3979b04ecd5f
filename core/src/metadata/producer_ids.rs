//! Producer ids: unique for the life of the cluster, handed out by the transaction
//! coordinator (and to idempotent producers) from blocks of [`BLOCK_SIZE`].
//!
//! Blocks come from one [`ProducerIdBlocks`] allocator, as Kafka's controller hands
//! them out (`AllocateProducerIds`, recorded as a `ProducerIdsRecord` in the metadata
//! log). On a single node the allocator is a file in the data directory; a cluster's
//! controller takes the trait over without changing its users.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::MetadataError;

/// Ids per block, as Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`.
pub const BLOCK_SIZE: i64 = 1000;

/// The file holding the first id of the next block to hand out.
pub const PRODUCER_ID_BLOCK_FILE: &str = "producer-id-block";

/// Hands out blocks of producer ids that no one else will ever get.
///
/// Contract: a block is durable before it is returned — after a crash the allocator
/// never returns an id from a block it returned before.
pub trait ProducerIdBlocks: Send + Sync + std::fmt::Debug {
    fn next_block(&self) -> Result<Range<i64>, MetadataError>;
}

/// The single-node allocator: the next block's start, rewritten atomically (fsynced)
/// before a block is handed out.
#[derive(Debug)]
pub struct FileProducerIdBlocks {
    path: PathBuf,
    next: Mutex<i64>,
}

impl FileProducerIdBlocks {
    pub fn open(data_dir: &Path) -> Result<FileProducerIdBlocks, MetadataError> {
        let path = data_dir.join(PRODUCER_ID_BLOCK_FILE);
        let next = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| MetadataError::CorruptMetadata {
                    path: path.display().to_string(),
                    reason: format!("expected the next producer id block's start, found {text:?}"),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => {
                return Err(MetadataError::Io {
                    context: format!("reading {}", path.display()),
                    source,
                })
            }
        };
        Ok(FileProducerIdBlocks {
            path,
            next: Mutex::new(next),
        })
    }
}

impl ProducerIdBlocks for FileProducerIdBlocks {
    fn next_block(&self) -> Result<Range<i64>, MetadataError> {
        // A short section with no await: one small file write per thousand ids.
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let start = *next;
        let end = start + BLOCK_SIZE;
        crate::log::write_file_atomically(&self.path, format!("{end}\n").as_bytes()).map_err(
            |source| MetadataError::Log {
                topic: PRODUCER_ID_BLOCK_FILE.into(),
                partition: 0,
                source,
            },
        )?;
        *next = end;
        Ok(start..end)
    }
}

/// Producer ids for this broker, one block at a time.
#[derive(Debug)]
pub struct ProducerIdManager {
    blocks: Box<dyn ProducerIdBlocks>,
    current: Mutex<Range<i64>>,
}

impl ProducerIdManager {
    pub fn new(blocks: Box<dyn ProducerIdBlocks>) -> ProducerIdManager {
        ProducerIdManager {
            blocks,
            current: Mutex::new(0..0),
        }
    }

    /// A producer id never handed out before.
    pub fn generate(&self) -> Result<i64, MetadataError> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.is_empty() {
            *current = self.blocks.next_block()?;
        }
        let id = current.start;
        current.start += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_handed_out_twice_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIdManager::new(Box::new(FileProducerIdBlocks::open(dir.path()).unwrap()));
        let first: Vec<i64> = (0..1500).map(|_| ids.generate().unwrap()).collect();
        assert_eq!(first[0], 0);
        assert_eq!(first[1499], 1499);
        drop(ids);
        // The unused rest of the second block is skipped, never reused.
        let ids = ProducerIdManager::new(Box::new(FileProducerIdBlocks::open(dir.path()).unwrap()));
        assert_eq!(ids.generate().unwrap(), 2000);
        std::fs::write(dir.path().join(PRODUCER_ID_BLOCK_FILE), "garbage").unwrap();
        assert!(FileProducerIdBlocks::open(dir.path()).is_err());
    }
}
