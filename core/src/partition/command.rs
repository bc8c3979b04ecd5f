//! Requests the partition owner serves, each with its own reply channel.

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{IsolationLevel, OffsetSpec, ReadResult, TimestampAndOffset};
use crate::log::batch::control::EndTxnMarker;
use crate::log::cleaner::CleanedSegments;
use crate::log::producer::ProducerEntry;
use crate::log::{AppendInfo, LogConfig, LogError};

pub(super) type Reply<T> = oneshot::Sender<Result<T, LogError>>;

#[derive(Debug)]
pub(super) enum Command {
    Append {
        records: Bytes,
        /// The group coordinator's transactional offsets: no sequence checks.
        as_coordinator: bool,
        reply: Reply<AppendInfo>,
    },
    WriteMarker {
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTxnMarker,
        reply: Reply<AppendInfo>,
    },
    Read {
        offset: i64,
        max_bytes: usize,
        isolation: IsolationLevel,
        reply: Reply<ReadResult>,
    },
    DescribeProducers {
        reply: Reply<Vec<ProducerEntry>>,
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
