//! `weir perf consume`: read a topic from the beginning of every partition, without a
//! consumer group, and report throughput and the time to the first record.

use std::time::{Duration, Instant};

use anyhow::bail;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use super::rates;
use crate::cli::client::{describe_code, kafka_error, ClientArgs};

const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Flags of `weir perf consume`.
#[derive(Debug, clap::Args)]
pub(crate) struct PerfConsumeArgs {
    /// Topic to consume.
    #[arg(long)]
    topic: String,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    num_records: u64,
    /// Give up when no record arrived for this long.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    #[command(flatten)]
    client: ClientArgs,
}

/// Runs `weir perf consume`.
pub(crate) fn run(args: PerfConsumeArgs) -> anyhow::Result<()> {
    let consumer: BaseConsumer = args
        .client
        .groupless_consumer_config(&[
            ("fetch.max.bytes", "52428800"),
            ("receive.message.max.bytes", "104857600"),
            ("queued.min.messages", "1000000"),
            ("queued.max.messages.kbytes", "1048576"),
            ("fetch.wait.max.ms", "100"),
        ])
        .create()
        .map_err(|err| kafka_error("cannot create the consumer", &err))?;

    let metadata = consumer
        .fetch_metadata(Some(&args.topic), Duration::from_secs(30))
        .map_err(|err| kafka_error("cannot fetch metadata", &err))?;
    let Some(topic) = metadata.topics().iter().find(|t| t.name() == args.topic) else {
        bail!("topic {:?} not found", args.topic);
    };
    if let Some(code) = topic.error() {
        bail!("topic {:?}: {}", args.topic, describe_code(code.into()));
    }
    let mut assignment = TopicPartitionList::new();
    for p in topic.partitions() {
        assignment
            .add_partition_offset(&args.topic, p.id(), Offset::Beginning)
            .map_err(|err| kafka_error("bad partition", &err))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|err| kafka_error("cannot assign partitions", &err))?;

    let start = Instant::now();
    let idle_limit = Duration::from_millis(args.timeout_ms);
    let mut first_record: Option<Duration> = None;
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    let mut window = (Instant::now(), 0u64, 0u64);
    while records < args.num_records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                first_record.get_or_insert_with(|| start.elapsed());
                records += 1;
                bytes += (message.payload_len() + message.key().map_or(0, <[u8]>::len)) as u64;
                last_record = Instant::now();
            }
            Some(Err(err)) => return Err(kafka_error("cannot consume", &err)),
            None if last_record.elapsed() >= idle_limit => break,
            None => {}
        }
        if window.0.elapsed() >= PROGRESS_EVERY {
            let (at, r, b) = window;
            let (recs, mib) = rates(records - r, bytes - b, at.elapsed().as_secs_f64());
            eprintln!("{records} records consumed, {recs:.1} records/sec ({mib:.2} MB/sec) in the last window.");
            window = (Instant::now(), records, bytes);
        }
    }

    let elapsed = start.elapsed();
    let (recs, mib) = rates(records, bytes, elapsed.as_secs_f64());
    let first = first_record.map_or_else(
        || "no".to_owned(),
        |d| format!("{:.1}", d.as_secs_f64() * 1000.0),
    );
    eprintln!(
        "{records} records consumed, {recs:.1} records/sec ({mib:.2} MB/sec), \
         {first} ms to first record, {:.2} s elapsed.",
        elapsed.as_secs_f64()
    );
    if records < args.num_records {
        bail!(
            "only {records} of {} records arrived before {} ms without a record",
            args.num_records,
            args.timeout_ms
        );
    }
    Ok(())
}
