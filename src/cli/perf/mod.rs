//! `weir perf`: producer and consumer benchmarks in the manner of Kafka's
//! `kafka-producer-perf-test` and `kafka-consumer-perf-test`. They print figures; they
//! assert nothing.

mod consume;
mod histogram;
mod produce;

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PerfCommand {
    /// Produce fixed-size records as fast as allowed and report throughput and latency.
    Produce(produce::PerfProduceArgs),
    /// Consume a topic from the beginning and report throughput.
    Consume(consume::PerfConsumeArgs),
}

/// Runs a `weir perf` subcommand.
pub(crate) fn run(command: PerfCommand) -> anyhow::Result<()> {
    match command {
        PerfCommand::Produce(args) => produce::run(args),
        PerfCommand::Consume(args) => consume::run(args),
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Records per second and MiB per second over `seconds`.
fn rates(records: u64, bytes: u64, seconds: f64) -> (f64, f64) {
    if seconds <= 0.0 {
        return (0.0, 0.0);
    }
    (records as f64 / seconds, bytes as f64 / MIB / seconds)
}
