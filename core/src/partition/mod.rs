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
    /// Bytes in all segments, for DescribeLogDirs.
    pub size_bytes: u64,
}

/// A found offset and the timestamp that found it; `-1`/`-1` when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    pub timestamp: i64,
    pub offset: i64,
}
