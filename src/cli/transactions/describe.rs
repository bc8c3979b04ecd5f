//! `weir transactions describe`.

use anyhow::bail;
use serde::Serialize;

use super::coordinator::describe_transactions;
use super::output::{self, or_none, Table};
use super::partitions::TopicPartition;
use crate::cli::wire::Cluster;

/// Flags of `weir transactions describe`.
#[derive(Debug, clap::Args)]
pub(super) struct DescribeArgs {
    /// The transactional id to describe.
    #[arg(long)]
    transactional_id: String,
}

#[derive(Debug, Serialize)]
struct DescribedTransaction {
    coordinator_id: i32,
    transactional_id: String,
    producer_id: i64,
    producer_epoch: i16,
    state: String,
    timeout_ms: i32,
    /// When the open transaction started; `None` when none is open.
    start_time_ms: Option<i64>,
    duration_ms: Option<i64>,
    topic_partitions: Vec<TopicPartition>,
}

pub(super) async fn run(
    mut cluster: Cluster,
    args: DescribeArgs,
    json: bool,
) -> anyhow::Result<()> {
    let id = args.transactional_id;
    let mut described = describe_transactions(&mut cluster, std::slice::from_ref(&id)).await?;
    let Some((coordinator_id, state)) = described.remove(&id).flatten() else {
        bail!(
            "transactional id {id:?} is not known to its coordinator \
             (TRANSACTIONAL_ID_NOT_FOUND); `weir transactions list` shows the known ids"
        );
    };
    let start = (state.transaction_start_time_ms >= 0).then_some(state.transaction_start_time_ms);
    let now = super::now_ms();
    let described = DescribedTransaction {
        coordinator_id,
        transactional_id: state.transactional_id,
        producer_id: state.producer_id,
        producer_epoch: state.producer_epoch,
        state: state.transaction_state,
        timeout_ms: state.transaction_timeout_ms,
        start_time_ms: start,
        duration_ms: start.map(|start| now.saturating_sub(start).max(0)),
        topic_partitions: state
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|&partition| TopicPartition {
                    topic: t.topic.clone(),
                    partition,
                })
            })
            .collect(),
    };
    output::print(json, &described, |d| {
        let mut table = Table::new(&[
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ]);
        let partitions: Vec<String> = d.topic_partitions.iter().map(|tp| tp.to_string()).collect();
        table.row(vec![
            d.coordinator_id.to_string(),
            d.transactional_id.clone(),
            d.producer_id.to_string(),
            d.producer_epoch.to_string(),
            d.state.clone(),
            d.timeout_ms.to_string(),
            or_none(d.start_time_ms),
            or_none(d.duration_ms),
            partitions.join(","),
        ]);
        table
    });
    Ok(())
}
