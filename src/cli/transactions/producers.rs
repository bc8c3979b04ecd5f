//! `weir transactions describe-producers`, and DescribeProducers for the commands
//! that look for open transactions.

use std::collections::BTreeMap;

use anyhow::bail;
use serde::Serialize;
use weir_core::protocol::messages::describe_producers_request::TopicRequest;
use weir_core::protocol::messages::describe_producers_response::ProducerState;
use weir_core::protocol::messages::DescribeProducersRequest;

use super::output::{self, or_none, Table};
use super::partitions::{leader_of, placement, TopicPartition};
use crate::cli::wire::{kafka_error, Cluster};

/// At most this many partitions go into one DescribeProducers request (as Kafka's
/// tool batches them), so no response grows without bound.
pub(super) const MAX_BATCH: usize = 500;

/// Flags of `weir transactions describe-producers`.
#[derive(Debug, clap::Args)]
pub(super) struct DescribeProducersArgs {
    /// Topic name.
    #[arg(long)]
    topic: String,
    /// Partition number.
    #[arg(long)]
    partition: i32,
    /// Ask this replica instead of the partition's leader.
    #[arg(long, value_name = "ID")]
    broker_id: Option<i32>,
}

/// A producer as a partition remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ActiveProducer {
    pub(super) producer_id: i64,
    pub(super) producer_epoch: i32,
    /// The coordinator epoch of the last marker written for it, -1 if none yet.
    pub(super) coordinator_epoch: i32,
    pub(super) last_sequence: i32,
    pub(super) last_timestamp: i64,
    /// The first offset of its open transaction on this partition, if one is open.
    pub(super) current_transaction_start_offset: Option<i64>,
}

impl From<&ProducerState> for ActiveProducer {
    fn from(p: &ProducerState) -> ActiveProducer {
        ActiveProducer {
            producer_id: p.producer_id,
            producer_epoch: p.producer_epoch,
            coordinator_epoch: p.coordinator_epoch,
            last_sequence: p.last_sequence,
            last_timestamp: p.last_timestamp,
            current_transaction_start_offset: (p.current_txn_start_offset >= 0)
                .then_some(p.current_txn_start_offset),
        }
    }
}

#[derive(Debug, Serialize)]
struct Described {
    topic: String,
    partition: i32,
    broker: i32,
    producers: Vec<ActiveProducer>,
}

pub(super) async fn run(
    mut cluster: Cluster,
    args: DescribeProducersArgs,
    json: bool,
) -> anyhow::Result<()> {
    let partition = TopicPartition {
        topic: args.topic,
        partition: args.partition,
    };
    let placement = placement(&mut cluster, &partition).await?;
    let broker = match args.broker_id {
        Some(id) => id,
        None => leader_of(&placement)?,
    };
    let mut described =
        describe_producers(&mut cluster, broker, std::slice::from_ref(&partition)).await?;
    let producers = described.remove(&partition).unwrap_or_default();
    let described = Described {
        topic: partition.topic,
        partition: partition.partition,
        broker,
        producers,
    };
    output::print(json, &described, |d| {
        let mut table = Table::new(&[
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ]);
        for p in &d.producers {
            table.row(vec![
                p.producer_id.to_string(),
                p.producer_epoch.to_string(),
                p.coordinator_epoch.to_string(),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                or_none(p.current_transaction_start_offset),
            ]);
        }
        table
    });
    Ok(())
}

/// The producers of each of `partitions` as broker `broker` knows them. A partition
/// the broker answers with an error fails the whole call, naming the partition.
pub(super) async fn describe_producers(
    cluster: &mut Cluster,
    broker: i32,
    partitions: &[TopicPartition],
) -> anyhow::Result<BTreeMap<TopicPartition, Vec<ActiveProducer>>> {
    let connection = cluster.broker(broker).await?;
    let mut described = BTreeMap::new();
    for batch in partitions.chunks(MAX_BATCH) {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in batch {
            topics.entry(&tp.topic).or_default().push(tp.partition);
        }
        let request = DescribeProducersRequest {
            topics: topics
                .into_iter()
                .map(|(name, partition_indexes)| TopicRequest {
                    name: name.to_owned(),
                    partition_indexes,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let response = connection.send(&request).await?;
        for topic in response.topics {
            for p in topic.partitions {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: p.partition_index,
                };
                if p.error_code != 0 {
                    bail!(
                        "cannot describe the producers of {tp} on broker {broker}: {}",
                        kafka_error(p.error_code, p.error_message.as_deref())
                    );
                }
                described.insert(tp, p.active_producers.iter().map(Into::into).collect());
            }
        }
    }
    Ok(described)
}
