//! `weir perf produce`: throughput and send-to-acknowledgement latency of a producer.
//!
//! One `BaseProducer` sends from this thread while a scoped thread polls it for
//! delivery reports; each report records its latency in a lock-free histogram. The
//! send time travels as the record's delivery opaque (a `usize` of microseconds since
//! the start), so nothing is allocated per record on our side.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::bail;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::util::Timeout;
use rdkafka::ClientContext;

use super::histogram::{Histogram, Snapshot};
use super::rates;
use crate::cli::client::{describe_error, kafka_error, Acks, ClientArgs, Compression};

const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Flags of `weir perf produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct PerfProduceArgs {
    /// Topic to produce to (it must exist, or the broker must auto-create it).
    #[arg(long)]
    topic: String,
    /// Number of records to send.
    #[arg(long, value_name = "N")]
    num_records: u64,
    /// Value size of each record in bytes (records have no key).
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    record_size: usize,
    /// Target records per second; -1 for no limit.
    #[arg(long, value_name = "RECS_PER_SEC", allow_negative_numbers = true, default_value_t = -1.0)]
    throughput: f64,
    /// Acknowledgements the leader waits for.
    #[arg(long, value_enum, default_value = "1")]
    acks: Acks,
    /// Compression codec of record batches.
    #[arg(long, value_enum, default_value = "none")]
    compression: Compression,
    #[command(flatten)]
    client: ClientArgs,
}

/// Delivery callback state: latencies, failures, bytes acknowledged.
#[derive(Debug)]
struct PerfContext {
    start: Instant,
    latency: Histogram,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for PerfContext {}

impl ProducerContext for PerfContext {
    /// Send time in microseconds since `start`.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at: usize) {
        match result {
            Ok(_) => {
                let now = self.start.elapsed().as_micros() as u64;
                self.latency.record(now.saturating_sub(sent_at as u64));
            }
            Err((err, _)) => {
                if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert_with(|| describe_error(err));
                }
            }
        }
    }
}

/// Runs `weir perf produce`.
pub(crate) fn run(args: PerfProduceArgs) -> anyhow::Result<()> {
    let context = PerfContext {
        start: Instant::now(),
        latency: Histogram::new(),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
    };
    let producer: BaseProducer<PerfContext> = args
        .client
        .config_with(&[
            ("linger.ms", "5"),
            ("batch.size", "1048576"),
            ("batch.num.messages", "1000000"),
            ("message.max.bytes", "1048576"),
            ("queue.buffering.max.messages", "2000000"),
            ("queue.buffering.max.kbytes", "2097151"),
            ("enable.idempotence", "false"),
        ])
        .set("acks", args.acks.as_str())
        .set("compression.type", args.compression.as_str())
        .create_with_context(context)
        .map_err(|err| kafka_error("cannot create the producer", &err))?;

    let payload = random_payload(args.record_size);
    let done = AtomicBool::new(false);
    let record_size = args.record_size as u64;

    let sent = std::thread::scope(|scope| -> anyhow::Result<u64> {
        let (stop_progress, stopped) = mpsc::channel::<()>();
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                producer.poll(Duration::from_millis(50));
            }
        });
        let progress = scope.spawn(|| report_progress(&producer, record_size, stopped));
        let result = send_all(&producer, &args, &payload);
        let flushed = producer.flush(Timeout::Never);
        done.store(true, Ordering::Release);
        drop(stop_progress);
        let _ = progress.join();
        let sent = result?;
        flushed.map_err(|err| kafka_error("cannot flush", &err))?;
        Ok(sent)
    })?;

    let context = producer.context();
    let elapsed = context.start.elapsed().as_secs_f64();
    let snapshot = context.latency.snapshot();
    eprintln!(
        "{}",
        summary(sent, snapshot.count * record_size, elapsed, &snapshot)
    );
    let failed = context.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = context
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        bail!("{failed} of {sent} records were not delivered: {first}");
    }
    Ok(())
}

/// Sends `num_records` records, pacing to `--throughput` when it is positive.
fn send_all(
    producer: &BaseProducer<PerfContext>,
    args: &PerfProduceArgs,
    payload: &[u8],
) -> anyhow::Result<u64> {
    let start = producer.context().start;
    let began = Instant::now();
    let pace = (args.throughput > 0.0).then(|| 1.0 / args.throughput);
    for i in 0..args.num_records {
        if let Some(seconds_per_record) = pace {
            let due = i as f64 * seconds_per_record;
            let ahead = due - began.elapsed().as_secs_f64();
            if ahead > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(ahead));
            }
        }
        let sent_at = start.elapsed().as_micros() as usize;
        let mut record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, sent_at).payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    // The poll thread drains delivery reports; just give it a moment.
                    std::thread::sleep(Duration::from_micros(500));
                }
                Err((err, _)) => {
                    return Err(kafka_error(format!("cannot send record {i}"), &err));
                }
            }
        }
    }
    Ok(args.num_records)
}

/// Prints a window line every few seconds until `stopped` is closed.
fn report_progress(
    producer: &BaseProducer<PerfContext>,
    record_size: u64,
    stopped: mpsc::Receiver<()>,
) {
    let histogram = &producer.context().latency;
    let mut last = (Instant::now(), 0u64, 0u64);
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PROGRESS_EVERY) {
        let (count, sum) = histogram.totals();
        let max = histogram.take_window_max();
        let (at, last_count, last_sum) = last;
        let window = count - last_count;
        let (recs, mib) = rates(window, window * record_size, at.elapsed().as_secs_f64());
        let avg = if window > 0 {
            (sum - last_sum) as f64 / window as f64 / 1000.0
        } else {
            0.0
        };
        eprintln!(
            "{window} records sent, {recs:.1} records/sec ({mib:.2} MB/sec), \
             {avg:.2} ms avg latency, {:.2} ms max latency.",
            max as f64 / 1000.0
        );
        last = (Instant::now(), count, sum);
    }
}

/// The final line, in kafka-producer-perf-test's shape.
fn summary(sent: u64, bytes: u64, seconds: f64, latency: &Snapshot) -> String {
    let (recs, mib) = rates(sent, bytes, seconds);
    let ms = |micros: u64| micros as f64 / 1000.0;
    let avg = if latency.count > 0 {
        latency.sum as f64 / latency.count as f64 / 1000.0
    } else {
        0.0
    };
    format!(
        "{sent} records sent, {recs:.1} records/sec ({mib:.2} MB/sec), {avg:.2} ms avg latency, \
         {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th.",
        ms(latency.max),
        ms(latency.quantile(0.50)),
        ms(latency.quantile(0.95)),
        ms(latency.quantile(0.99)),
        ms(latency.quantile(0.999)),
    )
}

/// A fixed pseudo-random payload (xorshift; it only has to defeat trivial compression).
fn random_payload(size: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15
        ^ u64::from(std::process::id())
        ^ Instant::now().elapsed().as_nanos() as u64;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Printable ASCII, like Kafka's perf tool.
            b'A' + (state % 26) as u8
        })
        .collect()
}
