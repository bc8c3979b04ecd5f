//! Reading a group's committed offsets and the partitions' end offsets.

use std::collections::BTreeMap;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::TIMEOUT;
use crate::cli::client::{kafka_error, ClientArgs};

/// One partition of a group's view: committed offset (if any) and log end offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartitionPosition {
    pub(super) committed: Option<i64>,
    pub(super) log_end: i64,
    pub(super) log_start: i64,
}

/// `(topic, partition)` → position, for every partition the group has committed to.
pub(super) type Positions = BTreeMap<(String, i32), PartitionPosition>;

/// A consumer bound to `group` that never joins it: it can read and commit the
/// group's offsets only while the group has no active members, as Kafka's tools do.
pub(super) fn group_consumer(client: &ClientArgs, group: &str) -> anyhow::Result<BaseConsumer> {
    client
        .config_with(&[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ])
        .create()
        .map_err(|err| kafka_error("cannot create the client", &err))
}

/// Every partition of `topics` (all topics when `None`).
pub(super) fn partitions_of(
    consumer: &BaseConsumer,
    topics: Option<&[String]>,
) -> anyhow::Result<Vec<(String, i32)>> {
    let metadata = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|err| kafka_error("cannot fetch metadata", &err))?;
    let mut partitions = Vec::new();
    for topic in metadata.topics() {
        let wanted = match topics {
            Some(topics) => topics.iter().any(|t| t == topic.name()),
            None => !topic.name().starts_with("__"),
        };
        if wanted {
            partitions.extend(
                topic
                    .partitions()
                    .iter()
                    .map(|p| (topic.name().to_owned(), p.id())),
            );
        }
    }
    Ok(partitions)
}

/// Committed offsets of `group` over `partitions`, with each partition's end offsets.
/// Partitions without a committed offset are left out unless `keep_uncommitted`.
pub(super) fn positions(
    consumer: &BaseConsumer,
    partitions: &[(String, i32)],
    keep_uncommitted: bool,
) -> anyhow::Result<Positions> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(list, TIMEOUT)
        .map_err(|err| kafka_error("cannot fetch committed offsets", &err))?;
    let mut positions = Positions::new();
    for element in committed.elements() {
        let committed = match element.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        };
        if committed.is_none() && !keep_uncommitted {
            continue;
        }
        let (log_start, log_end) = consumer
            .fetch_watermarks(element.topic(), element.partition(), TIMEOUT)
            .map_err(|err| kafka_error("cannot fetch end offsets", &err))?;
        positions.insert(
            (element.topic().to_owned(), element.partition()),
            PartitionPosition {
                committed,
                log_end,
                log_start,
            },
        );
    }
    Ok(positions)
}
