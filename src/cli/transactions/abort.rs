//! `weir transactions abort`: end a partition's open transaction with an ABORT
//! marker, as the coordinator would have (WriteTxnMarkers to the partition leader).
//!
//! For a hanging transaction, one its coordinator will never finish: records after
//! its first offset stay invisible to read_committed consumers until it is aborted.

use anyhow::bail;
use serde::Serialize;
use weir_core::protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use weir_core::protocol::messages::WriteTxnMarkersRequest;

use super::output;
use super::partitions::{leader_of, placement, TopicPartition};
use super::producers::describe_producers;
use crate::cli::wire::{kafka_error, Cluster};

/// Flags of `weir transactions abort`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("which")
        .required(true)
        .args(["start_offset", "producer_id"])
))]
pub(super) struct AbortArgs {
    /// Topic name.
    #[arg(long)]
    topic: String,
    /// Partition number.
    #[arg(long)]
    partition: i32,
    /// The first offset of the transaction to abort (as `describe-producers` and
    /// `find-hanging` show it); the producer is looked up on the partition.
    #[arg(long, value_name = "OFFSET")]
    start_offset: Option<i64>,
    /// The producer id of the transaction (instead of --start-offset).
    #[arg(long, value_name = "ID", requires_all = ["producer_epoch", "coordinator_epoch"])]
    producer_id: Option<i64>,
    /// The producer epoch of the transaction.
    #[arg(long, value_name = "EPOCH", requires = "producer_id")]
    producer_epoch: Option<i16>,
    /// The coordinator epoch of the marker (negative means 0, as Kafka's tool does).
    #[arg(
        long,
        value_name = "EPOCH",
        requires = "producer_id",
        allow_negative_numbers = true
    )]
    coordinator_epoch: Option<i32>,
}

/// The marker to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct AbortSpec {
    #[serde(flatten)]
    pub(super) partition: TopicPartition,
    pub(super) producer_id: i64,
    pub(super) producer_epoch: i16,
    pub(super) coordinator_epoch: i32,
    /// The first offset of the aborted transaction, when it was found by offset.
    pub(super) start_offset: Option<i64>,
}

pub(super) async fn run(mut cluster: Cluster, args: AbortArgs, json: bool) -> anyhow::Result<()> {
    let partition = TopicPartition {
        topic: args.topic,
        partition: args.partition,
    };
    let placement = placement(&mut cluster, &partition).await?;
    let leader = leader_of(&placement)?;
    let spec = match (args.start_offset, args.producer_id) {
        (Some(offset), _) => find_by_start_offset(&mut cluster, leader, partition, offset).await?,
        (None, Some(producer_id)) => AbortSpec {
            partition,
            producer_id,
            producer_epoch: args.producer_epoch.expect("clap requires it"),
            // A producer that never had a marker written shows -1; 0 is at most any
            // coordinator epoch, so the marker is accepted (as Kafka's tool reasons).
            coordinator_epoch: args.coordinator_epoch.expect("clap requires it").max(0),
            start_offset: None,
        },
        (None, None) => unreachable!("clap requires --start-offset or --producer-id"),
    };
    write_abort_marker(&mut cluster, leader, &spec).await?;
    if json {
        output::print_json(&spec);
    } else {
        let start = spec
            .start_offset
            .map_or_else(String::new, |o| format!(", which started at offset {o}"));
        println!(
            "Aborted the transaction of producer {} (epoch {}, coordinator epoch {}) on {}{start}.",
            spec.producer_id, spec.producer_epoch, spec.coordinator_epoch, spec.partition
        );
    }
    Ok(())
}

/// The producer whose open transaction on `partition` starts at `offset`.
async fn find_by_start_offset(
    cluster: &mut Cluster,
    leader: i32,
    partition: TopicPartition,
    offset: i64,
) -> anyhow::Result<AbortSpec> {
    let mut described =
        describe_producers(cluster, leader, std::slice::from_ref(&partition)).await?;
    let producers = described.remove(&partition).unwrap_or_default();
    let Some(producer) = producers
        .iter()
        .find(|p| p.current_transaction_start_offset == Some(offset))
    else {
        let open: Vec<String> = producers
            .iter()
            .filter_map(|p| p.current_transaction_start_offset)
            .map(|o| o.to_string())
            .collect();
        let hint = if open.is_empty() {
            "the partition has no open transaction".to_owned()
        } else {
            format!("open transactions start at {}", open.join(", "))
        };
        bail!("no open transaction starts at offset {offset} on {partition}: {hint}");
    };
    let Ok(producer_epoch) = i16::try_from(producer.producer_epoch) else {
        bail!(
            "producer {} on {partition} has epoch {}, outside a marker's range",
            producer.producer_id,
            producer.producer_epoch
        );
    };
    Ok(AbortSpec {
        partition,
        producer_id: producer.producer_id,
        producer_epoch,
        coordinator_epoch: producer.coordinator_epoch.max(0),
        start_offset: Some(offset),
    })
}

/// WriteTxnMarkers with one ABORT marker for one partition, to its leader.
async fn write_abort_marker(
    cluster: &mut Cluster,
    leader: i32,
    spec: &AbortSpec,
) -> anyhow::Result<()> {
    let request = WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: spec.producer_id,
            producer_epoch: spec.producer_epoch,
            transaction_result: false,
            topics: vec![WritableTxnMarkerTopic {
                name: spec.partition.topic.clone(),
                partition_indexes: vec![spec.partition.partition],
                ..Default::default()
            }],
            coordinator_epoch: spec.coordinator_epoch,
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = cluster.broker(leader).await?.send(&request).await?;
    let code = response
        .markers
        .iter()
        .filter(|m| m.producer_id == spec.producer_id)
        .flat_map(|m| &m.topics)
        .filter(|t| t.name == spec.partition.topic)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == spec.partition.partition)
        .map(|p| p.error_code);
    match code {
        Some(0) => Ok(()),
        Some(code) => bail!(
            "cannot abort the transaction of producer {} on {}: {}",
            spec.producer_id,
            spec.partition,
            kafka_error(code, None)
        ),
        None => bail!(
            "broker {leader} did not answer for {} in its WriteTxnMarkers response",
            spec.partition
        ),
    }
}
