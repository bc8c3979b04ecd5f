//! A partition and its single owner.
//!
//! Each partition's [`Log`](crate::log::Log) is owned by exactly one task, which takes
//! appends, reads and maintenance through a channel. Nothing on the produce or fetch
//! path shares a lock: the handle is cheap to clone, and the offsets a fetch needs to
//! decide whether to wait (log start, high watermark) are published through a `watch`
//! channel so readers never queue behind the owner to learn them.

mod cleaning;
mod command;
mod handle;
mod owner;

pub use crate::log::producer::ProducerEntry;
pub use handle::{PartitionError, PartitionHandle};
pub(crate) use owner::now_ms;
pub use owner::spawn_partition;

/// Which offset a ListOffsets request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (Kafka's `-2`).
    Earliest,
    /// The log end offset, which on a single replica is the high watermark (`-1`).
    Latest,
    /// The last stable offset: `Latest` for a read_committed ListOffsets.
    LastStable,
    /// The offset of the record with the largest timestamp (`-3`, KIP-734).
    MaxTimestamp,
    /// The first offset whose timestamp is at or after the given time.
    Timestamp(i64),
}

/// The offsets a partition publishes after every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionOffsets {
    pub log_start_offset: i64,
    /// One past the last committed offset. With a single replica every appended batch
    /// is committed as soon as it is written.
    pub high_watermark: i64,
    /// Below this every transaction is decided; read_committed fetches stop here.
    pub last_stable_offset: i64,
    /// Bytes in all segments, for DescribeLogDirs.
    pub size_bytes: u64,
}

/// Which records a read may return (a fetch's `isolation_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Everything below the high watermark, open and aborted transactions included.
    #[default]
    ReadUncommitted,
    /// Only below the last stable offset, with the aborted transactions listed.
    ReadCommitted,
}

impl IsolationLevel {
    /// From the protocol's `isolation_level` byte (1 = read_committed).
    pub fn from_protocol(level: i8) -> IsolationLevel {
        if level == 1 {
            IsolationLevel::ReadCommitted
        } else {
            IsolationLevel::ReadUncommitted
        }
    }
}

/// What a read returns: whole batches, and for read_committed the aborted
/// transactions whose data they may hold.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub records: crate::log::FetchedRecords,
    pub aborted: Option<Vec<crate::log::AbortedTxn>>,
}

/// A found offset and the timestamp that found it; `-1`/`-1` when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    pub timestamp: i64,
    pub offset: i64,
}
