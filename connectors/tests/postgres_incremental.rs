//! Incremental snapshots of the PostgreSQL CDC source against a real PostgreSQL:
//! signals inserted into the signal table while the task streams, the task driven
//! through the `Source` trait as the runtime drives it (poll, store the last
//! position, commit) and restarted from the positions it produced.

#[path = "support/postgres_server.rs"]
mod postgres_server;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use postgres_server::PostgresServer;
use serde_json::Value;
use weir_connect::config::ConfigMap;
use weir_connect::{Data, Source, SourceContext, SourceRecord, Task};

const PATIENCE: Duration = Duration::from_secs(60);
const SIGNAL_TABLE: &str = "CREATE TABLE debezium_signal (id varchar(64) PRIMARY KEY, \
                            type varchar(32) NOT NULL, data varchar(2048));";
const PROGRESS: &str = "incremental_snapshot_collections";

struct Cdc {
    source: Box<dyn Source>,
    stored: Option<(Value, Value)>,
    props: ConfigMap,
    /// Every record polled (heartbeats left out), in order.
    seen: Vec<SourceRecord>,
}

fn props(pg: &PostgresServer, slot: &str, extra: &[(&str, &str)]) -> ConfigMap {
    let port = pg.port().to_string();
    let mut pairs = vec![
        (
            "connector.class",
            "io.debezium.connector.postgresql.PostgresConnector",
        ),
        ("database.hostname", "127.0.0.1"),
        ("database.port", port.as_str()),
        ("database.user", "postgres"),
        ("database.dbname", pg.database()),
        ("topic.prefix", "shop"),
        ("slot.name", slot),
        ("poll.interval.ms", "100"),
        ("signal.data.collection", "public.debezium_signal"),
        ("incremental.snapshot.chunk.size", "3"),
        ("snapshot.mode", "no_data"),
    ];
    // Later pairs win.
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend_from_slice(extra);
    weir_connect::config::config_map(&pairs)
}

impl Cdc {
    async fn open(pg: &PostgresServer, slot: &str, extra: &[(&str, &str)]) -> Cdc {
        Cdc::open_at(pg, props(pg, slot, extra), None).await
    }

    async fn open_at(pg: &PostgresServer, props: ConfigMap, stored: Option<(Value, Value)>) -> Cdc {
        let plugins = weir_connectors::plugins();
        let plugin = plugins
            .find("io.debezium.connector.postgresql.PostgresConnector")
            .expect("registered");
        let parsed = plugin.config_def().parse(&props).expect("a valid config");
        assert_eq!(plugin.validate(&parsed), []);
        let Task::Source(mut source) = plugin.create_task(&parsed).expect("a task") else {
            panic!("a source task");
        };
        source
            .open(SourceContext::new("shop-cdc", 0, stored.clone()))
            .await
            .unwrap_or_else(|e| panic!("the task did not open: {}\n{}", e.chain(), pg.log()));
        Cdc {
            source,
            stored,
            props,
            seen: Vec::new(),
        }
    }

    /// A new task from the stored positions, as after a crash of this one.
    async fn reopen(self, pg: &PostgresServer) -> Cdc {
        let Cdc {
            source,
            stored,
            props,
            ..
        } = self;
        drop(source);
        Cdc::open_at(pg, props, stored).await
    }

    async fn poll(&mut self) -> usize {
        let records = self.source.poll().await.expect("poll");
        if let Some(last) = records.last() {
            self.stored = Some((last.source_partition.clone(), last.source_offset.clone()));
            let stored = [self.stored.clone().unwrap()];
            self.source.commit(&stored).await.expect("commit");
        }
        let before = self.seen.len();
        for r in records {
            assert!(
                !r.record.topic.contains("debezium_signal"),
                "a signal table row was emitted: {:?}",
                r.record.value
            );
            if !r.record.topic.starts_with("__debezium-heartbeat") {
                self.seen.push(r);
            }
        }
        self.seen.len() - before
    }

    /// Polls until `done` holds for what was seen; fails after PATIENCE.
    async fn until(&mut self, what: &str, done: impl Fn(&Cdc) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}; seen {} records, stored {:?}",
                self.seen.len(),
                self.stored
            );
            self.poll().await;
        }
    }

    /// Polls until nothing new comes for a few polls.
    async fn drain(&mut self) {
        let mut quiet = 0;
        while quiet < 5 {
            if self.poll().await == 0 {
                quiet += 1;
            } else {
                quiet = 0;
            }
        }
    }

    /// Whether the last stored position still carries a snapshot's progress.
    fn snapshot_running(&self) -> bool {
        self.stored
            .as_ref()
            .is_some_and(|(_, offset)| offset.get(PROGRESS).is_some())
    }

    /// The incremental snapshot's reads of `topic`, by id.
    fn reads(&self, topic: &str) -> Vec<i64> {
        self.seen
            .iter()
            .filter(|r| r.record.topic == topic && r.record.value != Data::Null)
            .filter(|r| value(r)["source"]["snapshot"] == "incremental")
            .map(|r| key(r)["id"].as_i64().unwrap())
            .collect()
    }

    async fn close(mut self) {
        self.source.close().await.expect("close");
    }
}

fn value(record: &SourceRecord) -> Value {
    json_of(&record.record.value)
}

fn key(record: &SourceRecord) -> Value {
    json_of(&record.record.key)
}

fn json_of(data: &Data) -> Value {
    match data {
        Data::JsonText(text) => serde_json::from_slice(text).expect("JSON"),
        Data::Json(v) => v.clone(),
        Data::Null => Value::Null,
        other => panic!("JSON expected, got {other:?}"),
    }
}

fn execute_snapshot(pg: &PostgresServer, id: &str, data: &str) {
    signal(pg, id, "execute-snapshot", data);
}

fn signal(pg: &PostgresServer, id: &str, kind: &str, data: &str) {
    pg.psql(&format!(
        "INSERT INTO debezium_signal VALUES ('{id}', '{kind}', '{}');",
        data.replace('\'', "''")
    ));
}

fn count(pg: &PostgresServer, sql: &str) -> usize {
    pg.psql(sql).trim().parse().expect("a count")
}

fn ids(range: std::ops::RangeInclusive<i64>) -> BTreeSet<i64> {
    range.collect()
}

#[tokio::test]
async fn execute_snapshot_reads_every_row_in_chunks_while_streaming() {
    let pg = PostgresServer::start();
    pg.psql(SIGNAL_TABLE);
    pg.psql(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
         INSERT INTO debezium_signal VALUES ('old', 'log', '{}');",
    );
    // The initial snapshot reads the items, never the signal table.
    let mut cdc = Cdc::open(&pg, "incr", &[("snapshot.mode", "initial")]).await;
    cdc.until("the initial snapshot", |c| c.seen.len() >= 20)
        .await;
    assert!(cdc.reads("shop.public.items").is_empty());

    // Bad signals are logged and skipped; streaming goes on.
    signal(&pg, "bad-json", "execute-snapshot", "{not json");
    execute_snapshot(&pg, "bad-table", r#"{"data-collections":["public.nope"]}"#);
    signal(&pg, "unknown", "do-something", "");
    pg.psql("INSERT INTO items VALUES (21, 'streamed');");
    cdc.until("the streamed insert", |c| c.seen.len() >= 21)
        .await;
    assert_eq!(value(&cdc.seen[20])["op"], "c");

    let opens_before = count(
        &pg,
        "SELECT count(*) FROM debezium_signal WHERE type = 'snapshot-window-open'",
    );
    assert_eq!(opens_before, 0);
    execute_snapshot(
        &pg,
        "ad-hoc-1",
        r#"{"data-collections":["public.items"],"type":"incremental"}"#,
    );
    cdc.until("the incremental snapshot", |c| {
        c.reads("shop.public.items").len() >= 21 && !c.snapshot_running()
    })
    .await;
    cdc.drain().await;
    let reads = cdc.reads("shop.public.items");
    assert_eq!(
        reads,
        (1..=21).collect::<Vec<_>>(),
        "each row once, in key order"
    );
    for r in cdc.seen.iter().skip(21) {
        let v = value(r);
        assert_eq!(v["op"], "r");
        assert_eq!(v["before"], Value::Null);
        assert_eq!(v["source"]["snapshot"], "incremental");
        assert_eq!(v["source"]["table"], "items");
    }
    let row = value(&cdc.seen[21]);
    assert_eq!(row["after"], serde_json::json!({"id": 1, "name": "item 1"}));
    // Chunks of 3: seven windows, each opened and closed in the signal table.
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM debezium_signal WHERE type = 'snapshot-window-open'"
        ),
        7
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM debezium_signal WHERE type = 'snapshot-window-close'"
        ),
        7
    );

    // Streaming carries on after the snapshot.
    pg.psql("UPDATE items SET name = 'after' WHERE id = 2;");
    cdc.until("the update", |c| {
        c.seen.last().is_some_and(|r| value(r)["op"] == "u")
    })
    .await;
    cdc.close().await;
}

#[tokio::test]
async fn writes_racing_an_incremental_snapshot_replay_to_the_table() {
    let pg = PostgresServer::start();
    pg.psql(SIGNAL_TABLE);
    pg.psql(
        "CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL);
         INSERT INTO items SELECT g, 0 FROM generate_series(1, 300) g;",
    );
    let mut cdc = Cdc::open(&pg, "race", &[("incremental.snapshot.chunk.size", "10")]).await;
    execute_snapshot(&pg, "race-1", r#"{"data-collections":["public.items"]}"#);
    // Updates and deletes spread over the table, each in its own transaction, while
    // the chunks are read: some land before their chunk, some inside its window.
    let racing = pg.spawn_psql(
        "DO $$ BEGIN FOR i IN 1..300 LOOP
           UPDATE items SET version = version + 1 WHERE id = (i * 37) % 300 + 1;
           DELETE FROM items WHERE id = (i * 53) % 300 + 1 AND version = 0;
           INSERT INTO items VALUES (1000 + i, 0);
           COMMIT;
           PERFORM pg_sleep(0.002);
         END LOOP; END $$;",
    );
    let mut finished = false;
    let deadline = Instant::now() + PATIENCE;
    while !(finished && !cdc.snapshot_running() && !cdc.reads("shop.public.items").is_empty()) {
        assert!(Instant::now() < deadline, "the snapshot did not finish");
        cdc.poll().await;
        if !finished {
            // The writer is done once every insert is in the table.
            finished = count(&pg, "SELECT count(*) FROM items WHERE id > 1000") == 300;
        }
    }
    racing.wait();
    cdc.drain().await;

    let mut state: BTreeMap<i64, i64> = BTreeMap::new();
    let mut deleted: BTreeSet<i64> = BTreeSet::new();
    for r in &cdc.seen {
        if r.record.value == Data::Null {
            continue;
        }
        let v = value(r);
        let id = key(r)["id"].as_i64().unwrap();
        match v["op"].as_str().unwrap() {
            op @ ("r" | "c" | "u") => {
                assert!(
                    !deleted.contains(&id),
                    "row {id} came back ({op}) after its delete"
                );
                let version = v["after"]["version"].as_i64().unwrap();
                if let Some(previous) = state.get(&id) {
                    assert!(
                        version >= *previous,
                        "row {id}: version {version} ({op}) after {previous}"
                    );
                }
                state.insert(id, version);
            }
            "d" => {
                state.remove(&id);
                deleted.insert(id);
            }
            op => panic!("unexpected op {op}"),
        }
    }
    let table: BTreeMap<i64, i64> = pg
        .psql("SELECT id, version FROM items ORDER BY id")
        .lines()
        .map(|line| {
            let (id, version) = line.split_once('|').unwrap();
            (id.parse().unwrap(), version.parse().unwrap())
        })
        .collect();
    let missing: Vec<_> = table.keys().filter(|k| !state.contains_key(k)).collect();
    assert!(missing.is_empty(), "rows never delivered: {missing:?}");
    assert!(state == table, "the events do not replay to the table");
    cdc.close().await;
}

#[tokio::test]
async fn additional_conditions_snapshot_only_the_matching_rows() {
    let pg = PostgresServer::start();
    pg.psql(SIGNAL_TABLE);
    pg.psql(
        "CREATE TABLE paint (id int PRIMARY KEY, color text NOT NULL);
         INSERT INTO paint SELECT g, CASE WHEN g % 2 = 0 THEN 'blue' ELSE 'red' END
           FROM generate_series(1, 15) g;
         CREATE TABLE other (id int PRIMARY KEY);
         INSERT INTO other SELECT generate_series(1, 4);",
    );
    let mut cdc = Cdc::open(&pg, "cond", &[]).await;
    execute_snapshot(
        &pg,
        "blue-1",
        r#"{"data-collections":["public.paint","public.other"],"type":"incremental",
            "additional-conditions":[{"data-collection":"public.paint","filter":"color='blue'"}]}"#,
    );
    cdc.until("both tables", |c| {
        c.reads("shop.public.other").len() >= 4 && !c.snapshot_running()
    })
    .await;
    cdc.drain().await;
    let blue: Vec<i64> = (1..=15).filter(|i| i % 2 == 0).collect();
    assert_eq!(cdc.reads("shop.public.paint"), blue);
    for r in cdc
        .seen
        .iter()
        .filter(|r| r.record.topic == "shop.public.paint")
    {
        assert_eq!(value(r)["after"]["color"], "blue");
    }
    assert_eq!(cdc.reads("shop.public.other"), vec![1, 2, 3, 4]);
    cdc.close().await;
}

#[tokio::test]
async fn stop_pause_and_resume_signals_steer_the_snapshot() {
    let pg = PostgresServer::start();
    pg.psql(SIGNAL_TABLE);
    pg.psql(
        "CREATE TABLE a (id int PRIMARY KEY);
         CREATE TABLE b (id int PRIMARY KEY);
         INSERT INTO a SELECT generate_series(1, 30);
         INSERT INTO b SELECT generate_series(1, 30);",
    );
    let mut cdc = Cdc::open(&pg, "steer", &[]).await;
    execute_snapshot(&pg, "ab", r#"{"data-collections":["public.a","public.b"]}"#);
    cdc.until("a first chunk of a", |c| {
        !c.reads("shop.public.a").is_empty()
    })
    .await;

    // Paused: at most the chunk already read is delivered, then nothing.
    signal(&pg, "pause-1", "pause-snapshot", "");
    cdc.drain().await;
    let paused_at = cdc.reads("shop.public.a").len();
    assert!(paused_at < 30, "{paused_at} rows of a read while paused");
    let opens = "SELECT count(*) FROM debezium_signal WHERE type = 'snapshot-window-open'";
    let windows = count(&pg, opens);
    cdc.drain().await;
    assert_eq!(cdc.reads("shop.public.a").len(), paused_at);
    assert_eq!(count(&pg, opens), windows, "no window opened while paused");
    assert!(cdc.snapshot_running());

    // Resumed, then a stopped: b is read whole, a no further.
    signal(&pg, "resume-1", "resume-snapshot", "");
    cdc.until("more of a", |c| c.reads("shop.public.a").len() > paused_at)
        .await;
    signal(
        &pg,
        "stop-a",
        "stop-snapshot",
        r#"{"data-collections":["public.a"],"type":"incremental"}"#,
    );
    cdc.until("all of b", |c| {
        c.reads("shop.public.b").len() >= 30 && !c.snapshot_running()
    })
    .await;
    cdc.drain().await;
    let a = cdc.reads("shop.public.a");
    assert!(a.len() < 30, "a was stopped, yet {} rows came", a.len());
    assert_eq!(cdc.reads("shop.public.b"), (1..=30).collect::<Vec<_>>());

    // Stopping everything ends a snapshot under way.
    execute_snapshot(&pg, "a-again", r#"{"data-collections":["public.a"]}"#);
    let before = cdc.reads("shop.public.a").len();
    cdc.until("a chunk of a", |c| c.reads("shop.public.a").len() > before)
        .await;
    signal(&pg, "stop-all", "stop-snapshot", "");
    // A streamed change stores the position after the stop.
    pg.psql("INSERT INTO b VALUES (31);");
    cdc.until("the insert", |c| {
        c.seen.last().is_some_and(|r| value(r)["op"] == "c")
    })
    .await;
    cdc.drain().await;
    assert!(!cdc.snapshot_running());
    assert!(cdc.reads("shop.public.a").len() - before < 30);
    cdc.close().await;
}

#[tokio::test]
async fn a_restarted_task_resumes_the_snapshot_after_the_last_chunk_stored() {
    let pg = PostgresServer::start();
    pg.psql(SIGNAL_TABLE);
    pg.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 30) g;",
    );
    let mut cdc = Cdc::open(
        &pg,
        "resume",
        &[(
            "incremental.snapshot.watermarking.strategy",
            "insert_delete",
        )],
    )
    .await;
    execute_snapshot(&pg, "t-1", r#"{"data-collections":["public.t"]}"#);
    cdc.until("some chunks", |c| c.reads("shop.public.t").len() >= 7)
        .await;
    assert!(cdc.snapshot_running(), "{:?}", cdc.stored);
    let before: BTreeSet<i64> = cdc.reads("shop.public.t").into_iter().collect();

    let mut cdc = cdc.reopen(&pg).await;
    cdc.until("the rest", |c| {
        !c.reads("shop.public.t").is_empty() && !c.snapshot_running()
    })
    .await;
    cdc.drain().await;
    let after = cdc.reads("shop.public.t");
    assert!(
        after.len() < 30,
        "the snapshot started over: {} rows after the restart",
        after.len()
    );
    let all: BTreeSet<i64> = before.iter().copied().chain(after).collect();
    assert_eq!(all, ids(1..=30), "no key missing");
    // insert_delete leaves no markers behind.
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM debezium_signal WHERE type LIKE 'snapshot-window%'"
        ),
        0
    );
    cdc.close().await;
}

#[tokio::test]
async fn signal_channels_other_than_the_source_are_refused() {
    let plugins = weir_connectors::plugins();
    let plugin = plugins
        .find("io.debezium.connector.postgresql.PostgresConnector")
        .expect("registered");
    let map = |channels: &str| {
        weir_connect::config::config_map(&[
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "p"),
            ("signal.data.collection", "public.debezium_signal"),
            ("signal.enabled.channels", channels),
        ])
    };
    assert!(plugin.config_def().parse(&map("source")).is_ok());
    let err = plugin
        .config_def()
        .parse(&map("source,kafka"))
        .expect_err("kafka refused");
    assert!(format!("{err:?}").contains("kafka"), "{err:?}");
    let bad_table = weir_connect::config::config_map(&[
        ("database.hostname", "h"),
        ("database.user", "u"),
        ("database.dbname", "d"),
        ("topic.prefix", "p"),
        ("signal.data.collection", "debezium_signal"),
    ]);
    assert!(plugin.config_def().parse(&bad_table).is_err());
}
