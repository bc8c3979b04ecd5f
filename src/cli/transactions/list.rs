//! `weir transactions list`.

use serde::Serialize;

use super::coordinator::{list_transactions, ListFilters};
use super::output::{self, Table};
use crate::cli::wire::Cluster;

/// Kafka's transaction states, as ListTransactions filters and reports them.
const STATES: [&str; 8] = [
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

/// Flags of `weir transactions list`.
#[derive(Debug, clap::Args)]
pub(super) struct ListArgs {
    /// Only transactions in this state; repeatable.
    #[arg(long = "state", value_name = "STATE", value_parser = clap::builder::PossibleValuesParser::new(STATES))]
    states: Vec<String>,
    /// Only transactions of this producer id; repeatable.
    #[arg(long = "producer-id", value_name = "ID")]
    producer_ids: Vec<i64>,
    /// Only transactions that have been open longer than this many milliseconds
    /// (needs ListTransactions v1: Weir, or Kafka 3.8 or later).
    #[arg(long, value_name = "MS")]
    duration_filter: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ListedTransaction {
    transactional_id: String,
    coordinator: i32,
    producer_id: i64,
    state: String,
}

pub(super) async fn run(mut cluster: Cluster, args: ListArgs, json: bool) -> anyhow::Result<()> {
    let filters = ListFilters {
        states: args.states,
        producer_ids: args.producer_ids,
        min_duration_ms: args.duration_filter,
    };
    let listed: Vec<ListedTransaction> = list_transactions(&mut cluster, &filters)
        .await?
        .into_iter()
        .map(|(coordinator, t)| ListedTransaction {
            transactional_id: t.transactional_id,
            coordinator,
            producer_id: t.producer_id,
            state: t.transaction_state,
        })
        .collect();
    output::print(json, &listed, |listed| {
        let mut table = Table::new(&[
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState",
        ]);
        for t in listed {
            table.row(vec![
                t.transactional_id.clone(),
                t.coordinator.to_string(),
                t.producer_id.to_string(),
                t.state.clone(),
            ]);
        }
        table
    });
    Ok(())
}
