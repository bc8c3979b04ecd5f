//! Connect figures against a running broker, with the runtime in this process and a
//! redis-server it starts on a free port:
//!
//! - file source: MB/s and lines/s of log lines shipped from a file into a topic
//!   (until the topic holds every line);
//! - Redis sink: records/s from a topic into Redis with `SET` (until Redis holds every
//!   key);
//! - end to end: lines appended to a file at a steady rate, through a topic into a
//!   Redis list (`RPUSH`), read back with `BLPOP`; p50/p99/max latency from append to
//!   Redis.
//! - log shipping end to end: 1 KB lines appended to a file at a steady rate, through
//!   the file source, a topic and the Elasticsearch sink into an `osmem-server` it
//!   starts (found as `connectors/tests/support/search_server.rs` says); p50/p99/max
//!   latency from append to searchable (counted by `_count`).
//!
//! ```text
//! cargo run --release --example connect_bench -- [BOOTSTRAP] [LINES] [RECORDS] [RATES] [SEARCH_RATES]
//! ```
//!
//! Defaults: `localhost:9092`, 2,000,000 lines of ~120 bytes, 1,000,000 records, the
//! Redis end-to-end run at 1,000, 20,000 and 100,000 lines/s for 10 s each, and no
//! search run (`RATES` and `SEARCH_RATES` are comma-separated lists; empty for none).
//! `LINES` or `RECORDS` of 0 skips that part. The Redis parts need `redis-server` on
//! the PATH; only the search run, e.g. `-- localhost:9092 0 0 "" 1000,5000`, does not.

#[path = "../connectors/tests/support/search_server.rs"]
mod search_server;

use std::fs::{self, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use tokio_util::sync::CancellationToken;
use weir_connect::config::pipeline::parse_pipeline;
use weir_connect::herder::Herder;
use weir_connect::runtime::{Runtime, RuntimeSettings};
use weir_connect::worker::Worker;

// The allocator the `weir` binary runs with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// How often the throughput runs check whether they are done.
const CHECK_EVERY: Duration = Duration::from_millis(20);

fn main() -> BenchResult<()> {
    // The runtime's warnings; more with RUST_LOG=info. librdkafka's own logs are off
    // as in the `weir` binary.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rdkafka=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bootstrap = args
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost:9092".into());
    let lines: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2_000_000);
    let records: u64 = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let rates: Vec<u64> = args
        .get(3)
        .map_or("1000,20000,100000", String::as_str)
        .split(',')
        .filter(|rate| !rate.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let search_rates: Vec<u64> = args
        .get(4)
        .map_or("", String::as_str)
        .split(',')
        .filter(|rate| !rate.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let dir = tempfile::tempdir()?;
    let redis = if records > 0 || !rates.is_empty() {
        Some(RedisProcess::start(dir.path())?)
    } else {
        None
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let run = format!("{}", std::process::id());

    if lines > 0 {
        let plain = file_source(&runtime, &bootstrap, dir.path(), &run, lines, false)?;
        let transactional = file_source(&runtime, &bootstrap, dir.path(), &run, lines, true)?;
        println!(
            "file source exactly-once / at-least-once throughput: {:.2}",
            transactional / plain
        );
    }
    if let Some(redis) = &redis {
        if records > 0 {
            redis_sink(&runtime, &bootstrap, redis, &run, records)?;
        }
        for rate in rates {
            end_to_end(&runtime, &bootstrap, dir.path(), redis, &run, rate)?;
        }
    }
    if !search_rates.is_empty() {
        let search = search_server::SearchServer::start();
        for rate in search_rates {
            search_end_to_end(&runtime, &bootstrap, dir.path(), &search, &run, rate)?;
        }
    }
    Ok(())
}

/// Runs the connectors of a pipeline in this process until `done` returns true,
/// asking it every `check_every`. `transactional_id_prefix` runs sources exactly once.
fn run_pipeline(
    runtime: &tokio::runtime::Runtime,
    bootstrap: &str,
    yaml: &str,
    check_every: Duration,
    transactional_id_prefix: Option<&str>,
    mut done: impl FnMut(&Worker) -> BenchResult<bool>,
) -> BenchResult<Duration> {
    let plugins = weir_connectors::plugins();
    let (_, configs) =
        parse_pipeline(yaml, "bench.yaml", &plugins).map_err(|err| err.to_string())?;
    let shutdown = CancellationToken::new();
    let mut settings = RuntimeSettings::new(bootstrap, "bench");
    settings.transactional_id_prefix = transactional_id_prefix.map(str::to_string);
    let worker = runtime.block_on(async {
        let connect = Runtime::start(settings, plugins)
            .await
            .map_err(|e| e.chain())?;
        Worker::standalone(connect, configs, shutdown.clone())
            .await
            .map_err(|e| e.chain())
    })?;
    let started = Instant::now();
    while !done(&worker)? {
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the pipeline did not finish within 10 minutes".into());
        }
        std::thread::sleep(check_every);
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    runtime.block_on(worker.join());
    Ok(elapsed)
}

/// Ships `lines` lines from a file into a topic; returns MB/s. `exactly_once` writes
/// them in transactions (one per polled batch) with their positions.
fn file_source(
    runtime: &tokio::runtime::Runtime,
    bootstrap: &str,
    dir: &Path,
    run: &str,
    lines: u64,
    exactly_once: bool,
) -> BenchResult<f64> {
    let mode = if exactly_once {
        "exactly-once"
    } else {
        "at-least-once"
    };
    let logs = dir.join(format!("logs-{mode}"));
    fs::create_dir_all(&logs)?;
    let mut file = BufWriter::new(fs::File::create(logs.join("app.log"))?);
    let mut bytes = 0u64;
    for i in 0..lines {
        let line = format!("2026-11-23T12:00:00.000Z INFO  [worker-{:02}] request {i:>10} served in 3 ms from 10.0.0.{} path=/api/v1/items", i % 16, i % 250);
        bytes += line.len() as u64 + 1;
        writeln!(file, "{line}")?;
    }
    file.flush()?;
    let topic = format!("bench-logs-{run}-{mode}");
    let yaml = format!(
        "name: bench-logs-{run}-{mode}\nsource:\n  connector: file-source\n  topic: {topic}\n  file.paths: {}/*.log\n  batch.max.records: 5000\n  converters: {{key: string, value: string}}\n",
        logs.display()
    );
    let consumer = consumer(bootstrap)?;
    let prefix = exactly_once.then_some("bench");
    // Names unique to the run: a file of an earlier run whose inode this run's file
    // reuses must not lend it its stored position.
    let connector = format!("bench-logs-{run}-{mode}-source");
    let elapsed = run_pipeline(runtime, bootstrap, &yaml, CHECK_EVERY, prefix, |worker| {
        // The bench's consumer reads committed records: the end it sees is the last
        // stable offset.
        let end = high_watermark(&consumer, &topic);
        if !exactly_once || end < lines as i64 {
            return Ok(end >= lines as i64);
        }
        // Transactions end with markers, which the end counts too; the stored
        // position, committed with the records, says exactly how far they are (read
        // only near the end: reading the offsets topic costs more than a check).
        let offsets = runtime
            .block_on(worker.offsets(&connector))
            .map_err(|err| format!("{err:?}"))?;
        Ok(offsets
            .offsets
            .iter()
            .any(|entry| entry.offset["position"].as_u64() == Some(bytes)))
    })?;
    let secs = elapsed.as_secs_f64();
    let rate = bytes as f64 / 1e6 / secs;
    println!(
        "file source ({mode}): {lines} lines, {:.1} MB in {secs:.2} s: {rate:.1} MB/s, {:.0} lines/s",
        bytes as f64 / 1e6,
        lines as f64 / secs
    );
    Ok(rate)
}

fn redis_sink(
    runtime: &tokio::runtime::Runtime,
    bootstrap: &str,
    redis: &RedisProcess,
    run: &str,
    records: u64,
) -> BenchResult<()> {
    let topic = format!("bench-kv-{run}");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    for i in 0..records {
        let key = format!("user:{i}");
        let value = format!("{{\"id\":{i},\"name\":\"user {i}\",\"plan\":\"pro\"}}");
        loop {
            match producer.send(BaseRecord::to(&topic).key(&key).payload(&value)) {
                Ok(()) => break,
                Err((_, _)) => {
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    let yaml = format!(
        "name: bench-kv\nsink:\n  connector: redis-sink\n  topics: [{topic}]\n  redis.uri: redis://127.0.0.1:{}\n  redis.command: SET\n  batch.max.records: 2000\n  converters: {{key: string, value: string}}\n",
        redis.port
    );
    let mut connection = redis.connection()?;
    // Timed from the first key in Redis, so the consumer group's join (and the
    // broker's initial rebalance delay) is not counted as write time.
    let mut first_write: Option<Instant> = None;
    let elapsed = run_pipeline(runtime, bootstrap, &yaml, CHECK_EVERY, None, |_| {
        let size: u64 = redis::cmd("DBSIZE").query(&mut connection)?;
        if size > 0 && first_write.is_none() {
            first_write = Some(Instant::now());
        }
        Ok(size >= records)
    })?;
    let writing = first_write
        .map(|t| t.elapsed())
        .unwrap_or(elapsed)
        .as_secs_f64();
    println!(
        "redis sink: {records} records in {writing:.2} s from the first write ({:.2} s with the group join): {:.0} records/s",
        elapsed.as_secs_f64(),
        records as f64 / writing
    );
    Ok(())
}

fn end_to_end(
    runtime: &tokio::runtime::Runtime,
    bootstrap: &str,
    dir: &Path,
    redis: &RedisProcess,
    run: &str,
    rate: u64,
) -> BenchResult<()> {
    let logs = dir.join(format!("latency-{rate}"));
    fs::create_dir_all(&logs)?;
    let path = logs.join("app.log");
    fs::File::create(&path)?;
    let topic = format!("bench-latency-{run}-{rate}");
    let list = format!("bench-latency-{rate}");
    let yaml = format!(
        "name: bench-latency-{run}-{rate}\nsource:\n  connector: file-source\n  topic: {topic}\n  file.paths: {logs}/*.log\n  poll.interval.ms: 10\n  converters: {{key: string, value: string}}\nsink:\n  connector: redis-sink\n  topics: [{topic}]\n  redis.uri: redis://127.0.0.1:{port}\n  redis.command: RPUSH\n  redis.key: {list}\n  batch.max.ms: 5\n  converters: {{key: string, value: string}}\n",
        logs = logs.display(),
        port = redis.port
    );
    let total = rate * 10;
    let mut connection = redis.connection()?;
    let mut latencies: Vec<u64> = Vec::with_capacity(total as usize);
    let mut writer = OpenOptions::new().append(true).open(&path)?;
    // Warm-up: one line, until it arrives (the topic is created by the first record
    // and the sink notices it on its next metadata refresh); then the measured run.
    writeln!(writer, "{} warm-up", now_micros())?;
    let mut started: Option<Instant> = None;
    let mut written = 0u64;
    // Checked every millisecond: a line is timed when it is popped, so the check's
    // period is part of every figure.
    run_pipeline(
        runtime,
        bootstrap,
        &yaml,
        Duration::from_millis(1),
        None,
        |_| {
            if let Some(started) = started {
                // Append what the steady rate calls for by now.
                let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
                let mut chunk = String::new();
                while written < due {
                    chunk.push_str(&format!("{} line {written}\n", now_micros()));
                    written += 1;
                }
                if !chunk.is_empty() {
                    writer.write_all(chunk.as_bytes())?;
                }
            }
            // Many lines per round trip: one LPOP per line would cost the benchmark
            // itself a core at 100,000 lines/s.
            loop {
                let popped: Vec<String> = redis::cmd("LPOP")
                    .arg(&list)
                    .arg(10_000)
                    .query::<Option<Vec<String>>>(&mut connection)?
                    .unwrap_or_default();
                if popped.is_empty() {
                    break;
                }
                let now = now_micros();
                for line in popped {
                    if line.ends_with("warm-up") {
                        started = Some(Instant::now());
                        continue;
                    }
                    let sent: u64 = line
                        .split(' ')
                        .next()
                        .and_then(|t| t.parse().ok())
                        .ok_or("bad line")?;
                    latencies.push(now.saturating_sub(sent));
                }
            }
            Ok(latencies.len() as u64 >= total)
        },
    )?;
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1000.0
    };
    println!(
        "end to end (file -> topic -> redis) at {rate} lines/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} lines",
        at(0.50),
        at(0.99),
        at(1.0),
        latencies.len()
    );
    Ok(())
}

/// Lines of ~1 KB appended at `rate` lines/s for 10 s, through the file source, a
/// topic and the Elasticsearch sink into an index. The file has one partition's worth
/// of lines in order, so the index holding `k` documents means lines `0..k` are
/// searchable (pipelined bulk requests may land a few out of order, which blurs a
/// figure by one request's time at most). A line is timed when `_count` first counts
/// it; the poll's own period is part of every figure.
fn search_end_to_end(
    runtime: &tokio::runtime::Runtime,
    bootstrap: &str,
    dir: &Path,
    search: &search_server::SearchServer,
    run: &str,
    rate: u64,
) -> BenchResult<()> {
    let logs = dir.join(format!("search-latency-{rate}"));
    fs::create_dir_all(&logs)?;
    let path = logs.join("app.log");
    fs::File::create(&path)?;
    let topic = format!("bench-search-{run}-{rate}");
    let yaml = format!(
        "name: bench-search-{run}-{rate}\nsource:\n  connector: file-source\n  topic: {topic}\n  file.paths: {logs}/*.log\n  poll.interval.ms: 10\n  converters: {{key: string, value: string}}\nsink:\n  connector: elasticsearch\n  topics: [{topic}]\n  connection.url: {url}\n  key.ignore: true\n  batch.max.ms: 5\n  converters: {{key: string, value: string}}\n  transforms:\n    - name: document\n      type: HoistField$Value\n      field: message\n",
        logs = logs.display(),
        url = search.url()
    );
    let total = rate * 10;
    let padding = "x".repeat(960);
    let mut writer = OpenOptions::new().append(true).open(&path)?;
    // Warm-up: one line, until it is searchable (the topic is created by the first
    // record and the sink notices it on its next metadata refresh); then the run.
    writeln!(writer, "warm-up")?;
    let mut started: Option<Instant> = None;
    let mut appended: Vec<u64> = Vec::with_capacity(total as usize);
    let mut latencies: Vec<u64> = Vec::with_capacity(total as usize);
    let mut searchable = 0u64;
    run_pipeline(
        runtime,
        bootstrap,
        &yaml,
        Duration::from_millis(2),
        None,
        |_| {
            let count = search.count(&topic);
            let Some(started) = started else {
                if count > 0 {
                    started = Some(Instant::now());
                }
                return Ok(false);
            };
            let now = now_micros();
            // Documents beyond the warm-up line, each timed now.
            while searchable + 1 < count && (searchable as usize) < appended.len() {
                latencies.push(now.saturating_sub(appended[searchable as usize]));
                searchable += 1;
            }
            let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
            let mut chunk = String::new();
            while (appended.len() as u64) < due {
                chunk.push_str(&format!(
                    "2026-12-04T12:00:00.000Z INFO line {} {padding}\n",
                    appended.len()
                ));
                appended.push(now_micros());
            }
            if !chunk.is_empty() {
                writer.write_all(chunk.as_bytes())?;
            }
            Ok(latencies.len() as u64 >= total)
        },
    )?;
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1000.0
    };
    println!(
        "end to end (file -> topic -> elasticsearch, searchable) at {rate} lines/s of 1 KB: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} lines",
        at(0.50),
        at(0.99),
        at(1.0),
        latencies.len()
    );
    Ok(())
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn consumer(bootstrap: &str) -> BenchResult<BaseConsumer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-connect-bench")
        .create()?)
}

fn high_watermark(consumer: &BaseConsumer, topic: &str) -> i64 {
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return 0;
    };
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    (0..partitions as i32)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .map(|(_, high)| high)
                .unwrap_or(0)
        })
        .sum()
}

/// A redis-server on a free port, killed on drop.
struct RedisProcess {
    child: Child,
    port: u16,
}

impl RedisProcess {
    fn start(dir: &Path) -> BenchResult<RedisProcess> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start redis-server ({err}): install it with `apt-get install redis-server`"))?;
        let process = RedisProcess { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while process.connection().is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not answer within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }

    fn connection(&self) -> BenchResult<redis::Connection> {
        let mut connection =
            redis::Client::open(format!("redis://127.0.0.1:{}", self.port))?.get_connection()?;
        redis::cmd("PING").query::<String>(&mut connection)?;
        Ok(connection)
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
