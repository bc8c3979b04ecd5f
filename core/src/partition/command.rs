//! Requests the partition owner serves, each with its own reply channel.

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{OffsetSpec, TimestampAndOffset};
use crate::log::cleaner::CleanedSegments;
use crate::log::{AppendInfo, FetchedRecords, LogConfig, LogError};

pub(super) type Reply<T> = oneshot::Sender<Result<T, LogError>>;

#[derive(Debug)]
pub(super) enum Command {
    Append {
        records: Bytes,
        reply: Reply<AppendInfo>,
    },
    Read {
        offset: i64,
        max_bytes: usize,
        reply: Reply<FetchedRecords>,
    },
    ListOffset {
        spec: OffsetSpec,
        reply: Reply<Option<TimestampAndOffset>>,
    },
    DeleteRecords {
        before_offset: i64,
        reply: Reply<i64>,
    },
    UpdateConfig(LogConfig),
    /// A cleaning pass finished off the owner; the owner swaps its segments in.
    CleanDone(Result<Option<CleanedSegments>, LogError>),
    /// Closes the log and removes the partition's directory (topic deletion).
    Delete {
        reply: Reply<()>,
    },
}
