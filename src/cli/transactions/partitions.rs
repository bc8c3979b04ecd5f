//! Which partitions exist, who leads them and where their replicas are.

use anyhow::bail;
use serde::Serialize;

use crate::cli::wire::{kafka_error, Cluster};

/// A topic partition, named as Kafka names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(super) struct TopicPartition {
    pub(super) topic: String,
    pub(super) partition: i32,
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One partition's placement.
#[derive(Debug, Clone)]
pub(super) struct Placement {
    pub(super) partition: TopicPartition,
    /// The leader's node id, -1 while there is none.
    pub(super) leader: i32,
    pub(super) replicas: Vec<i32>,
}

/// The partitions of `topics`, or of every topic but the internal ones (as Kafka's
/// tools list topics) when `topics` is `None`. A topic that does not exist is an
/// error.
pub(super) async fn placements(
    cluster: &mut Cluster,
    topics: Option<&[String]>,
) -> anyhow::Result<Vec<Placement>> {
    let metadata = cluster.metadata(topics).await?;
    let mut placements = Vec::new();
    for topic in metadata.topics {
        let name = topic.name.unwrap_or_default();
        if topic.error_code != 0 {
            bail!(
                "cannot describe topic {name:?}: {}; `weir topics list` shows the topics",
                kafka_error(topic.error_code, None)
            );
        }
        if topics.is_none() && topic.is_internal {
            continue;
        }
        for p in topic.partitions {
            placements.push(Placement {
                partition: TopicPartition {
                    topic: name.clone(),
                    partition: p.partition_index,
                },
                leader: p.leader_id,
                replicas: p.replica_nodes,
            });
        }
    }
    placements.sort_by(|a, b| a.partition.cmp(&b.partition));
    Ok(placements)
}

/// The placement of one partition; an error names the partitions there are.
pub(super) async fn placement(
    cluster: &mut Cluster,
    partition: &TopicPartition,
) -> anyhow::Result<Placement> {
    let all = placements(cluster, Some(std::slice::from_ref(&partition.topic))).await?;
    let count = all.len();
    match all.into_iter().find(|p| p.partition == *partition) {
        Some(found) => Ok(found),
        None => bail!(
            "topic {:?} has no partition {} (it has {count}: 0 to {})",
            partition.topic,
            partition.partition,
            count as i64 - 1
        ),
    }
}

/// The leader of a partition, or an error saying it has none right now.
pub(super) fn leader_of(placement: &Placement) -> anyhow::Result<i32> {
    if placement.leader < 0 {
        bail!(
            "partition {} has no leader right now (LEADER_NOT_AVAILABLE); try again shortly",
            placement.partition
        );
    }
    Ok(placement.leader)
}
