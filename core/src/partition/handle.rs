//! The cloneable face of a partition: send a request to its owner and await the answer.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use super::command::Command;
use super::{IsolationLevel, OffsetSpec, PartitionOffsets, ReadResult, TimestampAndOffset};
use crate::log::batch::control::EndTxnMarker;
use crate::log::producer::ProducerEntry;
use crate::log::{AppendInfo, FetchedRecords, LogConfig, LogError};

/// Why a partition request failed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error(transparent)]
    Log(#[from] LogError),
    /// The owner stopped: the broker is shutting down or the topic was deleted.
    #[error("partition {topic}-{partition} is no longer served by this broker")]
    Closed { topic: Arc<str>, partition: i32 },
}

/// A handle to one partition's owner task.
#[derive(Debug, Clone)]
pub struct PartitionHandle {
    topic: Arc<str>,
    partition: i32,
    commands: mpsc::Sender<Command>,
    offsets: watch::Receiver<PartitionOffsets>,
}

impl PartitionHandle {
    pub(super) fn new(
        topic: Arc<str>,
        partition: i32,
        commands: mpsc::Sender<Command>,
        offsets: watch::Receiver<PartitionOffsets>,
    ) -> Self {
        PartitionHandle {
            topic,
            partition,
            commands,
            offsets,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The latest published offsets; never waits for the owner.
    pub fn offsets(&self) -> PartitionOffsets {
        *self.offsets.borrow()
    }

    /// A receiver that wakes whenever the offsets change (long-poll fetches wait on it).
    pub fn watch_offsets(&self) -> watch::Receiver<PartitionOffsets> {
        self.offsets.clone()
    }

    /// Queues an append. Queueing happens in call order, so a connection that sends
    /// two produce requests keeps their order even though it awaits both replies later.
    pub async fn start_append(
        &self,
        records: Bytes,
    ) -> Result<oneshot::Receiver<Result<AppendInfo, LogError>>, PartitionError> {
        self.queue_append(records, false).await
    }

    /// [`start_append`](Self::start_append) for the group coordinator's transactional
    /// offset commits (the producer's epoch is checked, not its sequence).
    pub async fn start_coordinator_append(
        &self,
        records: Bytes,
    ) -> Result<oneshot::Receiver<Result<AppendInfo, LogError>>, PartitionError> {
        self.queue_append(records, true).await
    }

    async fn queue_append(
        &self,
        records: Bytes,
        as_coordinator: bool,
    ) -> Result<oneshot::Receiver<Result<AppendInfo, LogError>>, PartitionError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Append {
            records,
            as_coordinator,
            reply,
        })
        .await?;
        Ok(rx)
    }

    /// Writes a transaction marker for `producer_id`.
    pub async fn write_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTxnMarker,
    ) -> Result<AppendInfo, PartitionError> {
        self.request(|reply| Command::WriteMarker {
            producer_id,
            producer_epoch,
            marker,
            reply,
        })
        .await
    }

    /// The producers this partition remembers.
    pub async fn describe_producers(&self) -> Result<Vec<ProducerEntry>, PartitionError> {
        self.request(|reply| Command::DescribeProducers { reply })
            .await
    }

    /// Awaits an append queued by [`start_append`](Self::start_append).
    pub async fn finish_append(
        &self,
        pending: oneshot::Receiver<Result<AppendInfo, LogError>>,
    ) -> Result<AppendInfo, PartitionError> {
        Ok(pending.await.map_err(|_| self.closed())??)
    }

    /// Whole batches from `offset` up to the high watermark, within `max_bytes` but at
    /// least one batch (KIP-74), as regions of the segment files: the owner only walks
    /// batch headers, and the bytes are read (or sent to a socket) by the caller.
    pub async fn read_records(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<FetchedRecords, PartitionError> {
        Ok(self
            .read_isolated(offset, max_bytes, IsolationLevel::ReadUncommitted)
            .await?
            .records)
    }

    /// [`read_records`](Self::read_records) as `isolation` allows: for read_committed
    /// up to the last stable offset, with the aborted transactions of the range.
    pub async fn read_isolated(
        &self,
        offset: i64,
        max_bytes: usize,
        isolation: IsolationLevel,
    ) -> Result<ReadResult, PartitionError> {
        self.request(|reply| Command::Read {
            offset,
            max_bytes,
            isolation,
            reply,
        })
        .await
    }

    /// [`read_records`](Self::read_records), read into memory by the caller's task.
    pub async fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, PartitionError> {
        Ok(self
            .read_records(offset, max_bytes)
            .await?
            .read_to_bytes()?)
    }

    pub async fn list_offset(
        &self,
        spec: OffsetSpec,
    ) -> Result<Option<TimestampAndOffset>, PartitionError> {
        self.request(|reply| Command::ListOffset { spec, reply })
            .await
    }

    pub async fn delete_records(&self, before_offset: i64) -> Result<i64, PartitionError> {
        self.request(|reply| Command::DeleteRecords {
            before_offset,
            reply,
        })
        .await
    }

    pub async fn update_config(&self, config: LogConfig) -> Result<(), PartitionError> {
        self.send(Command::UpdateConfig(config)).await
    }

    /// Stops the owner and removes the partition's files.
    pub async fn delete(&self) -> Result<(), PartitionError> {
        self.request(|reply| Command::Delete { reply }).await
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, LogError>>) -> Command,
    ) -> Result<T, PartitionError> {
        let (reply, rx) = oneshot::channel();
        self.send(command(reply)).await?;
        Ok(rx.await.map_err(|_| self.closed())??)
    }

    async fn send(&self, command: Command) -> Result<(), PartitionError> {
        self.commands.send(command).await.map_err(|_| self.closed())
    }

    fn closed(&self) -> PartitionError {
        PartitionError::Closed {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}
