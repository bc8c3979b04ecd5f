//! End-to-end: the PostgreSQL CDC source (Debezium's `PostgresConnector`) on a real
//! `weir connect worker` process, writing to a real `weir broker`, reading a real
//! PostgreSQL started per test. Each change the database commits must reach the topic
//! once, in order per key, through SIGKILLs of the worker and restarts and crashes of
//! the database; an idle captured table must not make the server keep WAL.
//!
//! The workload is checked without trusting the connector's own bookkeeping: every
//! row carries a `version` that each UPDATE increments, so a key's events must read
//! create v0, update v1 … vN, and delete + tombstone if it was deleted, and end at
//! the row the table holds. A gap, a repeat or a swap fails the check; a counter
//! updated in the workload's own transactions says how many changes were committed.
//!
//! Two knobs make the same tests a soak run (the defaults keep a debug build under a
//! couple of minutes per test):
//!
//! - `WEIR_CDC_SOAK_CHANGES` — changes each workload commits (default 100000).
//! - `WEIR_CDC_IDLE_SECS` — how long another database writes WAL while the captured
//!   table stays idle (default 20).
//!
//! ```text
//! WEIR_CDC_SOAK_CHANGES=1000000 WEIR_CDC_IDLE_SECS=300 cargo test --release --test connect_cdc
//! ```

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{json, Value};
use support::{create_topic, wait_until, BrokerProcess, ConnectProcess, Http, PostgresServer};

const CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";

/// Partitions of the change topic: several, so "in order per key" is a claim about
/// keys spread over partitions, not about one log.
const PARTITIONS: i32 = 3;

/// Rows in `accounts` before the connector starts: they arrive as snapshot reads.
const SEEDED: i64 = 500;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

fn soak_changes() -> i64 {
    env_number("WEIR_CDC_SOAK_CHANGES", 100_000) as i64
}

/// How long waits for the connector to catch up may take: generous, since a debug
/// build on a shared two-core machine may stream a few thousand changes a second.
fn catch_up_deadline(changes: i64) -> Duration {
    Duration::from_secs(180 + (changes as u64) / 1000)
}

/// Polls `check` until it holds or `within` passes; `what` names it in the failure.
fn wait_long(what: &str, within: Duration, check: impl FnMut() -> bool) {
    assert!(
        holds_within(within, check),
        "timed out after {within:?} waiting for {what}"
    );
}

/// Whether `check` came to hold within `within`.
fn holds_within(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !check() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    true
}

/// The last `n` lines of a process's log, for failure messages.
fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `accounts`, the workload's bookkeeping and the procedure that runs it.
///
/// Each workload transaction inserts 60 new ids and updates 20 of them (a row
/// created and changed in one transaction), updates two overlapping ranges of
/// existing rows (rows changed twice in one transaction), and deletes a few rows;
/// every 50th transaction updates 2000-row ranges, so some transactions span many
/// polls and Kafka batches. The counter row moves in the same transaction as the
/// changes it counts, so it stays exact when a call dies halfway through.
const WORKLOAD_SCHEMA: &str = r#"
CREATE TABLE accounts (
    id int PRIMARY KEY,
    version int NOT NULL,
    balance bigint NOT NULL,
    note text
);
CREATE TABLE workload (
    id int PRIMARY KEY,
    changes bigint NOT NULL,
    next_id int NOT NULL,
    transactions int NOT NULL
);
INSERT INTO accounts SELECT g, 0, g * 10, 'seeded ' || g FROM generate_series(0, 499) g;
INSERT INTO workload VALUES (1, 500, 500, 0);
CREATE PROCEDURE run_workload(target bigint, pause float8)
LANGUAGE plpgsql AS $$
DECLARE
    done bigint;
    nid int;
    txs int;
    made bigint;
    n bigint;
    lo int;
    width int;
BEGIN
    LOOP
        SELECT changes, next_id, transactions INTO done, nid, txs FROM workload;
        EXIT WHEN done >= target;
        made := 0;
        INSERT INTO accounts
            SELECT g, 0, g * 10, 'account ' || g FROM generate_series(nid, nid + 59) g;
        GET DIAGNOSTICS n = ROW_COUNT; made := made + n;
        UPDATE accounts SET version = version + 1, balance = balance + 1
            WHERE id BETWEEN nid AND nid + 19;
        GET DIAGNOSTICS n = ROW_COUNT; made := made + n;
        nid := nid + 60;
        width := CASE WHEN txs % 50 = 49 THEN 2000 ELSE 50 END;
        lo := floor(random() * nid)::int;
        UPDATE accounts SET version = version + 1, balance = balance - 3
            WHERE id >= lo AND id < lo + width;
        GET DIAGNOSTICS n = ROW_COUNT; made := made + n;
        lo := lo + width / 2;
        UPDATE accounts SET version = version + 1, note = 'moved ' || lo
            WHERE id >= lo AND id < lo + width;
        GET DIAGNOSTICS n = ROW_COUNT; made := made + n;
        lo := floor(random() * nid)::int;
        DELETE FROM accounts WHERE id >= lo AND id < lo + 8;
        GET DIAGNOSTICS n = ROW_COUNT; made := made + n;
        UPDATE workload SET changes = changes + made, next_id = nid, transactions = transactions + 1;
        COMMIT;
        PERFORM pg_sleep(pause);
    END LOOP;
END $$;
"#;

/// Changes the workload committed so far; `None` while the server is away.
fn committed_changes(pg: &PostgresServer) -> Option<i64> {
    pg.try_psql("SELECT changes FROM workload")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// `CALL run_workload(target, pause)` in the background, `pause` seconds after each
/// transaction (unpaced, PostgreSQL commits 100000 changes in a few seconds, long
/// before a debug build has streamed them); the handle says how it ended.
fn start_workload(pg: &PostgresServer, target: i64, pause: f64) -> JoinHandle<Result<(), String>> {
    let call = pg.spawn_psql(&format!("CALL run_workload({target}, {pause});"));
    std::thread::spawn(move || call.try_wait())
}

fn worker_properties(dir: &Path, group: &str) -> PathBuf {
    let path = dir.join(format!("{group}.properties"));
    fs::write(
        &path,
        format!(
            "group.id={group}\n\
             exactly.once.source.support=enabled\n\
             session.timeout.ms=6000\n\
             scheduled.rebalance.max.delay.ms=0\n"
        ),
    )
    .expect("worker file");
    path
}

/// The connector's config for `pg`, schemaless JSON, exactly once with a Kafka
/// transaction per database transaction.
fn exactly_once_cdc(pg: &PostgresServer, prefix: &str, slot: &str) -> Value {
    json!({
        "connector.class": CLASS,
        "database.hostname": pg.host(),
        "database.port": pg.port().to_string(),
        "database.user": "postgres",
        "database.dbname": pg.database(),
        "topic.prefix": prefix,
        "slot.name": slot,
        "table.include.list": "public.accounts",
        "key.converter": "json",
        "key.converter.schemas.enable": "false",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "exactly.once.support": "required",
        "transaction.boundary": "connector",
    })
}

fn put_connector(worker: &ConnectProcess, name: &str, config: &Value) {
    let created = Http::new(&worker.address).put(&format!("/connectors/{name}/config"), config);
    assert!(
        created.status == 201 || created.status == 200,
        "PUT {name}: {} {}",
        created.status,
        created.text
    );
}

fn task_running(worker: &ConnectProcess, name: &str) -> bool {
    let status = Http::new(&worker.address)
        .get(&format!("/connectors/{name}/status"))
        .body;
    status["tasks"][0]["state"] == "RUNNING"
}

/// One record as read: its key and value, `None` for a null payload.
#[derive(Debug, Clone)]
struct Read {
    partition: i32,
    offset: i64,
    key: Option<Value>,
    value: Option<Value>,
}

/// Every record of `topic` up to the end of each partition: the last stable offset
/// with `read_committed`, the high watermark otherwise.
/// Sees a Kafka transaction open on a topic: its last stable offsets (the high
/// watermarks a read_committed consumer lists) fall behind its high watermarks.
struct OpenTransactions {
    topic: String,
    committed: BaseConsumer,
    uncommitted: BaseConsumer,
}

impl OpenTransactions {
    fn new(bootstrap: &str, topic: &str) -> OpenTransactions {
        let consumer = |isolation: &str| -> BaseConsumer {
            support::client_config(bootstrap)
                .set("group.id", "weir-tests-cdc-lso")
                .set("isolation.level", isolation)
                .create()
                .expect("consumer")
        };
        OpenTransactions {
            topic: topic.to_owned(),
            committed: consumer("read_committed"),
            uncommitted: consumer("read_uncommitted"),
        }
    }

    /// Whether a transaction was seen open within `patience`.
    fn wait_open(&self, patience: Duration) -> bool {
        let ends = |consumer: &BaseConsumer| -> i64 {
            (0..PARTITIONS)
                .filter_map(|p| {
                    consumer
                        .fetch_watermarks(&self.topic, p, Duration::from_secs(5))
                        .ok()
                })
                .map(|(_, high)| high)
                .sum()
        };
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            // The high watermarks first: records they count that are still past
            // the stable end read after them belong to a transaction open then
            // (read the other way round, one that commits in between would look
            // open).
            let high = ends(&self.uncommitted);
            if high > ends(&self.committed) {
                return true;
            }
        }
        false
    }
}

fn read_topic(bootstrap: &str, topic: &str, committed: bool) -> Vec<Read> {
    let consumer: BaseConsumer = support::client_config(bootstrap)
        .set("group.id", "weir-tests-cdc")
        .set("enable.auto.commit", "false")
        .set(
            "isolation.level",
            if committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let json = |bytes: Option<&[u8]>| {
        bytes.map(|b| {
            serde_json::from_slice::<Value>(b)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
        })
    };
    let mut out = Vec::new();
    let mut at_end = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while at_end.len() < PARTITIONS as usize {
        assert!(Instant::now() < deadline, "timed out reading {topic}");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => out.push(Read {
                partition: message.partition(),
                offset: message.offset(),
                key: json(message.key()),
                value: json(message.payload()),
            }),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            // The topic may not exist yet.
            Some(Err(KafkaError::MessageConsumption(_))) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Some(Err(err)) => panic!("reading {topic}: {err}"),
            None => {}
        }
    }
    out
}

/// Where a key's events have got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Live(i64),
    Deleted,
    Tombstoned,
}

/// What the change events of `accounts` add up to.
#[derive(Debug)]
struct Checked {
    /// Change events (snapshot reads, creates, updates, deletes; tombstones not).
    changes: i64,
    keys: usize,
}

/// Checks the events of every key against the versions the workload gives them and
/// against the final table; returns the totals, or panics with the first problems.
fn check_changes(records: &[Read], table: &BTreeMap<i64, i64>) -> Checked {
    let mut keys: BTreeMap<i64, KeyState> = BTreeMap::new();
    let mut problems: Vec<String> = Vec::new();
    let mut changes = 0;
    for r in records {
        let where_ = format!("partition {} offset {}", r.partition, r.offset);
        let Some(id) = r.key.as_ref().and_then(|k| k["id"].as_i64()) else {
            problems.push(format!("{where_}: no id in the key {:?}", r.key));
            continue;
        };
        let state = keys.get(&id).copied();
        let Some(value) = &r.value else {
            match state {
                Some(KeyState::Deleted) => {
                    keys.insert(id, KeyState::Tombstoned);
                }
                other => {
                    problems.push(format!("{where_}: a tombstone for {id} in state {other:?}"))
                }
            }
            continue;
        };
        changes += 1;
        let op = value["op"].as_str().unwrap_or("?");
        let version = value["after"]["version"].as_i64();
        let next = match (op, state, version) {
            ("r" | "c", None, Some(0)) => Some(KeyState::Live(0)),
            ("u", Some(KeyState::Live(v)), Some(w)) if w == v + 1 => Some(KeyState::Live(w)),
            ("d", Some(KeyState::Live(_)), None) => Some(KeyState::Deleted),
            _ => None,
        };
        match next {
            Some(next) => {
                keys.insert(id, next);
            }
            None => problems.push(format!(
                "{where_}: key {id} in state {state:?} got op {op} version {version:?}"
            )),
        }
        if problems.len() >= 20 {
            break;
        }
    }
    for (id, state) in &keys {
        match (state, table.get(id)) {
            (KeyState::Live(v), Some(w)) if v == w => {}
            (KeyState::Tombstoned, None) => {}
            (state, row) => problems.push(format!(
                "key {id} ends in state {state:?}, and the table has version {row:?}"
            )),
        }
        if problems.len() >= 40 {
            break;
        }
    }
    let unseen: Vec<&i64> = table.keys().filter(|id| !keys.contains_key(id)).collect();
    if !unseen.is_empty() {
        problems.push(format!(
            "{} rows of the table never appeared in the topic, e.g. {:?}",
            unseen.len(),
            &unseen[..unseen.len().min(5)]
        ));
    }
    assert!(
        problems.is_empty(),
        "the change events do not match the workload ({} records read):\n{}",
        records.len(),
        problems.join("\n")
    );
    Checked {
        changes,
        keys: keys.len(),
    }
}

/// `SELECT id, version FROM accounts`.
fn table_versions(pg: &PostgresServer) -> BTreeMap<i64, i64> {
    pg.psql("SELECT id, version FROM accounts")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (id, version) = line.split_once('|').expect("id|version");
            (id.parse().expect("id"), version.parse().expect("version"))
        })
        .collect()
}

/// Change events (not tombstones) in the committed part of `topic`.
fn committed_events(bootstrap: &str, topic: &str) -> i64 {
    read_topic(bootstrap, topic, true)
        .iter()
        .filter(|r| r.value.is_some())
        .count() as i64
}

/// Waits until the topic holds as many committed change events as the workload made,
/// then checks them all; returns the totals.
fn wait_and_check(
    pg: &PostgresServer,
    bootstrap: &str,
    topic: &str,
    worker: &ConnectProcess,
) -> Checked {
    let made = committed_changes(pg).expect("the workload's counter");
    let deadline = Instant::now() + catch_up_deadline(made);
    let mut seen = 0;
    while seen < made && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(2));
        seen = committed_events(bootstrap, topic);
    }
    if seen != made {
        eprintln!("the worker's log:\n{}", worker.log());
    }
    let records = read_topic(bootstrap, topic, true);
    let table = table_versions(pg);
    let checked = check_changes(&records, &table);
    assert_eq!(
        checked.changes, made,
        "the topic holds {} change events of {} keys, and the workload made {made} changes",
        checked.changes, checked.keys
    );
    checked
}

#[test]
fn exactly_once_cdc_survives_sigkill_of_the_worker() {
    let target = soak_changes();
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = PostgresServer::start();
    pg.psql(WORKLOAD_SCHEMA);
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let topic = "bank.public.accounts";
    create_topic(&broker.bootstrap, topic, PARTITIONS, &[]);
    let properties = worker_properties(dir.path(), "cdc-eos");
    let mut worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    put_connector(&worker, "bank", &exactly_once_cdc(&pg, "bank", "bank_slot"));

    // The snapshot first: rows the workload changed before the slot existed would
    // arrive as reads at a later version, which the check does not expect.
    wait_long("the snapshot committed", catch_up_deadline(0), || {
        committed_events(&broker.bootstrap, topic) >= SEEDED
    });
    let workload = start_workload(&pg, target, 0.05);

    // Killed while the workload runs and the topic grows, at three depths of the
    // stream; more rounds while no kill has yet caught a Kafka transaction open.
    let transactions = OpenTransactions::new(&broker.bootstrap, topic);
    let mut kills = 0;
    let mut aborted = 0;
    let step = (target / 8).max(1000);
    while kills < 3 || (aborted == 0 && kills < 8 && !workload.is_finished()) {
        let grown = support::watermarks(&broker.bootstrap, topic, PARTITIONS)
            .values()
            .map(|(_, high)| high)
            .sum::<i64>()
            + step;
        let grew = holds_within(catch_up_deadline(step), || {
            support::watermarks(&broker.bootstrap, topic, PARTITIONS)
                .values()
                .map(|(_, high)| high)
                .sum::<i64>()
                >= grown
        });
        assert!(
            grew,
            "after {kills} kills the topic did not grow to {grown} records; the workload has \
             made {:?} changes; the worker's log:\n{}\nPostgreSQL's log:\n{}",
            committed_changes(&pg),
            tail(&worker.log(), 80),
            tail(&pg.log(), 30)
        );
        // Into a Kafka transaction while one is open, when one opens within a few
        // seconds; else at a different moment inside the batch each time.
        if !transactions.wait_open(Duration::from_secs(5)) {
            std::thread::sleep(Duration::from_millis(37 * kills as u64));
        }
        worker.kill9();
        kills += 1;
        // The records of a transaction open at the kill lie past the last stable
        // offset: a read_uncommitted reader sees them, a read_committed one does not.
        let all = read_topic(&broker.bootstrap, topic, false).len() as i64;
        let committed = read_topic(&broker.bootstrap, topic, true).len() as i64;
        aborted = aborted.max(all - committed);
        worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    }
    match workload.join().expect("the workload thread") {
        Ok(()) => {}
        Err(e) => panic!("the workload failed: {e}"),
    }
    let checked = wait_and_check(&pg, &broker.bootstrap, topic, &worker);
    let log = worker.log();
    assert!(
        log.contains("source task writes in transactions"),
        "the task did not run in transactions:\n{log}"
    );
    // After the last kill, an open transaction's records stay in the log, aborted.
    assert!(
        aborted > 0,
        "{kills} SIGKILLs while the topic grew left no aborted records: no kill hit a \
         transaction in flight"
    );
    eprintln!(
        "{} changes of {} keys, each once and in order; {kills} SIGKILLs left at least \
         {aborted} aborted records",
        checked.changes, checked.keys
    );
}

/// How the database goes away in [`postgres_restarted_under_load_loses_nothing`].
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// `pg_ctl stop -m fast`, then a start: walsenders and backends are told to go.
    Restart,
    /// SIGKILL of the postmaster, then crash recovery: the slot's position on disk is
    /// the last checkpoint's, older than what the connector confirmed.
    Crash,
}

#[test]
fn postgres_restarted_under_load_loses_nothing() {
    let target = soak_changes();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pg = PostgresServer::start();
    pg.psql(WORKLOAD_SCHEMA);
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let topic = "ledger.public.accounts";
    create_topic(&broker.bootstrap, topic, PARTITIONS, &[]);
    let properties = worker_properties(dir.path(), "cdc-outages");
    let worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    put_connector(
        &worker,
        "ledger",
        &exactly_once_cdc(&pg, "ledger", "ledger_slot"),
    );
    wait_long("the snapshot committed", catch_up_deadline(0), || {
        committed_events(&broker.bootstrap, topic) >= SEEDED
    });

    // Each outage comes while a workload call runs; the call dies with the server
    // and is made again, carrying on from the counter its committed transactions
    // left. The connector is left to find its way back alone.
    let outages = [Outage::Restart, Outage::Crash, Outage::Restart];
    for (i, outage) in outages.iter().enumerate() {
        let workload = start_workload(&pg, target, 0.1);
        let due = target * (i as i64 + 1) / (outages.len() as i64 + 1);
        wait_long(
            "the workload to get going",
            catch_up_deadline(target),
            || committed_changes(&pg).is_some_and(|n| n >= due) || workload.is_finished(),
        );
        // The connector must be streaming, not merely reconnected, when it happens.
        let high = || {
            support::watermarks(&broker.bootstrap, topic, PARTITIONS)
                .values()
                .map(|(_, high)| high)
                .sum::<i64>()
        };
        let grown = high() + 1000;
        let streaming = holds_within(catch_up_deadline(target / 4), || high() >= grown);
        assert!(
            streaming,
            "before the {outage:?} (outage {i}) the topic did not grow to {grown} records; the \
             workload has made {:?} changes; the worker's log:\n{}\nPostgreSQL's log:\n{}",
            committed_changes(&pg),
            tail(&worker.log(), 80),
            tail(&pg.log(), 30)
        );
        match outage {
            Outage::Restart => pg.restart(),
            Outage::Crash => {
                pg.kill();
                pg.start_again();
            }
        }
        match workload.join().expect("the workload thread") {
            Ok(()) => eprintln!("the workload call ended before the {outage:?}"),
            Err(e) => eprintln!("the workload call died with the {outage:?}: {e}"),
        }
    }
    // The rest of the workload, with the connector back on its own.
    let mut attempts = 0;
    while committed_changes(&pg).is_none_or(|n| n < target) {
        attempts += 1;
        assert!(attempts <= 5, "the workload keeps failing");
        if let Err(e) = start_workload(&pg, target, 0.0)
            .join()
            .expect("the workload thread")
        {
            eprintln!("a workload call failed, making it again: {e}");
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let checked = wait_and_check(&pg, &broker.bootstrap, topic, &worker);
    let log = worker.log();
    assert!(
        log.contains("replication stream reconnected"),
        "the task never reconnected its replication stream:\n{log}"
    );
    eprintln!(
        "{} changes of {} keys through {} outages, each once and in order",
        checked.changes,
        checked.keys,
        outages.len()
    );
}

/// One reading of the slot: bytes from its restart point and from its confirmed
/// position to the server's WAL end, and the WAL written since the run began.
#[derive(Debug, Clone, Copy)]
struct SlotSample {
    retained: i64,
    lag: i64,
    written: i64,
}

fn sample_slot(pg: &PostgresServer, slot: &str, since: &str) -> SlotSample {
    let row = pg.psql(&format!(
        "SELECT (pg_current_wal_lsn() - restart_lsn)::int8, \
                (pg_current_wal_lsn() - confirmed_flush_lsn)::int8, \
                (pg_current_wal_lsn() - '{since}'::pg_lsn)::int8 \
         FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ));
    let n: Vec<i64> = row
        .split('|')
        .map(|v| v.trim().parse().expect("a number"))
        .collect();
    SlotSample {
        retained: n[0],
        lag: n[1],
        written: n[2],
    }
}

/// The value of `metric` for `connector` on the worker's `/metrics`, if shown.
fn gauge(worker: &ConnectProcess, metric: &str, connector: &str) -> Option<i64> {
    let text = Http::new(&worker.address).get("/metrics").text;
    text.lines()
        .filter(|l| l.starts_with(metric) && l.contains(&format!("connector=\"{connector}\"")))
        .find_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as i64)
}

#[test]
fn an_idle_captured_table_keeps_wal_retained_flat() {
    let secs = env_number("WEIR_CDC_IDLE_SECS", 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE quiet (id int PRIMARY KEY, note text); INSERT INTO quiet VALUES (1, 'still')",
    );
    pg.psql_in("postgres", "CREATE DATABASE other");
    pg.psql_in(
        "other",
        "CREATE TABLE churn (id int PRIMARY KEY, pad text);
         INSERT INTO churn SELECT g, '' FROM generate_series(1, 10000) g",
    );
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    create_topic(&broker.bootstrap, "quiet.public.quiet", 1, &[]);
    // Positions stored often, so a heartbeat's position is confirmed soon after it.
    let worker = ConnectProcess::worker_with(
        &broker.bootstrap,
        "cdc-idle",
        &["offset.flush.interval.ms=250"],
    );
    let name = "quiet-cdc";
    put_connector(
        &worker,
        name,
        &json!({
            "connector.class": CLASS,
            "database.hostname": pg.host(),
            "database.port": pg.port().to_string(),
            "database.user": "postgres",
            "database.dbname": pg.database(),
            "topic.prefix": "quiet",
            "slot.name": "quiet_slot",
            "table.include.list": "public.quiet",
            "heartbeat.interval.ms": "500",
            "status.update.interval.ms": "500",
            "key.converter": "json",
            "value.converter": "json",
        }),
    );
    wait_until("the task running", || task_running(&worker, name));
    wait_long("the slot's snapshot read", catch_up_deadline(0), || {
        !support::read_all(&broker.bootstrap, "quiet.public.quiet", 1)[&0].is_empty()
    });

    // PostgreSQL moves a slot's restart point only when it decodes a running-xacts
    // record, which the bgwriter logs every 15 s at most; a CHECKPOINT logs one on
    // every version, so one a second keeps the restart point's steps short next to
    // the run. What is asserted is that the slot follows them, not how fast.
    let modern = pg
        .psql("SELECT current_setting('server_version_num')::int >= 160000")
        .trim()
        == "t";
    let force_running_xacts = if modern {
        "SELECT pg_log_standby_snapshot()"
    } else {
        "CHECKPOINT"
    };
    let since = pg.psql("SELECT pg_current_wal_lsn()").trim().to_string();
    let samples = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            pg.psql_in(
                "other",
                &format!(
                    "DO $$
                     DECLARE stop timestamptz := clock_timestamp() + interval '{secs} seconds';
                             lo int;
                     BEGIN
                       WHILE clock_timestamp() < stop LOOP
                         lo := floor(random() * 9000)::int;
                         UPDATE churn SET pad = repeat(md5(random()::text), 8)
                           WHERE id BETWEEN lo AND lo + 500;
                         COMMIT;
                       END LOOP;
                     END $$"
                ),
            )
        });
        let mut samples = Vec::new();
        while !writer.is_finished() {
            std::thread::sleep(Duration::from_secs(1));
            pg.psql(force_running_xacts);
            samples.push(sample_slot(&pg, "quiet_slot", &since));
        }
        writer.join().expect("the writer");
        samples
    });
    // What the other database wrote over the run, as of the last sample.
    let written = samples.last().map_or(0, |s| s.written);
    eprintln!(
        "{} samples; WAL written by the other database: {written} bytes",
        samples.len()
    );
    for s in &samples {
        eprintln!(
            "  retained {:>12} lag {:>12} written {:>12}",
            s.retained, s.lag, s.written
        );
    }
    assert!(samples.len() >= 5, "too few samples: {samples:?}");
    assert!(
        written > 16 << 20,
        "the other database wrote only {written} bytes of WAL: not a test of retention"
    );
    // Over the second half of the run, with WAL written all along, the restart point
    // keeps stepping forward, so what the slot keeps stays bounded by a few steps'
    // worth instead of growing with what was written (a stuck slot keeps all of it).
    // The bound is loose because a step lasts as long as a CHECKPOINT under this load
    // plus the confirmation's round trip, a few seconds of a 20 s run; over a soak run
    // the same bound is a small fraction.
    let late = &samples[samples.len() / 2..];
    let max_retained = late.iter().map(|s| s.retained).max().unwrap_or(0);
    let max_lag = late.iter().map(|s| s.lag).max().unwrap_or(0);
    let steps = late
        .windows(2)
        .filter(|w| w[1].retained < w[0].retained)
        .count();
    assert!(
        steps >= 2,
        "the slot's restart point moved {steps} times in the second half of the run"
    );
    assert!(
        max_retained < written / 2,
        "the slot kept up to {max_retained} bytes of WAL in the second half of the run, of \
         {written} written: the idle slot is not advancing"
    );
    assert!(
        max_lag < written / 4,
        "the slot's confirmed position lagged by up to {max_lag} bytes of {written} written"
    );
    // Once the writes stop, the slot catches up with the server's end.
    let mut last = *samples.last().expect("samples");
    wait_until("the slot to release the run's WAL", || {
        pg.psql(force_running_xacts);
        last = sample_slot(&pg, "quiet_slot", &since);
        last.retained < written / 4 && last.lag < written / 4
    });
    // Once the writer stopped, the slot's gauges on /metrics show it (read every 5 s).
    wait_until("the slot's gauges on /metrics", || {
        gauge(&worker, "weir_postgres_slot_lag_bytes", name).is_some_and(|v| v >= 0)
            && gauge(&worker, "weir_postgres_slot_wal_retained_bytes", name).is_some_and(|v| v >= 0)
    });
    // The gauge is read from the server every 5 s: it follows the slot down.
    wait_until(
        "weir_postgres_slot_wal_retained_bytes to follow the slot",
        || {
            gauge(&worker, "weir_postgres_slot_wal_retained_bytes", name)
                .is_some_and(|v| v < written / 4)
        },
    );
}

/// A Debezium 2 config as Debezium's docs write it, with the converters' full names.
fn debezium_config(pg: &PostgresServer) -> Value {
    json!({
        "connector.class": CLASS,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": pg.host(),
        "database.port": pg.port().to_string(),
        "database.user": "postgres",
        "database.password": "",
        "database.dbname": pg.database(),
        "topic.prefix": "inventory",
        "slot.name": "inventory_slot",
        "publication.autocreate.mode": "filtered",
        "table.include.list": "public.customers",
        "snapshot.mode": "initial",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    })
}

#[test]
fn debezium_config_over_rest_with_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text)");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let topic = "inventory.public.customers";
    create_topic(&broker.bootstrap, topic, 1, &[]);
    let worker = ConnectProcess::worker(&broker.bootstrap, "cdc-rest");
    let http = Http::new(&worker.address);

    // Refused configs name the key and say what to do.
    let mut old = debezium_config(&pg);
    old["database.server.name"] = json!("inventory");
    let refused = http.put("/connectors/old/config", &old);
    assert_eq!(refused.status, 400, "{}", refused.text);
    eprintln!("refused: {}", refused.text);
    assert!(
        refused.text.contains("database.server.name") && refused.text.contains("hint"),
        "{}",
        refused.text
    );
    let mut decoderbufs = debezium_config(&pg);
    decoderbufs["plugin.name"] = json!("decoderbufs");
    let refused = http.put("/connectors/decoderbufs/config", &decoderbufs);
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("plugin.name") && refused.text.contains("pgoutput"),
        "{}",
        refused.text
    );
    eprintln!("refused: {}", refused.text);

    let created = http.put("/connectors/inventory/config", &debezium_config(&pg));
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("the task running", || task_running(&worker, "inventory"));
    wait_until("the slot", || {
        pg.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'inventory_slot'")
            .trim()
            == "1"
    });
    pg.psql("INSERT INTO customers VALUES (1001, 'Sally Thomas', 'sally@example.com')");

    let mut records = Vec::new();
    wait_long("the insert in the topic", catch_up_deadline(0), || {
        records = support::read_all(&broker.bootstrap, topic, 1)
            .remove(&0)
            .unwrap_or_default();
        !records.is_empty()
    });
    assert_eq!(records.len(), 1, "an empty table's snapshot adds nothing");
    let record = &records[0];
    let key: Value = serde_json::from_slice(record.key().expect("a key")).expect("JSON key");
    let value: Value =
        serde_json::from_slice(record.payload().expect("a value")).expect("JSON value");
    assert_eq!(
        key["schema"]["name"], "inventory.public.customers.Key",
        "{key}"
    );
    assert_eq!(key["schema"]["type"], "struct", "{key}");
    assert_eq!(key["schema"]["fields"][0]["field"], "id", "{key}");
    assert_eq!(key["payload"], json!({"id": 1001}), "{key}");
    assert_eq!(
        value["schema"]["name"], "inventory.public.customers.Envelope",
        "{value}"
    );
    let fields: Vec<&str> = value["schema"]["fields"]
        .as_array()
        .expect("envelope fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for field in ["before", "after", "source", "op", "ts_ms"] {
        assert!(fields.contains(&field), "no {field} in {fields:?}");
    }
    let payload = &value["payload"];
    assert_eq!(payload["op"], "c", "{value}");
    assert_eq!(payload["before"], Value::Null, "{value}");
    assert_eq!(
        payload["after"],
        json!({"id": 1001, "name": "Sally Thomas", "email": "sally@example.com"}),
        "{value}"
    );
    assert_eq!(payload["source"]["connector"], "postgresql", "{value}");
    assert_eq!(payload["source"]["name"], "inventory", "{value}");
    assert_eq!(payload["source"]["db"], "weir", "{value}");
    assert_eq!(payload["source"]["schema"], "public", "{value}");
    assert_eq!(payload["source"]["table"], "customers", "{value}");
}
