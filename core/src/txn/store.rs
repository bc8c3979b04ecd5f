//! `__transaction_state` as the transaction coordinator's journal: each state change
//! of a transactional id is one record on the id's partition (Java's
//! `String.hashCode` modulo the partition count, as Kafka places them), acknowledged
//! before the coordinator answers; a replay at startup rebuilds every id.

use std::sync::Arc;

use super::records;
use super::state::TxnMetadata;
use crate::log::batch::record::RecordIter;
use crate::log::batch::{BatchIter, RecordBatchBuilder, HEADER_SIZE};
use crate::metadata::{MetadataError, Topic, TopicConfigs, TopicRegistry};
use crate::protocol::ErrorCode;

/// The internal topic holding transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

const LOAD_CHUNK: usize = 4 << 20;

/// Why the transaction state topic could not be used at startup.
#[derive(Debug, thiserror::Error)]
pub enum TxnStoreError {
    #[error("creating or finding topic {TRANSACTION_STATE_TOPIC} failed")]
    Topic(#[source] MetadataError),
    #[error("reading partition {partition} of {TRANSACTION_STATE_TOPIC} failed")]
    Read {
        partition: i32,
        #[source]
        source: crate::partition::PartitionError,
    },
}

#[derive(Debug)]
pub(crate) struct TxnLog {
    topics: Arc<TopicRegistry>,
    partitions: i32,
}

impl TxnLog {
    pub(crate) fn new(topics: Arc<TopicRegistry>, partitions: i32) -> TxnLog {
        TxnLog { topics, partitions }
    }

    pub(crate) fn registry(&self) -> &Arc<TopicRegistry> {
        &self.topics
    }

    async fn topic(&self) -> Result<Arc<Topic>, MetadataError> {
        if let Some(topic) = self.topics.get(TRANSACTION_STATE_TOPIC) {
            return Ok(topic);
        }
        let mut configs = TopicConfigs::default();
        configs.set("cleanup.policy", "compact")?;
        // Kafka's transaction.state.log.segment.bytes: small segments, so the log
        // cleaner can keep the topic small.
        configs.set("segment.bytes", "104857600")?;
        match self
            .topics
            .create(TRANSACTION_STATE_TOPIC, self.partitions, configs, false)
            .await
        {
            Ok(Some(topic)) => Ok(topic),
            Ok(None) | Err(MetadataError::TopicAlreadyExists(_)) => self
                .topics
                .get(TRANSACTION_STATE_TOPIC)
                .ok_or_else(|| MetadataError::UnknownTopic(TRANSACTION_STATE_TOPIC.into())),
            Err(error) => Err(error),
        }
    }

    /// The partition of `transactional_id`.
    pub(crate) fn partition_for(&self, transactional_id: &str) -> i32 {
        crate::group::partition_for_key(transactional_id, self.partitions)
    }

    /// Appends `meta` (or a tombstone) and waits for the log to acknowledge it.
    /// Failures map to the codes that make a client retry elsewhere (NOT_COORDINATOR).
    pub(crate) async fn write(
        &self,
        transactional_id: &str,
        meta: Option<&TxnMetadata>,
        now_ms: i64,
    ) -> Result<(), ErrorCode> {
        let topic = self.topic().await.map_err(|error| {
            tracing::warn!(%error, "no {TRANSACTION_STATE_TOPIC} topic");
            ErrorCode::CoordinatorNotAvailable
        })?;
        let partition = topic
            .partition(self.partition_for(transactional_id))
            .ok_or(ErrorCode::CoordinatorNotAvailable)?
            .clone();
        let mut batch = RecordBatchBuilder::new();
        let value = meta.map(records::encode_value);
        batch.push(
            now_ms,
            Some(&records::encode_key(transactional_id)),
            value.as_deref(),
        );
        let pending = partition.start_append(batch.build()).await;
        let result = match pending {
            Ok(pending) => partition.finish_append(pending).await.map(|_| ()),
            Err(error) => Err(error),
        };
        result.map_err(|error| {
            tracing::warn!(%error, transactional_id, "writing to {TRANSACTION_STATE_TOPIC} failed");
            ErrorCode::NotCoordinator
        })
    }

    /// The last state of every transactional id, in no particular order.
    pub(crate) async fn load(&self) -> Result<Vec<TxnMetadata>, TxnStoreError> {
        let Some(topic) = self.topics.get(TRANSACTION_STATE_TOPIC) else {
            return Ok(Vec::new());
        };
        let mut latest: std::collections::HashMap<String, Option<TxnMetadata>> =
            std::collections::HashMap::new();
        for partition in &topic.partitions {
            let mut offset = partition.offsets().log_start_offset;
            let end = partition.offsets().high_watermark;
            while offset < end {
                let chunk = partition.read(offset, LOAD_CHUNK).await.map_err(|source| {
                    TxnStoreError::Read {
                        partition: partition.partition(),
                        source,
                    }
                })?;
                let mut next = offset;
                for batch in BatchIter::new(chunk) {
                    next = batch.header.last_offset() + 1;
                    if batch.header.compression() != 0 || batch.header.is_control() {
                        continue;
                    }
                    let section = batch.bytes.slice(HEADER_SIZE..);
                    for record in
                        RecordIter::new(section, batch.header.records_count).map_while(Result::ok)
                    {
                        let Some(key) = record.key else { continue };
                        let id = match records::decode_key(&key) {
                            Ok(id) => id,
                            Err(error) => {
                                tracing::warn!(%error, "skipping an unreadable {TRANSACTION_STATE_TOPIC} key");
                                continue;
                            }
                        };
                        let value = match record.value {
                            None => None,
                            Some(value) => match records::decode_value(id.clone(), &value) {
                                Ok(meta) => Some(meta),
                                Err(error) => {
                                    tracing::warn!(%error, transactional_id = %id, "skipping an unreadable {TRANSACTION_STATE_TOPIC} value");
                                    continue;
                                }
                            },
                        };
                        latest.insert(id, value);
                    }
                }
                if next <= offset {
                    tracing::warn!(
                        partition = partition.partition(),
                        offset,
                        "{TRANSACTION_STATE_TOPIC} replay stopped early"
                    );
                    break;
                }
                offset = next;
            }
        }
        Ok(latest.into_values().flatten().collect())
    }
}
