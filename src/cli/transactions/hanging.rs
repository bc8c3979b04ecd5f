//! `weir transactions find-hanging`: open transactions on partitions that their
//! coordinator will never finish.
//!
//! A transaction hangs when a partition holds it open (its records, and everything
//! after them, invisible to read_committed consumers) while the coordinator has
//! forgotten it: the producer id maps to no transactional id any more, the id is
//! unknown, or its current transaction does not include the partition. As in Kafka's
//! tool, only transactions open longer than the longest transaction timeout are
//! checked, since a younger one may still be completed normally.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::bail;
use serde::Serialize;
use weir_core::protocol::messages::describe_transactions_response::TransactionState;

use super::coordinator::{describe_transactions, list_transactions, ListFilters};
use super::output::{self, Table};
use super::partitions::{placements, Placement, TopicPartition};
use super::producers::{describe_producers, ActiveProducer};
use crate::cli::wire::Cluster;

/// Flags of `weir transactions find-hanging`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("scope")
        .required(true)
        .multiple(true)
        .args(["broker_id", "topic"])
))]
pub(super) struct FindHangingArgs {
    /// Search the partitions this broker holds a replica of, asking it directly.
    #[arg(long, value_name = "ID")]
    broker_id: Option<i32>,
    /// Search this topic's partitions.
    #[arg(long)]
    topic: Option<String>,
    /// Search only this partition of --topic.
    #[arg(long, requires = "topic")]
    partition: Option<i32>,
    /// The longest transaction timeout in the cluster, in minutes: transactions open
    /// for less time than this are not suspected.
    #[arg(long, value_name = "MINUTES", default_value_t = 15)]
    max_transaction_timeout: u32,
}

/// An open transaction on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenTransaction {
    partition: TopicPartition,
    producer: ActiveProducer,
}

#[derive(Debug, Serialize)]
struct HangingTransaction {
    topic: String,
    partition: i32,
    producer_id: i64,
    producer_epoch: i32,
    coordinator_epoch: i32,
    start_offset: i64,
    last_timestamp: i64,
    duration_minutes: i64,
}

pub(super) async fn run(
    mut cluster: Cluster,
    args: FindHangingArgs,
    json: bool,
) -> anyhow::Result<()> {
    let searched = partitions_to_search(&mut cluster, &args).await?;
    let mut described = BTreeMap::new();
    for (broker, partitions) in by_broker(&searched, args.broker_id)? {
        described.extend(describe_producers(&mut cluster, broker, &partitions).await?);
    }
    let now = super::now_ms();
    let max_timeout_ms = i64::from(args.max_transaction_timeout) * 60_000;
    let candidates = candidates(&described, now, max_timeout_ms);
    let hanging = if candidates.is_empty() {
        Vec::new()
    } else {
        let producer_ids: BTreeSet<i64> =
            candidates.iter().map(|t| t.producer.producer_id).collect();
        let filters = ListFilters {
            producer_ids: producer_ids.iter().copied().collect(),
            ..Default::default()
        };
        let transactional_ids: HashMap<i64, String> = list_transactions(&mut cluster, &filters)
            .await?
            .into_iter()
            // A coordinator that ignores the filter must not confuse the result.
            .filter(|(_, t)| producer_ids.contains(&t.producer_id))
            .map(|(_, t)| (t.producer_id, t.transactional_id))
            .collect();
        let ids: Vec<String> = transactional_ids.values().cloned().collect();
        let descriptions = describe_transactions(&mut cluster, &ids)
            .await?
            .into_iter()
            .map(|(id, found)| (id, found.map(|(_, state)| state)))
            .collect();
        hanging_transactions(candidates, &transactional_ids, &descriptions)
    };
    let rows: Vec<HangingTransaction> = hanging
        .into_iter()
        .map(|t| HangingTransaction {
            topic: t.partition.topic,
            partition: t.partition.partition,
            producer_id: t.producer.producer_id,
            producer_epoch: t.producer.producer_epoch,
            coordinator_epoch: t.producer.coordinator_epoch,
            start_offset: t.producer.current_transaction_start_offset.unwrap_or(-1),
            last_timestamp: t.producer.last_timestamp,
            duration_minutes: now.saturating_sub(t.producer.last_timestamp).max(0) / 60_000,
        })
        .collect();
    output::print(json, &rows, |rows| {
        let mut table = Table::new(&[
            "Topic",
            "Partition",
            "ProducerId",
            "ProducerEpoch",
            "CoordinatorEpoch",
            "StartOffset",
            "LastTimestamp",
            "Duration(min)",
        ]);
        for r in rows {
            table.row(vec![
                r.topic.clone(),
                r.partition.to_string(),
                r.producer_id.to_string(),
                r.producer_epoch.to_string(),
                r.coordinator_epoch.to_string(),
                r.start_offset.to_string(),
                r.last_timestamp.to_string(),
                r.duration_minutes.to_string(),
            ]);
        }
        table
    });
    Ok(())
}

/// The partitions in scope: one partition, a topic's, or every non-internal topic's;
/// with --broker-id, only those the broker holds a replica of.
async fn partitions_to_search(
    cluster: &mut Cluster,
    args: &FindHangingArgs,
) -> anyhow::Result<Vec<Placement>> {
    let topics = args.topic.clone().map(|t| vec![t]);
    let mut found = placements(cluster, topics.as_deref()).await?;
    if let (Some(topic), Some(partition)) = (&args.topic, args.partition) {
        found.retain(|p| p.partition.partition == partition);
        if found.is_empty() {
            bail!("topic {topic:?} has no partition {partition}");
        }
        return Ok(found);
    }
    if let Some(broker) = args.broker_id {
        if !cluster.broker_ids().contains(&broker) {
            bail!(
                "broker {broker} is not in the cluster's metadata (brokers: {:?})",
                cluster.broker_ids()
            );
        }
        found.retain(|p| p.replicas.contains(&broker));
    }
    Ok(found)
}

/// Which broker to ask about which partitions: the given broker for all of them, or
/// each partition's leader.
fn by_broker(
    placements: &[Placement],
    broker: Option<i32>,
) -> anyhow::Result<BTreeMap<i32, Vec<TopicPartition>>> {
    let mut by_broker: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    for placement in placements {
        let asked = match broker {
            Some(broker) => broker,
            None => super::partitions::leader_of(placement)?,
        };
        by_broker
            .entry(asked)
            .or_default()
            .push(placement.partition.clone());
    }
    Ok(by_broker)
}

/// Open transactions whose producer last wrote to the partition more than
/// `max_timeout_ms` ago.
fn candidates(
    described: &BTreeMap<TopicPartition, Vec<ActiveProducer>>,
    now_ms: i64,
    max_timeout_ms: i64,
) -> Vec<OpenTransaction> {
    described
        .iter()
        .flat_map(|(partition, producers)| {
            producers
                .iter()
                .filter(move |p| {
                    p.current_transaction_start_offset.is_some()
                        && now_ms.saturating_sub(p.last_timestamp) > max_timeout_ms
                })
                .map(|p| OpenTransaction {
                    partition: partition.clone(),
                    producer: p.clone(),
                })
        })
        .collect()
}

/// The candidates the coordinators will not finish: no transactional id for the
/// producer id, an id the coordinator does not know, or a current transaction that
/// does not include the partition. (DescribeTransactions lists every partition of
/// an ongoing transaction, and those still waiting for markers while it prepares to
/// commit or abort, so a listed partition will still get its marker.)
fn hanging_transactions(
    candidates: Vec<OpenTransaction>,
    transactional_ids: &HashMap<i64, String>,
    descriptions: &BTreeMap<String, Option<TransactionState>>,
) -> Vec<OpenTransaction> {
    candidates
        .into_iter()
        .filter(|open| {
            let Some(id) = transactional_ids.get(&open.producer.producer_id) else {
                return true;
            };
            let Some(Some(description)) = descriptions.get(id) else {
                return true;
            };
            !description.topics.iter().any(|t| {
                t.topic == open.partition.topic && t.partitions.contains(&open.partition.partition)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use weir_core::protocol::messages::describe_producers_response::{
        PartitionResponse, ProducerState,
    };
    use weir_core::protocol::messages::describe_transactions_response::TopicData;
    use weir_core::protocol::messages::list_transactions_response::TransactionState as Listed;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const MINUTE: i64 = 60_000;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// Producers as a decoded DescribeProducers partition answer carries them.
    fn producers(states: &[(i64, i64, i64)]) -> Vec<ActiveProducer> {
        let response = PartitionResponse {
            active_producers: states
                .iter()
                .map(|&(producer_id, start, last_timestamp)| ProducerState {
                    producer_id,
                    producer_epoch: 3,
                    last_sequence: 9,
                    last_timestamp,
                    coordinator_epoch: -1,
                    current_txn_start_offset: start,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        response.active_producers.iter().map(Into::into).collect()
    }

    fn ongoing(id: &str, producer_id: i64, partitions: &[(&str, i32)]) -> TransactionState {
        let mut topics: Vec<TopicData> = Vec::new();
        for &(topic, partition) in partitions {
            topics.push(TopicData {
                topic: topic.into(),
                partitions: vec![partition],
                ..Default::default()
            });
        }
        TransactionState {
            transactional_id: id.into(),
            transaction_state: "Ongoing".into(),
            producer_id,
            topics,
            ..Default::default()
        }
    }

    #[test]
    fn only_open_transactions_older_than_the_timeout_are_candidates() {
        let described = BTreeMap::from([(
            tp("orders", 0),
            producers(&[
                (1, 10, NOW - 20 * MINUTE), // open, old
                (2, -1, NOW - 60 * MINUTE), // nothing open
                (3, 40, NOW - MINUTE),      // open, young
            ]),
        )]);
        let found = candidates(&described, NOW, 15 * MINUTE);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].producer.producer_id, 1);
        assert_eq!(found[0].producer.current_transaction_start_offset, Some(10));
        // With no timeout every open transaction is a candidate.
        assert_eq!(candidates(&described, NOW, 0).len(), 2);
    }

    #[test]
    fn a_transaction_hangs_unless_its_coordinator_expects_the_partition() {
        let old = NOW - 30 * MINUTE;
        let described = BTreeMap::from([
            (tp("orders", 0), producers(&[(1, 5, old), (2, 7, old)])),
            (
                tp("orders", 1),
                producers(&[(1, 3, old), (3, 0, old), (4, 2, old)]),
            ),
        ]);
        let open = candidates(&described, NOW, 15 * MINUTE);
        assert_eq!(open.len(), 5);
        // What ListTransactions (filtered by these producer ids) answered: producer 2
        // maps to no transactional id.
        let listed = [
            Listed {
                transactional_id: "app-1".into(),
                producer_id: 1,
                transaction_state: "Ongoing".into(),
                ..Default::default()
            },
            Listed {
                transactional_id: "app-3".into(),
                producer_id: 3,
                transaction_state: "CompleteCommit".into(),
                ..Default::default()
            },
            Listed {
                transactional_id: "app-4".into(),
                producer_id: 4,
                transaction_state: "Ongoing".into(),
                ..Default::default()
            },
        ];
        let ids: HashMap<i64, String> = listed
            .iter()
            .map(|l| (l.producer_id, l.transactional_id.clone()))
            .collect();
        let descriptions = BTreeMap::from([
            // app-1's transaction holds orders-0 only: its orders-1 entry hangs.
            (
                "app-1".to_owned(),
                Some(ongoing("app-1", 1, &[("orders", 0)])),
            ),
            // app-3 finished: nothing of it should be open anywhere.
            (
                "app-3".to_owned(),
                Some(TransactionState {
                    transaction_state: "CompleteCommit".into(),
                    ..ongoing("app-3", 3, &[])
                }),
            ),
            // app-4's coordinator no longer knows the id.
            ("app-4".to_owned(), None),
        ]);
        let hanging: Vec<(TopicPartition, i64)> = hanging_transactions(open, &ids, &descriptions)
            .into_iter()
            .map(|t| (t.partition, t.producer.producer_id))
            .collect();
        assert_eq!(
            hanging,
            vec![
                (tp("orders", 0), 2),
                (tp("orders", 1), 1),
                (tp("orders", 1), 3),
                (tp("orders", 1), 4),
            ]
        );
    }

    #[test]
    fn ongoing_transactions_that_include_the_partition_do_not_hang() {
        let described =
            BTreeMap::from([(tp("orders", 2), producers(&[(8, 100, NOW - 16 * MINUTE)]))]);
        let open = candidates(&described, NOW, 15 * MINUTE);
        let ids = HashMap::from([(8, "app-8".to_owned())]);
        let descriptions = BTreeMap::from([(
            "app-8".to_owned(),
            Some(ongoing("app-8", 8, &[("orders", 1), ("orders", 2)])),
        )]);
        assert!(hanging_transactions(open, &ids, &descriptions).is_empty());
    }

    #[test]
    fn partitions_are_asked_of_their_leader_or_of_the_given_broker() {
        let placed = |topic: &str, partition, leader| Placement {
            partition: tp(topic, partition),
            leader,
            replicas: vec![1, 2],
        };
        let all = [placed("a", 0, 1), placed("a", 1, 2), placed("b", 0, 1)];
        let by_leader = by_broker(&all, None).unwrap();
        assert_eq!(by_leader[&1], vec![tp("a", 0), tp("b", 0)]);
        assert_eq!(by_leader[&2], vec![tp("a", 1)]);
        let given = by_broker(&all, Some(2)).unwrap();
        assert_eq!(given.len(), 1);
        assert_eq!(given[&2].len(), 3);
        assert!(by_broker(&[placed("c", 0, -1)], None).is_err());
    }
}
