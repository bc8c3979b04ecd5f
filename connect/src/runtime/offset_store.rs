//! Source offsets in a compacted topic, in Kafka Connect's format.
//!
//! Key: the JSON array `["<connector>", <source partition>]`; value: the source
//! offset as JSON, or null to forget the partition. A key always goes to the same
//! partition (the Java clients' murmur2 partitioner, as Kafka Connect's), so every
//! write for a key is ordered and the last one wins after compaction. Reads go to the
//! topic itself, every partition from the beginning to its end, rather than to a
//! cache: a task that moves to another worker must see the offsets its previous owner
//! wrote. Reads are read_committed, so offsets written in an aborted transaction
//! (exactly-once sources) are never seen.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::config::ConfigMap;
use crate::herder::PartitionOffset;
use crate::{ConnectError, SourceOffset, SourcePartition};

use super::RuntimeSettings;
use crate::kafka::{
    blocking, client_config, ensure_topics, kafka_error, producer_config, InternalTopic,
    ReadToEndContext, REQUEST_TIMEOUT,
};

#[derive(Clone)]
pub(crate) struct OffsetStore {
    settings: RuntimeSettings,
    producer: FutureProducer,
}

impl std::fmt::Debug for OffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetStore")
            .field("topic", &self.settings.offsets_topic)
            .finish()
    }
}

impl OffsetStore {
    /// Creates the offsets topic if it is missing.
    pub(crate) async fn open(settings: &RuntimeSettings) -> Result<OffsetStore, ConnectError> {
        let topic = InternalTopic {
            name: &settings.offsets_topic,
            partitions: settings.offsets_partitions,
            replication_factor: settings.offsets_replication_factor,
            compacted: true,
        };
        ensure_topics(settings, &[topic]).await?;
        // Offsets are a few small records written when a batch settles: send them at
        // once instead of lingering for more.
        let producer = producer_config(settings, &ConfigMap::new())
            .set("linger.ms", "0")
            .create()
            .map_err(|err| kafka_error("cannot create the offsets producer", err))?;
        Ok(OffsetStore {
            settings: settings.clone(),
            producer,
        })
    }

    /// Stores offsets for `connector`; returns once the log acknowledged all of them.
    /// A `Value::Null` offset forgets that partition.
    pub(crate) async fn write(
        &self,
        connector: &str,
        offsets: &[(SourcePartition, SourceOffset)],
    ) -> Result<(), ConnectError> {
        let topic = &self.settings.offsets_topic;
        for delivery in self.queue(&self.producer, connector, offsets)? {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => {
                    return Err(kafka_error(
                        format!("cannot store source offsets in {topic}"),
                        err,
                    ))
                }
                Err(_) => return Err(ConnectError::internal("the offsets producer went away")),
            }
        }
        Ok(())
    }

    /// Queues offsets for `connector` on `producer` without waiting: a transactional
    /// task's producer, whose commit makes them part of its transaction.
    pub(crate) fn queue(
        &self,
        producer: &FutureProducer,
        connector: &str,
        offsets: &[(SourcePartition, SourceOffset)],
    ) -> Result<Vec<DeliveryFuture>, ConnectError> {
        let topic = &self.settings.offsets_topic;
        let mut deliveries = Vec::with_capacity(offsets.len());
        for (partition, offset) in offsets {
            let key = serde_json::to_vec(&(connector, partition)).map_err(|err| {
                ConnectError::internal("cannot encode an offset key").with_source(err)
            })?;
            let value = if offset.is_null() {
                None
            } else {
                Some(serde_json::to_vec(offset).map_err(|err| {
                    ConnectError::internal("cannot encode an offset").with_source(err)
                })?)
            };
            let mut record = FutureRecord::<Vec<u8>, Vec<u8>>::to(topic).key(&key);
            if let Some(value) = &value {
                record = record.payload(value);
            }
            let delivery = producer.send_result(record).map_err(|(err, _)| {
                kafka_error(format!("cannot queue an offset for {topic}"), err)
            })?;
            deliveries.push(delivery);
        }
        Ok(deliveries)
    }

    /// Every stored offset of `connector`, by source partition.
    pub(crate) async fn read(
        &self,
        connector: &str,
    ) -> Result<Vec<(SourcePartition, SourceOffset)>, ConnectError> {
        let settings = self.settings.clone();
        let connector = connector.to_string();
        // librdkafka's consumer API blocks; reading a compacted topic to its end is a
        // bounded, short job.
        blocking(move || read_blocking(&settings, &connector)).await?
    }

    /// `read`, in the REST API's shape.
    pub(crate) async fn read_rest(
        &self,
        connector: &str,
    ) -> Result<Vec<PartitionOffset>, ConnectError> {
        Ok(self
            .read(connector)
            .await?
            .into_iter()
            .map(|(partition, offset)| PartitionOffset { partition, offset })
            .collect())
    }
}

fn read_blocking(
    settings: &RuntimeSettings,
    connector: &str,
) -> Result<Vec<(SourcePartition, SourceOffset)>, ConnectError> {
    let topic = &settings.offsets_topic;
    let group = format!("weir-connect-offsets-reader-{}", std::process::id());
    let consumer: BaseConsumer<ReadToEndContext> = client_config(settings)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create_with_context(ReadToEndContext)
        .map_err(|err| kafka_error("cannot create the offsets reader", err))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|err| kafka_error(format!("cannot read the partitions of {topic}"), err))?;
    let mut assignment = TopicPartitionList::new();
    let mut reading = BTreeSet::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .map_err(|err| kafka_error("cannot assign the offsets topic", err))?;
        reading.insert(partition.id());
    }
    // By canonical partition text, so a later write replaces an earlier one.
    let mut offsets: BTreeMap<String, (SourcePartition, SourceOffset)> = BTreeMap::new();
    if !reading.is_empty() {
        consumer
            .assign(&assignment)
            .map_err(|err| kafka_error("cannot assign the offsets topic", err))?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        // A partition is read once its end (read_committed: its last stable offset)
        // is reached, which librdkafka reports as a partition EOF.
        while !reading.is_empty() {
            if Instant::now() > deadline {
                return Err(ConnectError::external(format!(
                    "timed out reading {topic} (partitions {reading:?} not read to their end)"
                )));
            }
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = match message {
                Ok(message) => message,
                Err(KafkaError::PartitionEOF(partition)) => {
                    reading.remove(&partition);
                    continue;
                }
                Err(err) => return Err(kafka_error(format!("cannot read {topic}"), err)),
            };
            let Some(key) = message.key() else { continue };
            let Ok((name, partition)) = serde_json::from_slice::<(String, Value)>(key) else {
                tracing::warn!(
                    offset = message.offset(),
                    "skipping an offsets record whose key is not [connector, partition]"
                );
                continue;
            };
            if name != connector {
                continue;
            }
            let text = partition.to_string();
            match message.payload() {
                None => {
                    offsets.remove(&text);
                }
                Some(payload) => match serde_json::from_slice::<Value>(payload) {
                    Ok(offset) => {
                        offsets.insert(text, (partition, offset));
                    }
                    Err(err) => {
                        tracing::warn!(offset = message.offset(), %err, "skipping an offsets record that is not JSON")
                    }
                },
            }
        }
    }
    Ok(offsets.into_values().collect())
}
