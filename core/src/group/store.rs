//! The `__consumer_offsets` topic as the coordinator's journal: appends of a group's
//! records to its partition, and the replay that rebuilds every group at startup.
//!
//! Each write is one uncompressed magic-v2 batch (the log layer's builder) holding one
//! group's records, so a group's changes land atomically and in order on one partition.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::records::{self, RecordKey, RecordValue};
use crate::log::batch::control;
use crate::log::batch::record::RecordIter;
use crate::log::batch::{BatchIter, RecordBatchBuilder, HEADER_SIZE};
use crate::log::{AppendInfo, LogError};
use crate::metadata::{MetadataError, Topic, TopicConfigs, TopicRegistry};
use crate::partition::{PartitionError, PartitionHandle};
use crate::protocol::ErrorCode;

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Bytes read per fetch while replaying a partition.
const LOAD_CHUNK: usize = 4 << 20;

/// Why the offsets topic could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("creating or finding topic {OFFSETS_TOPIC} failed")]
    Topic(#[source] MetadataError),
    #[error("reading partition {partition} of {OFFSETS_TOPIC} failed")]
    Read {
        partition: i32,
        #[source]
        source: PartitionError,
    },
}

/// A record to append: a key and a value, `None` being a tombstone.
pub(crate) type Record = (RecordKey, Option<Vec<u8>>);

#[derive(Debug)]
pub(crate) struct OffsetsLog {
    topics: Arc<TopicRegistry>,
    partitions: i32,
}

/// An append that has been queued on its partition, in the order the coordinator
/// decided it; awaiting it does not need the coordinator's lock.
#[derive(Debug)]
pub(crate) struct PendingWrite {
    partition: PartitionHandle,
    reply: oneshot::Receiver<Result<AppendInfo, LogError>>,
}

impl PendingWrite {
    /// Waits for the append, mapping failures to the codes Kafka's coordinator answers
    /// a commit or sync with.
    pub(crate) async fn wait(self) -> Result<(), ErrorCode> {
        self.partition
            .finish_append(self.reply)
            .await
            .map(|_| ())
            .map_err(|error| {
                tracing::warn!(%error, "writing to {OFFSETS_TOPIC} failed");
                write_error_code(&error)
            })
    }
}

fn write_error_code(error: &PartitionError) -> ErrorCode {
    match error {
        PartitionError::Log(LogError::RecordTooLarge { .. }) => ErrorCode::InvalidCommitOffsetSize,
        PartitionError::Closed { .. } => ErrorCode::NotCoordinator,
        PartitionError::Log(_) => ErrorCode::NotCoordinator,
    }
}

impl OffsetsLog {
    pub(crate) fn new(topics: Arc<TopicRegistry>, partitions: i32) -> OffsetsLog {
        OffsetsLog { topics, partitions }
    }

    pub(crate) fn registry(&self) -> &TopicRegistry {
        &self.topics
    }

    /// The topic, created compacted on first use as Kafka does.
    async fn topic(&self) -> Result<Arc<Topic>, StoreError> {
        if let Some(topic) = self.topics.get(OFFSETS_TOPIC) {
            return Ok(topic);
        }
        let mut configs = TopicConfigs::default();
        configs
            .set("cleanup.policy", "compact")
            .map_err(|e| StoreError::Topic(e.into()))?;
        match self
            .topics
            .create(OFFSETS_TOPIC, self.partitions, configs, false)
            .await
        {
            Ok(Some(topic)) => Ok(topic),
            // Lost a race with another creator, or validate-only (never asked here).
            Ok(None) | Err(MetadataError::TopicAlreadyExists(_)) => {
                self.topics.get(OFFSETS_TOPIC).ok_or_else(|| {
                    StoreError::Topic(MetadataError::UnknownTopic(OFFSETS_TOPIC.into()))
                })
            }
            Err(error) => Err(StoreError::Topic(error)),
        }
    }

    /// The handle of partition `index`, if the topic exists.
    pub(crate) fn partition(&self, index: i32) -> Option<PartitionHandle> {
        self.topics
            .get(OFFSETS_TOPIC)
            .and_then(|topic| topic.partition(index).cloned())
    }

    /// Queues `records` of `group` as one batch on the group's partition; with a
    /// producer, as that producer's transactional batch (TxnOffsetCommit).
    pub(crate) async fn start_write(
        &self,
        group: &str,
        records: Vec<Record>,
        now_ms: i64,
        producer: Option<(i64, i16)>,
    ) -> Result<PendingWrite, ErrorCode> {
        let topic = self.topic().await.map_err(|error| {
            tracing::warn!(error = %super::error_chain(&error), "no offsets topic");
            ErrorCode::CoordinatorNotAvailable
        })?;
        let index = records::partition_for(group, topic.partitions.len() as i32);
        let partition = topic
            .partition(index)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?
            .clone();
        let mut batch = match producer {
            Some((id, epoch)) => RecordBatchBuilder::new()
                .producer(id, epoch, -1)
                .transactional(),
            None => RecordBatchBuilder::new(),
        };
        for (key, value) in &records {
            batch.push(now_ms, Some(&records::encode_key(key)), value.as_deref());
        }
        let queued = match producer {
            Some(_) => partition.start_coordinator_append(batch.build()).await,
            None => partition.start_append(batch.build()).await,
        };
        let reply = queued.map_err(|e| write_error_code(&e))?;
        Ok(PendingWrite { partition, reply })
    }

    /// Every record of every partition, each partition in log order, records of a
    /// committed transaction where its COMMIT marker is. Empty when the topic does not
    /// exist yet.
    pub(crate) async fn load(&self) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        let Some(topic) = self.topics.get(OFFSETS_TOPIC) else {
            return Ok(loaded);
        };
        for partition in &topic.partitions {
            load_partition(partition, &mut loaded).await?;
        }
        Ok(loaded)
    }
}

/// A replay of `__consumer_offsets`.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Records in effect, in order.
    pub(crate) records: Vec<(RecordKey, Option<RecordValue>)>,
    /// Records of transactions with no marker yet, by producer id.
    pub(crate) open_txns: HashMap<i64, Vec<(RecordKey, Option<RecordValue>)>>,
}

async fn load_partition(
    partition: &PartitionHandle,
    loaded: &mut Loaded,
) -> Result<(), StoreError> {
    let out = &mut loaded.records;
    let mut open: HashMap<i64, Vec<(RecordKey, Option<RecordValue>)>> = HashMap::new();
    let read_error = |source| StoreError::Read {
        partition: partition.partition(),
        source,
    };
    let mut offset = partition.offsets().log_start_offset;
    let end = partition.offsets().high_watermark;
    while offset < end {
        let chunk = partition
            .read(offset, LOAD_CHUNK)
            .await
            .map_err(read_error)?;
        let mut next = offset;
        for batch in BatchIter::new(chunk) {
            next = batch.header.last_offset() + 1;
            if batch.header.is_control() {
                let producer_id = batch.header.producer_id;
                if let Some(marker) = control::parse_marker(&batch.bytes) {
                    let records = open.remove(&producer_id).unwrap_or_default();
                    if marker.control_type.is_commit() {
                        out.extend(records);
                    }
                }
                continue;
            }
            if batch.header.compression() != 0 {
                // Weir writes none; a foreign compressed batch is skipped, not misread.
                continue;
            }
            let target = if batch.header.is_transactional() {
                open.entry(batch.header.producer_id).or_default()
            } else {
                &mut *out
            };
            for (key, value) in batch_records(&batch.bytes, batch.header.records_count) {
                let Some(key) = key else { continue };
                let key = match records::decode_key(&key) {
                    Ok(key) => key,
                    Err(error) => {
                        tracing::warn!(%error, "skipping an unreadable {OFFSETS_TOPIC} key");
                        continue;
                    }
                };
                let value = match value.map(|v| records::decode_value(&key, &v)).transpose() {
                    Ok(value) => value,
                    Err(error) => {
                        tracing::warn!(%error, group = key.group(), "skipping an unreadable {OFFSETS_TOPIC} value");
                        continue;
                    }
                };
                target.push((key, value));
            }
        }
        if next <= offset {
            // Nothing whole came back (a batch larger than the chunk cannot happen for
            // batches this broker wrote); stop rather than spin.
            tracing::warn!(
                partition = partition.partition(),
                offset,
                "{OFFSETS_TOPIC} replay stopped early"
            );
            break;
        }
        offset = next;
    }
    for (producer_id, records) in open {
        loaded
            .open_txns
            .entry(producer_id)
            .or_default()
            .extend(records);
    }
    Ok(())
}

/// The keys and values of an uncompressed batch's records. Stops at the first
/// malformed record.
fn batch_records(batch: &Bytes, count: i32) -> Vec<(Option<Bytes>, Option<Bytes>)> {
    if batch.len() < HEADER_SIZE {
        return Vec::new();
    }
    RecordIter::new(batch.slice(HEADER_SIZE..), count)
        .map_while(Result::ok)
        .map(|record| (record.key, record.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_from_a_built_batch() {
        let mut builder = RecordBatchBuilder::new();
        builder.push(1, Some(b"k1"), Some(b"v1"));
        builder.push(2, Some(b"k2"), None);
        let batch = builder.build();
        let got = batch_records(&batch, 2);
        assert_eq!(
            got,
            vec![
                (
                    Some(Bytes::from_static(b"k1")),
                    Some(Bytes::from_static(b"v1"))
                ),
                (Some(Bytes::from_static(b"k2")), None),
            ]
        );
        // A count larger than the records present stops at the end.
        assert_eq!(batch_records(&batch, 5).len(), 2);
    }
}
