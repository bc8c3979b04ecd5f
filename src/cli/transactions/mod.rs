//! `weir transactions`: list, describe and abort transactions, describe the producers
//! a partition remembers, and find hanging transactions — in the manner of Kafka's
//! `kafka-transactions.sh`.
//!
//! librdkafka has no API for these RPCs, so the commands speak the protocol through
//! [`crate::cli::wire`]; they work against Weir and any Kafka broker that serves them
//! (Kafka 3.0 or later).

mod abort;
mod coordinator;
mod describe;
mod hanging;
mod list;
mod output;
mod partitions;
mod producers;

use std::future::Future;
use std::time::Duration;

use super::wire::Cluster;

/// Flags of `weir transactions`.
#[derive(Debug, clap::Args)]
pub(crate) struct TransactionsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Print one JSON document instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: TransactionsCommand,
}

/// Where the cluster is and how long to wait for it.
#[derive(Debug, Clone, clap::Args)]
struct ConnectionArgs {
    /// Bootstrap broker(s), `host:port[,host:port...]`.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "WEIR_BOOTSTRAP",
        default_value = "localhost:9092",
        global = true
    )]
    bootstrap_server: String,
    /// How long to wait for a connection or for each response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000, global = true)]
    request_timeout_ms: u64,
}

#[derive(Debug, clap::Subcommand)]
enum TransactionsCommand {
    /// List the transactional ids every broker coordinates, with their state.
    List(list::ListArgs),
    /// Describe one transactional id as its coordinator sees it.
    Describe(describe::DescribeArgs),
    /// Show the producers a partition remembers and their open transactions.
    DescribeProducers(producers::DescribeProducersArgs),
    /// Abort a partition's open (hanging) transaction by writing an ABORT marker.
    Abort(abort::AbortArgs),
    /// Find open transactions on partitions that their coordinator no longer expects
    /// to complete.
    FindHanging(hanging::FindHangingArgs),
}

/// Runs a `weir transactions` subcommand.
pub(crate) fn run(args: TransactionsArgs) -> anyhow::Result<()> {
    let json = args.json;
    let connection = args.connection;
    match args.command {
        TransactionsCommand::List(list) => with_cluster(&connection, |c| list::run(c, list, json)),
        TransactionsCommand::Describe(describe) => {
            with_cluster(&connection, |c| describe::run(c, describe, json))
        }
        TransactionsCommand::DescribeProducers(producers) => {
            with_cluster(&connection, |c| producers::run(c, producers, json))
        }
        TransactionsCommand::Abort(abort) => {
            with_cluster(&connection, |c| abort::run(c, abort, json))
        }
        TransactionsCommand::FindHanging(hanging) => {
            with_cluster(&connection, |c| hanging::run(c, hanging, json))
        }
    }
}

/// Connects to the cluster and runs `command` on a single-threaded runtime: the
/// commands send one request at a time, so one thread is all they use.
fn with_cluster<F, Fut>(connection: &ConnectionArgs, command: F) -> anyhow::Result<()>
where
    F: FnOnce(Cluster) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))?;
    let timeout = Duration::from_millis(connection.request_timeout_ms.max(1));
    runtime.block_on(async {
        let cluster = Cluster::connect(&connection.bootstrap_server, timeout).await?;
        command(cluster).await
    })
}

/// Milliseconds since the Unix epoch, the clock broker timestamps use.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
