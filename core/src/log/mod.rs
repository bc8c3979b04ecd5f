//! Kafka-layout segmented log storage: one [`Log`] per partition directory, holding
//! segments of magic-v2 record batches stored byte for byte as produced, with sparse
//! memory-mapped offset and time indexes, recovery of torn tails at open, retention and
//! offset checkpoints. The byte layouts are in `docs/on-disk-format.md`.
//!
//! Reads return [`FetchedRecords`]: regions of the segment files holding the whole
//! batches a fetch gets, which the broker sends with `sendfile(2)` without reading them
//! ([`Log::read`] is the same read, copied into memory).
//!
//! This layer knows nothing of the protocol: it has its own record batch header parser
//! ([`batch`]). Errors map to Kafka error codes at the protocol edge (see [`LogError`]).
//!
//! ```
//! use bytes::Bytes;
//! use weir_core::log::{batch::RecordBatchBuilder, Log, LogConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let mut log = Log::open(&dir.path().join("orders-0"), LogConfig::default(), 1_000)?;
//! let mut batch = RecordBatchBuilder::new();
//! batch.push(1_000, Some(b"key"), Some(b"value"));
//! let info = log.append(batch.build(), 1_000)?;
//! assert_eq!((info.base_offset, log.log_end_offset()), (0, 1));
//! let fetched: Bytes = log.read(0, 1 << 20, log.log_end_offset())?;
//! assert!(!fetched.is_empty());
//! log.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod batch;
mod checkpoint;
pub mod cleaner;
pub mod compression;
mod config;
mod error;
mod fetched;
mod fs;
mod index_file;
mod local_log;
mod offset_index;
pub mod producer;
mod recovery;
mod retention;
mod segment;
pub mod storage;
mod time_index;
mod timestamps;
mod transactions;
pub(crate) mod txn_index;

pub use config::{LogConfig, TimestampType};
pub use error::LogError;
pub use fetched::{FetchedRecords, FileRegion};
pub use local_log::{AppendInfo, Log};
pub use txn_index::AbortedTxn;

/// Writes a small file so that a crash leaves the old or the new contents, fsynced
/// (temporary file, rename, directory sync), through the log's storage layer.
pub fn write_file_atomically(path: &std::path::Path, contents: &[u8]) -> Result<(), LogError> {
    fs::write_atomically(path, contents)
}

/// The directory name of a partition's log: `<topic>-<partition>`, as in Kafka.
pub fn partition_dir_name(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// Splits a partition directory name on its last `-`; `None` unless what follows is a
/// non-negative partition number and what precedes is a non-empty topic. Topic names
/// may contain `-`.
pub fn parse_partition_dir_name(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let partition: i32 = partition.parse().ok()?;
    Some((topic.to_owned(), partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dir_names_round_trip() {
        assert_eq!(partition_dir_name("orders", 0), "orders-0");
        assert_eq!(
            parse_partition_dir_name("my-topic-12"),
            Some(("my-topic".to_owned(), 12))
        );
        assert_eq!(parse_partition_dir_name("orders"), None);
        assert_eq!(parse_partition_dir_name("-3"), None);
        assert_eq!(parse_partition_dir_name("orders-"), None);
        assert_eq!(parse_partition_dir_name("orders-1a"), None);
        assert_eq!(
            parse_partition_dir_name("orders--1"),
            Some(("orders-".to_owned(), 1))
        );
        assert_eq!(parse_partition_dir_name("orders-99999999999"), None);
    }
}
