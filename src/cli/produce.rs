//! `weir produce`: one record per stdin line, with optional key, headers and partition.

use std::io::{BufRead as _, ErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::util::Timeout;
use rdkafka::ClientContext;

use super::client::{describe_error, kafka_error, parse_key_value, Acks, ClientArgs, Compression};

/// Flags of `weir produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProduceArgs {
    /// Topic to produce to.
    topic: String,
    #[command(flatten)]
    client: ClientArgs,
    /// Split each line into key and value at the first occurrence of SEP.
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// A header added to every record, `key=value`; repeatable.
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    headers: Vec<(String, String)>,
    /// Partition to produce to (default: by key hash, or spread when there is no key).
    #[arg(long)]
    partition: Option<i32>,
    /// Acknowledgements the leader waits for.
    #[arg(long, value_enum, default_value = "all")]
    acks: Acks,
    /// Compression codec of record batches.
    #[arg(long, value_enum, default_value = "none")]
    compression: Compression,
}

/// Counts deliveries and keeps the first failure, written from librdkafka's poll thread.
#[derive(Debug, Default)]
struct DeliveryTracker {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((err, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert_with(|| describe_error(err));
            }
        }
    }
}

/// Runs `weir produce`.
pub(crate) fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let producer: ThreadedProducer<DeliveryTracker> = args
        .client
        .config_with(&[("delivery.timeout.ms", "30000"), ("linger.ms", "5")])
        .set("acks", args.acks.as_str())
        .set("compression.type", args.compression.as_str())
        .create_with_context(DeliveryTracker::default())
        .map_err(|err| kafka_error("cannot create the producer", &err))?;

    let mut headers = OwnedHeaders::new_with_capacity(args.headers.len());
    for (key, value) in &args.headers {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    let separator = args.key_separator.as_deref().map(str::as_bytes);

    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    let mut sent: u64 = 0;
    loop {
        line.clear();
        match stdin.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("cannot read stdin"),
        }
        let text = strip_newline(&line);
        let (key, value) = match separator {
            Some(sep) => match find(text, sep) {
                Some(at) => (Some(&text[..at]), &text[at + sep.len()..]),
                None => bail!(
                    "line {} has no key separator {:?}",
                    sent + 1,
                    args.key_separator.as_deref().unwrap_or_default()
                ),
            },
            None => (None, text),
        };
        let mut record = BaseRecord::<[u8], [u8]>::to(&args.topic).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        if !args.headers.is_empty() {
            record = record.headers(headers.clone());
        }
        send(&producer, record)?;
        sent += 1;
    }

    producer
        .flush(Timeout::Never)
        .map_err(|err| kafka_error("cannot flush", &err))?;
    let tracker = producer.context();
    let failed = tracker.failed.load(Ordering::Relaxed);
    let delivered = tracker.delivered.load(Ordering::Relaxed);
    if failed > 0 {
        let first = tracker
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        bail!(
            "{failed} of {sent} records were not delivered to {:?}: {first}",
            args.topic
        );
    }
    eprintln!("{delivered} records produced to {}", args.topic);
    Ok(())
}

/// Sends one record, waiting while librdkafka's queue is full.
fn send<'a>(
    producer: &ThreadedProducer<DeliveryTracker>,
    mut record: BaseRecord<'a, [u8], [u8]>,
) -> anyhow::Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((err, _)) => return Err(kafka_error("cannot send record", &err)),
        }
    }
}

fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_splits_at_first_occurrence() {
        assert_eq!(find(b"k::v::w", b"::"), Some(1));
        assert_eq!(find(b"kv", b"::"), None);
        assert_eq!(strip_newline(b"abc\r\n"), b"abc");
        assert_eq!(strip_newline(b"abc"), b"abc");
    }
}
