//! `weir consume`: print records to stdout, from explicit offsets (no consumer group)
//! or as a member of a group.

use std::collections::HashSet;
use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};

use super::client::{kafka_error, ClientArgs};

mod format;

use format::Template;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of `weir consume`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("start").args(["from_beginning", "offset", "from_end", "timestamp"])))]
pub(crate) struct ConsumeArgs {
    /// Topic to consume.
    topic: String,
    #[command(flatten)]
    client: ClientArgs,
    /// Start at the first record of each partition.
    #[arg(long)]
    from_beginning: bool,
    /// Start at this offset; negative counts back from the end.
    #[arg(long, allow_negative_numbers = true)]
    offset: Option<i64>,
    /// Start after the last record (the default).
    #[arg(long)]
    from_end: bool,
    /// Start at the first record whose timestamp is at or after MS (Unix milliseconds).
    #[arg(long, value_name = "MS")]
    timestamp: Option<i64>,
    /// Consume only this partition (default: all).
    #[arg(long)]
    partition: Option<i32>,
    /// Exit after this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<u64>,
    /// Exit when no record arrived for this long.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Exit when every partition has been read to its end.
    #[arg(short = 'e', long)]
    exit_at_end: bool,
    /// Output template: %k key, %v value, %p partition, %o offset, %T timestamp,
    /// %h headers, %t topic, %K/%S key/value length, %% a percent sign, \n \t \\ escapes.
    /// A newline follows each record.
    #[arg(long, default_value = "%v", conflicts_with = "json")]
    format: String,
    /// Print one JSON object per record.
    #[arg(long)]
    json: bool,
    /// Join this consumer group and subscribe instead of assigning partitions.
    #[arg(long, value_name = "ID", conflicts_with_all = ["offset", "timestamp", "partition"])]
    group: Option<String>,
}

/// Runs `weir consume`.
pub(crate) fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let template = if args.json {
        None
    } else {
        Some(Template::parse(&args.format)?)
    };
    let mut config = match &args.group {
        Some(group) => {
            let reset = if args.from_beginning {
                "earliest"
            } else {
                "latest"
            };
            args.client.config_with(&[
                ("group.id", group),
                ("auto.offset.reset", reset),
                ("enable.auto.commit", "true"),
            ])
        }
        None => args.client.groupless_consumer_config(&[]),
    };
    if args.exit_at_end {
        config.set("enable.partition.eof", "true");
    }
    let consumer: BaseConsumer = config
        .create()
        .map_err(|err| kafka_error("cannot create the consumer", &err))?;

    let mut remaining_eof: HashSet<i32> = HashSet::new();
    if args.group.is_some() {
        consumer
            .subscribe(&[&args.topic])
            .map_err(|err| kafka_error("cannot subscribe", &err))?;
    } else {
        let partitions = partitions(&consumer, &args.topic, args.partition)?;
        remaining_eof.extend(&partitions);
        let assignment = start_offsets(&consumer, &args, &partitions)?;
        consumer
            .assign(&assignment)
            .map_err(|err| kafka_error("cannot assign partitions", &err))?;
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count: u64 = 0;
    let mut last_record = Instant::now();
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut line = Vec::with_capacity(256);
    loop {
        if args.max_messages.is_some_and(|max| count >= max) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                line.clear();
                match &template {
                    Some(template) => template.render(&message, &mut line),
                    None => render_json(&message, &mut line)?,
                }
                line.push(b'\n');
                if !write_or_closed(&mut out, &line)? {
                    return Ok(());
                }
                count += 1;
                last_record = Instant::now();
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                remaining_eof.remove(&partition);
                if args.exit_at_end && args.group.is_none() && remaining_eof.is_empty() {
                    break;
                }
            }
            Some(Err(err)) => return Err(kafka_error("cannot consume", &err)),
            None => {
                if !flush_or_closed(&mut out)? {
                    return Ok(());
                }
                if idle_limit.is_some_and(|limit| last_record.elapsed() >= limit) {
                    break;
                }
            }
        }
    }
    flush_or_closed(&mut out)?;
    Ok(())
}

/// Writes, returning `false` when stdout was closed (e.g. piped into `head`).
fn write_or_closed(out: &mut impl Write, bytes: &[u8]) -> anyhow::Result<bool> {
    match out.write_all(bytes) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err).context("cannot write to stdout"),
    }
}

fn flush_or_closed(out: &mut impl Write) -> anyhow::Result<bool> {
    match out.flush() {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err).context("cannot write to stdout"),
    }
}

/// The partitions to read: the one asked for, or all of the topic's.
fn partitions(consumer: &BaseConsumer, topic: &str, only: Option<i32>) -> anyhow::Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|err| kafka_error("cannot fetch metadata", &err))?;
    let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else {
        bail!("topic {topic:?} not found");
    };
    if let Some(code) = meta.error() {
        bail!(
            "topic {topic:?}: {}",
            super::client::describe_code(code.into())
        );
    }
    let mut ids: Vec<i32> = meta.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        bail!("topic {topic:?} has no partitions");
    }
    match only {
        Some(p) if ids.contains(&p) => Ok(vec![p]),
        Some(p) => bail!(
            "topic {topic:?} has no partition {p} (it has {})",
            ids.len()
        ),
        None => Ok(ids),
    }
}

/// The assignment with each partition's starting offset.
fn start_offsets(
    consumer: &BaseConsumer,
    args: &ConsumeArgs,
    partitions: &[i32],
) -> anyhow::Result<TopicPartitionList> {
    let mut list = TopicPartitionList::new();
    if let Some(ms) = args.timestamp {
        let mut query = TopicPartitionList::new();
        for &p in partitions {
            query
                .add_partition_offset(&args.topic, p, Offset::Offset(ms))
                .map_err(|err| kafka_error("bad partition", &err))?;
        }
        let found = consumer
            .offsets_for_times(query, TIMEOUT)
            .map_err(|err| kafka_error("cannot look up offsets by timestamp", &err))?;
        for elem in found.elements() {
            if let Err(err) = elem.error() {
                return Err(kafka_error(
                    format!("cannot look up partition {}", elem.partition()),
                    &err,
                ));
            }
            // No record at or after the timestamp: start at the end.
            let offset = match elem.offset() {
                Offset::Offset(o) if o >= 0 => Offset::Offset(o),
                _ => Offset::End,
            };
            list.add_partition_offset(&args.topic, elem.partition(), offset)
                .map_err(|err| kafka_error("bad partition", &err))?;
        }
        return Ok(list);
    }
    let offset = match args.offset {
        _ if args.from_beginning => Offset::Beginning,
        Some(o) if o >= 0 => Offset::Offset(o),
        Some(o) => Offset::OffsetTail(o.unsigned_abs() as i64),
        None => Offset::End,
    };
    for &p in partitions {
        list.add_partition_offset(&args.topic, p, offset)
            .map_err(|err| kafka_error("bad partition", &err))?;
    }
    Ok(list)
}

fn render_json(message: &BorrowedMessage<'_>, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    let headers: Vec<serde_json::Value> = message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| serde_json::json!({ "key": h.key, "value": text(h.value) }))
                .collect()
        })
        .unwrap_or_default();
    let value = serde_json::json!({
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": message.timestamp().to_millis(),
        "key": text(message.key()),
        "value": text(message.payload()),
        "headers": headers,
    });
    serde_json::to_writer(out, &value).context("cannot encode JSON")
}
