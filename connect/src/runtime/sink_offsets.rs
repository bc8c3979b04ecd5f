//! A sink connector's offsets: the commits of its consumer group `connect-<name>`,
//! read and changed through the group coordinator as any Kafka tool would.

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

use crate::herder::PartitionOffset;
use crate::ConnectError;

use super::sink_task::group_id;
use super::RuntimeSettings;
use crate::kafka::{blocking, client_config, kafka_error, REQUEST_TIMEOUT};

fn group_consumer(
    settings: &RuntimeSettings,
    connector: &str,
) -> Result<BaseConsumer, ConnectError> {
    client_config(settings)
        .set("group.id", group_id(connector))
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|err| kafka_error("cannot create a consumer for the sink's group", err))
}

/// The committed offset of every partition the group has one for.
pub(crate) async fn read(
    settings: &RuntimeSettings,
    connector: &str,
) -> Result<Vec<PartitionOffset>, ConnectError> {
    let settings = settings.clone();
    let connector = connector.to_string();
    blocking(move || {
        let consumer = group_consumer(&settings, &connector)?;
        let metadata = consumer
            .fetch_metadata(None, REQUEST_TIMEOUT)
            .map_err(|err| kafka_error("cannot read the cluster's topics", err))?;
        let mut partitions = TopicPartitionList::new();
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                partitions.add_partition(topic.name(), partition.id());
            }
        }
        let committed = consumer
            .committed_offsets(partitions, REQUEST_TIMEOUT)
            .map_err(|err| kafka_error(format!("cannot read the offsets of group {}", group_id(&connector)), err))?;
        let mut offsets = Vec::new();
        for element in committed.elements() {
            if let Offset::Offset(offset) = element.offset() {
                offsets.push(PartitionOffset {
                    partition: json!({"kafka_topic": element.topic(), "kafka_partition": element.partition()}),
                    offset: json!({"kafka_offset": offset}),
                });
            }
        }
        Ok(offsets)
    })
    .await?
}

/// Commits the given offsets for the group (which must have no active members). A
/// null offset is not supported by the commit API; it resets the partition to the
/// start of the log instead, which is what a consumer with no commit would read.
pub(crate) async fn alter(
    settings: &RuntimeSettings,
    connector: &str,
    offsets: &[PartitionOffset],
) -> Result<(), ConnectError> {
    let mut list = TopicPartitionList::new();
    for entry in offsets {
        let topic = entry.partition.get("kafka_topic").and_then(Value::as_str);
        let partition = entry
            .partition
            .get("kafka_partition")
            .and_then(Value::as_i64);
        let (Some(topic), Some(partition)) = (topic, partition) else {
            return Err(ConnectError::user(format!(
                "a sink offset's partition must be {{\"kafka_topic\": string, \"kafka_partition\": int}}, got {}",
                entry.partition
            )));
        };
        let offset = match &entry.offset {
            Value::Null => Offset::Beginning,
            value => match value.get("kafka_offset").and_then(Value::as_i64) {
                Some(offset) if offset >= 0 => Offset::Offset(offset),
                _ => {
                    return Err(ConnectError::user(format!(
                        "a sink offset must be {{\"kafka_offset\": non-negative int}} or null, got {value}"
                    )))
                }
            },
        };
        let partition = i32::try_from(partition).map_err(|_| {
            ConnectError::user(format!("kafka_partition {partition} is out of range"))
        })?;
        list.add_partition_offset(topic, partition, offset)
            .map_err(|err| kafka_error("cannot build the offsets list", err))?;
    }
    let settings = settings.clone();
    let connector = connector.to_string();
    blocking(move || {
        let consumer = group_consumer(&settings, &connector)?;
        consumer.commit(&list, CommitMode::Sync).map_err(|err| {
            kafka_error(
                format!("cannot commit offsets for group {}", group_id(&connector)),
                err,
            )
        })
    })
    .await?
}

/// Deletes the group, so the connector starts from the beginning of its topics.
pub(crate) async fn reset(settings: &RuntimeSettings, connector: &str) -> Result<(), ConnectError> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings)
        .create()
        .map_err(|err| kafka_error("cannot create an admin client", err))?;
    let group = group_id(connector);
    let options = AdminOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .operation_timeout(Some(REQUEST_TIMEOUT));
    let results = admin
        .delete_groups(&[&group], &options)
        .await
        .map_err(|err| kafka_error(format!("cannot delete group {group}"), err))?;
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound)) => {}
            Err((_, code)) => {
                return Err(ConnectError::external(format!(
                    "cannot delete group {group}: {code}"
                )))
            }
        }
    }
    Ok(())
}
