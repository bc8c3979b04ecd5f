//! The `weir` command line: the broker and the Kafka client tools (topics, produce,
//! consume, groups, transactions, perf). Client commands use `rdkafka`, so they work
//! against Weir or any Kafka-compatible cluster; `transactions` speaks the protocol
//! itself (`wire`) for the admin RPCs librdkafka has no API for.

use clap::{Parser, Subcommand};

mod broker;
mod client;
mod connect;
mod consume;
mod groups;
mod perf;
mod produce;
mod topics;
mod transactions;
mod wire;

/// Weir: a Kafka-compatible event-streaming platform in one binary.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a broker.
    Broker(broker::BrokerArgs),
    /// Create, list, describe, alter and delete topics.
    Topics(topics::TopicsArgs),
    /// Produce records read from stdin, one per line.
    Produce(produce::ProduceArgs),
    /// Consume records and print them to stdout.
    Consume(consume::ConsumeArgs),
    /// Run Connect pipelines (YAML) or a Connect worker with Kafka Connect's REST API.
    Connect(connect::ConnectArgs),
    /// List, describe and delete consumer groups; reset their offsets.
    Groups(groups::GroupsArgs),
    /// List, describe and abort transactions; find hanging ones.
    Transactions(transactions::TransactionsArgs),
    /// Measure producer and consumer throughput and latency.
    #[command(subcommand)]
    Perf(perf::PerfCommand),
}

/// Runs the parsed command to completion.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Broker(args) => runtime()?.block_on(broker::run(args)),
        Command::Topics(args) => runtime()?.block_on(topics::run(args)),
        Command::Produce(args) => produce::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Groups(args) => groups::run(args),
        Command::Transactions(args) => transactions::run(args),
        Command::Connect(args) => runtime()?.block_on(connect::run(args)),
        Command::Perf(command) => perf::run(command),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))
}

/// Formats an error and its causes as one line: `outer: inner: root`.
///
/// Causes whose text the outer message already contains are skipped, so wrapped
/// errors that repeat their source are not printed twice.
pub(crate) fn error_chain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
