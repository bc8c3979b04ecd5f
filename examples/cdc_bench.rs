//! PostgreSQL CDC source figures, measured end to end into the log: a change counts
//! once the broker holds it where a (read-committed) consumer can read it. The Connect
//! runtime runs in this process against a running broker; PostgreSQL is a private
//! server this program starts (the test harness: `initdb` on a free port,
//! `wal_level=logical`, `fsync=off`), or one given with `--pg-port`.
//!
//! - memory: peak RSS of this process (the one running the connector) while it streams
//!   one transaction of `--transaction-rows` rows, and of a quarter of that, against
//!   the RSS before each: bounded memory means the two peaks are close;
//! - streaming: events/s and MB/s from one slot into the topic, at-least-once and
//!   exactly-once (`transaction.boundary=connector`), for `--rows` single-row INSERTs
//!   committed 200 at a time, written while the connector is stopped so the backlog
//!   measures the connector and not the writer: the whole time from the connector's
//!   start, the steady rate between a tenth and nine tenths of the rows, and the CPU
//!   time of the connector's process per event (which a busy machine inflates less
//!   than it does the rates);
//! - latency: p50/p99/max from a transaction's commit (its commit timestamp, in each
//!   event's `source.ts_us`) to the event being readable, at a steady `--rate`
//!   changes/s in 10-row transactions for `--seconds`, in both modes;
//! - snapshot: rows/s of the initial snapshot of a `--snapshot-rows`-row table, from
//!   the connector's start to its last snapshot record in the topic.
//!
//! ```text
//! cargo run --release -- broker --listen 127.0.0.1:9092 --data-dir /tmp/weir-bench &
//! cargo run --release --example cdc_bench -- --bootstrap 127.0.0.1:9092
//! ```
//!
//! Defaults: 1,000,000 rows streamed, a 1,000,000-row transaction (and a 250,000-row
//! one), 10,000 changes/s for 20 s, a 5,000,000-row snapshot; a count of 0 (or a rate
//! of 0) skips that part. The private server needs PostgreSQL's server programs
//! (`apt-get install postgresql`); as root they run as the `postgres` OS user. With
//! `--pg-port`, the server must run with `wal_level=logical` (in postgresql.conf, then
//! restart it) and `--pg-user` needs REPLICATION and CREATE on the database.

#[path = "../connectors/tests/support/postgres_server.rs"]
mod postgres_server;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use weir_connect::config::pipeline::parse_pipeline;
use weir_connect::runtime::{Runtime, RuntimeSettings};
use weir_connect::worker::Worker;

use postgres_server::PostgresServer;

// The allocator the `weir` binary runs with, so the figures (memory included) are the
// binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How often a run checks whether the topic has everything.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// How long any one wait may take before the run is declared stuck.
const PATIENCE: Duration = Duration::from_secs(900);

/// Rows per transaction of the streaming load.
const STREAM_TRANSACTION_ROWS: u64 = 200;

/// Rows per transaction of the paced writer: small, so each commit is one stamp.
const LATENCY_TRANSACTION_ROWS: u64 = 10;

/// Records read back to measure the mean record size (the rows are all alike).
const SIZE_SAMPLE: usize = 2_000;

#[derive(Debug, Parser)]
#[command(about = "PostgreSQL CDC source benchmark")]
struct Args {
    /// The broker.
    #[arg(long, default_value = "localhost:9092")]
    bootstrap: String,
    /// Rows streamed in 200-row transactions, in each mode.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Rows of the single large transaction (a quarter of it runs too).
    #[arg(long, default_value_t = 1_000_000)]
    transaction_rows: u64,
    /// Changes per second of the latency runs.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Length of each latency run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Rows of the snapshotted table.
    #[arg(long, default_value_t = 5_000_000)]
    snapshot_rows: u64,
    /// A running PostgreSQL on this port instead of a private server.
    #[arg(long)]
    pg_port: Option<u16>,
    #[arg(long, default_value = "127.0.0.1")]
    pg_host: String,
    #[arg(long, default_value = "postgres")]
    pg_user: String,
    #[arg(long, default_value = "postgres")]
    pg_database: String,
}

fn main() -> BenchResult<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rdkafka=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (_server, pg) = open_postgres(&args);
    let bench = Bench {
        runtime: tokio::runtime::Runtime::new()?,
        bootstrap: args.bootstrap.clone(),
        // Names unique to the run: the broker keeps topics and stored positions of
        // earlier runs, and a connector must not resume from another run's.
        run: format!("{}", now_micros() / 1_000_000),
        pg,
    };

    // First, while the process is fresh: the other parts leave memory with the
    // allocator that would hide what one transaction costs.
    if args.transaction_rows > 0 {
        let quarter = bench.large_transaction(args.transaction_rows / 4)?;
        let whole = bench.large_transaction(args.transaction_rows)?;
        println!(
            "memory, growth over RSS of a {}-row vs a {}-row transaction: {:.2}x for {:.0}x the rows",
            args.transaction_rows,
            args.transaction_rows / 4,
            whole.growth_mb() / quarter.growth_mb().max(0.1),
            args.transaction_rows as f64 / (args.transaction_rows / 4).max(1) as f64
        );
    }
    if args.rows > 0 {
        let plain = bench.streaming(args.rows, false)?;
        let transactional = bench.streaming(args.rows, true)?;
        println!(
            "streaming exactly-once / at-least-once throughput: {:.2}",
            transactional / plain
        );
    }
    if args.rate > 0 && args.seconds > 0 {
        bench.latency(args.rate, args.seconds, false)?;
        bench.latency(args.rate, args.seconds, true)?;
    }
    if args.snapshot_rows > 0 {
        bench.snapshot(args.snapshot_rows)?;
    }
    Ok(())
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    bootstrap: String,
    run: String,
    pg: Postgres,
}

/// RSS around one run, in kB as /proc reports it.
struct Memory {
    before_kb: u64,
    peak_kb: u64,
}

impl Memory {
    fn growth_mb(&self) -> f64 {
        self.peak_kb.saturating_sub(self.before_kb) as f64 / 1024.0
    }
}

impl Bench {
    /// A table name, slot, publication and topic prefix for one part of the run.
    fn name(&self, part: &str) -> String {
        format!("cdc_{}_{part}", self.run)
    }

    /// Streams `rows` INSERTs written beforehand in 200-row transactions; returns
    /// records/s.
    fn streaming(&self, rows: u64, exactly_once: bool) -> BenchResult<f64> {
        let mode = mode(exactly_once);
        let name = self.name(&format!("stream_{}", mode.replace('-', "_")));
        self.pg.create_table(&name)?;
        self.pg.create_slot(&name)?;
        let load = Instant::now();
        self.pg.psql(&batched_inserts(&name, rows))?;
        eprintln!(
            "streaming ({mode}): {rows} rows written in {:.1} s",
            load.elapsed().as_secs_f64()
        );

        let topic = topic(&name);
        let reader = TopicReader::new(&self.bootstrap, &topic)?;
        let cpu_before = process_cpu_seconds()?;
        let pipeline = self.start(&name, "no_data", exactly_once)?;
        // The steady rate is taken between the topic's holding a tenth of the rows and
        // nine tenths (its offsets: with exactly-once the transaction markers count
        // too, one per 200 rows), so neither the connector's start nor the last
        // check's period is in it.
        let (tenth, nine_tenths) = (rows as i64 / 10, rows as i64 * 9 / 10);
        let mut marks = [None, None];
        wait_until(|| {
            let end = reader.end();
            for (mark, at) in marks.iter_mut().zip([tenth, nine_tenths]) {
                if mark.is_none() && end >= at {
                    *mark = Some((Instant::now(), end));
                }
            }
            Ok(marks[1].is_some())
        })?;
        wait_until(|| reader.holds(rows as i64, exactly_once))?;
        let elapsed = pipeline.started.elapsed();
        let cpu = process_cpu_seconds()? - cpu_before;
        pipeline.stop(&self.runtime);

        let secs = elapsed.as_secs_f64();
        let bytes = reader.mean_record_size()? * rows as f64;
        let steady = match marks {
            [Some((t1, n1)), Some((t9, n9))] if t9 > t1 => {
                (n9 - n1) as f64 / t9.duration_since(t1).as_secs_f64()
            }
            _ => rows as f64 / secs,
        };
        println!(
            "streaming ({mode}): {rows} events, {:.1} MB in {secs:.2} s from the connector's start: {:.0} records/s, {:.1} MB/s; steady {steady:.0} records/s, {:.1} MB/s",
            bytes / 1e6,
            rows as f64 / secs,
            bytes / 1e6 / secs,
            steady * bytes / rows as f64 / 1e6,
        );
        println!(
            "streaming ({mode}): {cpu:.2} CPU s in the connector's process ({:.1} µs/event)",
            cpu * 1e6 / rows as f64
        );
        self.pg.drop_table(&name)?;
        Ok(steady)
    }

    /// Peak RSS while the connector streams one transaction of `rows` rows.
    fn large_transaction(&self, rows: u64) -> BenchResult<Memory> {
        let name = self.name(&format!("tx_{rows}"));
        self.pg.create_table(&name)?;
        self.pg.create_slot(&name)?;
        let reader = TopicReader::new(&self.bootstrap, &topic(&name))?;
        let pipeline = self.start(&name, "no_data", false)?;
        // Idle and streaming: the slot is taken, and the runtime's clients are up.
        wait_until(|| self.pg.slot_active(&name))?;
        thread::sleep(Duration::from_secs(1));
        let before_kb = proc_status_kb("VmRSS")?;
        reset_peak_rss()?;

        // One statement, so one transaction; the connector receives it at its commit.
        let writer = self.pg.spawn_psql(format!(
            "INSERT INTO {name} SELECT {ROW} FROM generate_series(1, {rows}) g"
        ));
        wait_until(|| reader.holds(rows as i64, false))?;
        let peak_kb = proc_status_kb("VmHWM")?;
        join(writer)?;
        pipeline.stop(&self.runtime);
        let memory = Memory { before_kb, peak_kb };
        println!(
            "memory, one {rows}-row transaction (at-least-once): RSS before {:.1} MB, peak {:.1} MB (+{:.1} MB)",
            before_kb as f64 / 1024.0,
            peak_kb as f64 / 1024.0,
            memory.growth_mb()
        );
        self.pg.drop_table(&name)?;
        Ok(memory)
    }

    /// Commit-to-readable latency at a steady `rate` of changes per second.
    fn latency(&self, rate: u64, seconds: u64, exactly_once: bool) -> BenchResult<()> {
        let mode = mode(exactly_once);
        let name = self.name(&format!("latency_{}", mode.replace('-', "_")));
        self.pg.create_table(&name)?;
        self.pg.create_slot(&name)?;
        let topic = topic(&name);
        let reader = TopicReader::new(&self.bootstrap, &topic)?;
        let pipeline = self.start(&name, "no_data", exactly_once)?;
        // Warm-up: one row (id 0) creates the topic, so the consumer can be assigned
        // its partitions before the measured rows come.
        self.pg.psql(&format!(
            "INSERT INTO {name} SELECT {ROW} FROM generate_series(0, 0) g"
        ))?;
        wait_until(|| Ok(reader.end() >= 1))?;
        let consumer = latency_consumer(&self.bootstrap, &topic, &reader.partitions()?)?;
        // The consumer's first fetches (offset lookup, connection) take a few hundred
        // ms: it reads the warm-up row before the measured rows are written, so the
        // figures are the pipeline's, not the consumer's start.
        let warm = Instant::now();
        loop {
            if warm.elapsed() > Duration::from_secs(30) {
                return Err(
                    format!("latency ({mode}): the consumer never read the warm-up row").into(),
                );
            }
            if let Some(message) = consumer.poll(Duration::from_millis(5)) {
                let value: Value = serde_json::from_slice(message?.payload().unwrap_or_default())?;
                if value["after"]["id"].as_i64() == Some(0) {
                    break;
                }
            }
        }

        let total = rate * seconds / LATENCY_TRANSACTION_ROWS * LATENCY_TRANSACTION_ROWS;
        let writer = self.pg.spawn_psql(paced_inserts(&name, total, rate));
        let mut latencies = Vec::with_capacity(total as usize);
        // Commit to the connector making the event (its envelope's `ts_us`): the
        // database's and the replication stream's part of the latency.
        let mut captured = Vec::with_capacity(total as usize);
        let mut last_progress = Instant::now();
        while (latencies.len() as u64) < total {
            if last_progress.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "latency ({mode}): {} of {total} events arrived, then none for 30 s",
                    latencies.len()
                )
                .into());
            }
            let Some(message) = consumer.poll(Duration::from_millis(5)) else {
                continue;
            };
            let now = now_micros();
            let value: Value = serde_json::from_slice(message?.payload().unwrap_or_default())?;
            let committed = value["source"]["ts_us"]
                .as_u64()
                .ok_or("an event without source.ts_us")?;
            let made = value["ts_us"].as_u64().ok_or("an event without ts_us")?;
            latencies.push(now.saturating_sub(committed));
            captured.push(made.saturating_sub(committed));
            last_progress = Instant::now();
        }
        join(writer)?;
        pipeline.stop(&self.runtime);
        latencies.sort_unstable();
        captured.sort_unstable();
        let at = |sorted: &[u64], q: f64| {
            let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
            sorted[i] as f64 / 1000.0
        };
        println!(
            "latency ({mode}) commit -> readable at {rate} changes/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} events",
            at(&latencies, 0.50),
            at(&latencies, 0.99),
            at(&latencies, 1.0),
            latencies.len()
        );
        println!(
            "latency ({mode}) of which commit -> event made by the connector: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            at(&captured, 0.50),
            at(&captured, 0.99),
            at(&captured, 1.0),
        );
        self.pg.drop_table(&name)?;
        Ok(())
    }

    /// The initial snapshot of a `rows`-row table, from the connector's start to the
    /// last snapshot record in the topic.
    fn snapshot(&self, rows: u64) -> BenchResult<()> {
        let name = self.name("snapshot");
        self.pg.create_table(&name)?;
        let load = Instant::now();
        self.pg.psql(&format!(
            "INSERT INTO {name} SELECT {ROW} FROM generate_series(1, {rows}) g; VACUUM ANALYZE {name}"
        ))?;
        eprintln!(
            "snapshot: {rows} rows written in {:.1} s",
            load.elapsed().as_secs_f64()
        );
        let reader = TopicReader::new(&self.bootstrap, &topic(&name))?;
        // The connector makes the slot itself, exporting the snapshot it reads at.
        let pipeline = self.start(&name, "initial", false)?;
        wait_until(|| reader.holds(rows as i64, false))?;
        let secs = pipeline.started.elapsed().as_secs_f64();
        pipeline.stop(&self.runtime);
        let bytes = reader.mean_record_size()? * rows as f64;
        println!(
            "snapshot: {rows} rows, {:.1} MB in {secs:.2} s: {:.0} rows/s, {:.1} MB/s",
            bytes / 1e6,
            rows as f64 / secs,
            bytes / 1e6 / secs
        );
        self.pg.drop_table(&name)?;
        Ok(())
    }

    /// Starts the CDC connector on table `name` in this process.
    fn start(&self, name: &str, snapshot_mode: &str, exactly_once: bool) -> BenchResult<Pipeline> {
        let boundary = if exactly_once {
            "  transaction.boundary: connector\n"
        } else {
            ""
        };
        let yaml = format!(
            "name: {name}\nsource:\n  connector: io.debezium.connector.postgresql.PostgresConnector\n  database.hostname: {host}\n  database.port: {port}\n  database.user: {user}\n  database.dbname: {db}\n  topic.prefix: {name}\n  slot.name: {name}\n  slot.drop.on.stop: true\n  publication.name: {name}\n  publication.autocreate.mode: filtered\n  table.include.list: public\\.{name}\n  snapshot.mode: {snapshot_mode}\n{boundary}  converters: {{key: json, value: json}}\n",
            host = self.pg.host,
            port = self.pg.port,
            user = self.pg.user,
            db = self.pg.database,
        );
        let plugins = weir_connectors::plugins();
        let (_, configs) =
            parse_pipeline(&yaml, "cdc-bench.yaml", &plugins).map_err(|err| err.to_string())?;
        let mut settings = RuntimeSettings::new(&self.bootstrap, "cdc-bench");
        // What `exactly.once.source.support=enabled` sets in a worker.
        settings.transactional_id_prefix = exactly_once.then(|| format!("cdc-bench-{}", self.run));
        let shutdown = CancellationToken::new();
        let worker = self.runtime.block_on(async {
            let connect = Runtime::start(settings, plugins)
                .await
                .map_err(|e| e.chain())?;
            Worker::standalone(connect, configs, shutdown.clone())
                .await
                .map_err(|e| e.chain())
        })?;
        Ok(Pipeline {
            worker,
            shutdown,
            started: Instant::now(),
        })
    }
}

/// A running standalone worker with one connector.
struct Pipeline {
    worker: Arc<Worker>,
    shutdown: CancellationToken,
    started: Instant,
}

impl Pipeline {
    fn stop(self, runtime: &tokio::runtime::Runtime) {
        self.shutdown.cancel();
        runtime.block_on(self.worker.join());
    }
}

fn mode(exactly_once: bool) -> &'static str {
    if exactly_once {
        "exactly-once"
    } else {
        "at-least-once"
    }
}

/// Debezium's topic for `public.<name>` under the prefix `<name>`.
fn topic(name: &str) -> String {
    format!("{name}.public.{name}")
}

/// The captured table: an order row of a few common types, about 200 bytes of JSON
/// per event after Debezium's envelope.
const TABLE: &str = "(id bigint PRIMARY KEY, customer_id integer NOT NULL, \
     amount_cents bigint NOT NULL, status text NOT NULL, note text NOT NULL, \
     created_at timestamptz NOT NULL DEFAULT now())";

/// One row of [`TABLE`] from `g`, the row number.
const ROW: &str = "g, (g % 10000)::int, g * 7 % 100000, 'paid', \
     'order ' || g || ' packed at warehouse ' || (g % 50), now()";

/// `rows` rows committed 200 at a time, in one server-side loop: the load is written
/// at the server's pace, not at a client's round trips.
fn batched_inserts(name: &str, rows: u64) -> String {
    let batches = rows.div_ceil(STREAM_TRANSACTION_ROWS);
    format!(
        "DO $$ BEGIN
           FOR b IN 0..{last} LOOP
             INSERT INTO {name} SELECT {ROW}
               FROM generate_series(b * {STREAM_TRANSACTION_ROWS}::bigint + 1,
                                    least((b + 1) * {STREAM_TRANSACTION_ROWS}::bigint, {rows})) g;
             COMMIT;
           END LOOP;
         END $$",
        last = batches.saturating_sub(1)
    )
}

/// `total` rows at `rate` rows/s in 10-row transactions. Each transaction is due at
/// its place in the schedule, so a late one is caught up by not sleeping rather than
/// slowing the rate.
fn paced_inserts(name: &str, total: u64, rate: u64) -> String {
    let transactions = total / LATENCY_TRANSACTION_ROWS;
    let per_second = rate as f64 / LATENCY_TRANSACTION_ROWS as f64;
    format!(
        "DO $$ DECLARE
           started timestamptz := clock_timestamp();
           ahead double precision;
         BEGIN
           FOR t IN 0..{last} LOOP
             INSERT INTO {name} SELECT {ROW}
               FROM generate_series(t * {LATENCY_TRANSACTION_ROWS}::bigint + 1,
                                    (t + 1) * {LATENCY_TRANSACTION_ROWS}::bigint) g;
             COMMIT;
             ahead := (t + 1) / {per_second}::float8
                      - extract(epoch FROM clock_timestamp() - started);
             IF ahead > 0 THEN PERFORM pg_sleep(ahead); END IF;
           END LOOP;
         END $$",
        last = transactions.saturating_sub(1)
    )
}

/// Polls `done` every [`CHECK_EVERY`] until it holds.
fn wait_until(mut done: impl FnMut() -> BenchResult<bool>) -> BenchResult<()> {
    let started = Instant::now();
    while !done()? {
        if started.elapsed() > PATIENCE {
            return Err(format!("not done within {PATIENCE:?}").into());
        }
        thread::sleep(CHECK_EVERY);
    }
    Ok(())
}

fn join(writer: JoinHandle<BenchResult<String>>) -> BenchResult<()> {
    writer.join().map_err(|_| "the writer panicked")??;
    Ok(())
}

/// Starts the private server, unless `--pg-port` names the user's; the server (if
/// any) stops when dropped.
fn open_postgres(args: &Args) -> (Option<PostgresServer>, Postgres) {
    if let Some(port) = args.pg_port {
        let pg = Postgres {
            host: args.pg_host.clone(),
            port,
            user: args.pg_user.clone(),
            database: args.pg_database.clone(),
        };
        return (None, pg);
    }
    // Room for the snapshot table and the streamed backlog without a checkpoint every
    // few seconds while the load is written.
    let server = PostgresServer::start_with(&["max_wal_size=8GB"]);
    let pg = Postgres {
        host: server.host().to_string(),
        port: server.port(),
        user: "postgres".into(),
        database: server.database().into(),
    };
    (Some(server), pg)
}

/// Where the benchmark's SQL goes, through psql.
#[derive(Debug, Clone)]
struct Postgres {
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl Postgres {
    fn create_table(&self, name: &str) -> BenchResult<()> {
        self.psql(&format!(
            "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} {TABLE}"
        ))?;
        Ok(())
    }

    /// The publication and the slot, before the load: the load is then the backlog
    /// the connector finds at its start.
    fn create_slot(&self, name: &str) -> BenchResult<()> {
        self.psql(&format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}';
             DROP PUBLICATION IF EXISTS {name};
             CREATE PUBLICATION {name} FOR TABLE {name};
             SELECT pg_create_logical_replication_slot('{name}', 'pgoutput')"
        ))?;
        Ok(())
    }

    fn slot_active(&self, name: &str) -> BenchResult<bool> {
        let active = self.psql(&format!(
            "SELECT active FROM pg_replication_slots WHERE slot_name = '{name}'"
        ))?;
        Ok(active == "t")
    }

    /// Drops a part's table, publication and slot. The connector drops its slot on
    /// stop, but may try before the server has ended its walsender; a slot left
    /// behind would keep WAL for the rest of the run.
    fn drop_table(&self, name: &str) -> BenchResult<()> {
        wait_until(|| {
            let left = self.psql(&format!(
                "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots
                 WHERE slot_name = '{name}' AND NOT active;
                 SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{name}'"
            ))?;
            Ok(left.lines().last() == Some("0"))
        })?;
        self.psql(&format!(
            "DROP PUBLICATION IF EXISTS {name}; DROP TABLE IF EXISTS {name}"
        ))?;
        Ok(())
    }

    /// Runs `sql` with psql, each statement on its own; returns what it printed.
    fn psql(&self, sql: &str) -> BenchResult<String> {
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", &self.host, "-p", &self.port.to_string()])
            .args(["-U", &self.user, "-d", &self.database])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot run psql ({err}): install postgresql-client"))?;
        child
            .stdin
            .take()
            .ok_or("psql's stdin")?
            .write_all(sql.as_bytes())?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            return Err(format!(
                "psql failed: {}\nSQL: {sql}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// [`Postgres::psql`] on a thread, for load that runs while the benchmark reads.
    fn spawn_psql(&self, sql: String) -> JoinHandle<BenchResult<String>> {
        let pg = self.clone();
        thread::spawn(move || pg.psql(&sql))
    }
}

/// Reads a topic's ends and a few of its records, as a read-committed consumer sees
/// them.
struct TopicReader {
    consumer: BaseConsumer,
    topic: String,
}

impl TopicReader {
    fn new(bootstrap: &str, topic: &str) -> BenchResult<TopicReader> {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "weir-cdc-bench")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .create()?;
        Ok(TopicReader {
            consumer,
            topic: topic.to_string(),
        })
    }

    fn partitions(&self) -> BenchResult<Vec<i32>> {
        let metadata = self
            .consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(5))?;
        Ok(metadata
            .topics()
            .first()
            .map(|t| t.partitions().iter().map(|p| p.id()).collect())
            .unwrap_or_default())
    }

    /// The sum of the partitions' ends: for a read-committed consumer, the last
    /// stable offsets, which count transaction markers too.
    fn end(&self) -> i64 {
        self.partitions()
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                self.consumer
                    .fetch_watermarks(&self.topic, p, Duration::from_secs(5))
                    .map_or(0, |(_, high)| high)
            })
            .sum()
    }

    /// Whether the topic holds rows `1..=rows`. Without transactions every offset is
    /// a record; with them the markers count too, so the last rows are looked for in
    /// the partitions' tails (their transaction committing makes every earlier one
    /// visible too: one producer commits them in order).
    fn holds(&self, rows: i64, transactional: bool) -> BenchResult<bool> {
        if self.end() < rows {
            return Ok(false);
        }
        if !transactional {
            return Ok(true);
        }
        let tail = self.read(|high| Offset::Offset((high - 16).max(0)), usize::MAX)?;
        Ok(tail.iter().any(|(_, value)| value["after"]["id"] == rows))
    }

    /// The mean key + value bytes of the first records.
    fn mean_record_size(&self) -> BenchResult<f64> {
        let sample = self.read(|_| Offset::Beginning, SIZE_SAMPLE)?;
        let bytes: usize = sample.iter().map(|(size, _)| size).sum();
        Ok(bytes as f64 / sample.len().max(1) as f64)
    }

    /// Up to `limit` records from `start(high watermark)` in each partition to its
    /// end: each record's key + value size and its value.
    fn read(
        &self,
        start: impl Fn(i64) -> Offset,
        limit: usize,
    ) -> BenchResult<Vec<(usize, Value)>> {
        let partitions = self.partitions()?;
        let mut assignment = TopicPartitionList::new();
        for &p in &partitions {
            let (_, high) =
                self.consumer
                    .fetch_watermarks(&self.topic, p, Duration::from_secs(5))?;
            assignment.add_partition_offset(&self.topic, p, start(high))?;
        }
        self.consumer.assign(&assignment)?;
        let mut records = Vec::new();
        let mut at_end = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while at_end < partitions.len() && records.len() < limit && Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => at_end += 1,
                Some(message) => {
                    let message = message?;
                    let payload = message.payload().unwrap_or_default();
                    let size = payload.len() + message.key().map_or(0, <[u8]>::len);
                    records.push((size, serde_json::from_slice(payload)?));
                }
                None => {}
            }
        }
        self.consumer.unassign()?;
        Ok(records)
    }
}

/// A consumer of the latency topic from its start, fetching with a short wait so the
/// figure is when an event becomes readable, not the consumer's long-poll period.
fn latency_consumer(bootstrap: &str, topic: &str, partitions: &[i32]) -> BenchResult<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "weir-cdc-bench")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for &p in partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// User + system CPU seconds of this process so far (all its threads).
fn process_cpu_seconds() -> BenchResult<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the parenthesised command name; utime and stime are the
    // 14th and 15th of the whole line, in clock ticks (USER_HZ, 100 on Linux).
    let after = stat
        .rsplit_once(") ")
        .ok_or("unreadable /proc/self/stat")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

/// A field of /proc/self/status, in kB.
fn proc_status_kb(field: &str) -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}

/// Makes VmHWM start again from the current RSS (Linux's `clear_refs` value 5), so
/// each run's peak is its own.
fn reset_peak_rss() -> BenchResult<()> {
    std::fs::write("/proc/self/clear_refs", "5")
        .map_err(|err| format!("cannot reset the peak RSS (/proc/self/clear_refs): {err}"))?;
    Ok(())
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
