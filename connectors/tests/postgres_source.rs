//! The PostgreSQL CDC source against a real PostgreSQL (started per test with
//! `wal_level=logical`): the task is driven through the `Source` trait as the runtime
//! drives it — poll, store the last position, commit — and restarted from the
//! positions it produced. Events are compared field by field with Debezium's shapes.

#[path = "support/postgres_server.rs"]
mod postgres_server;

use std::time::{Duration, Instant};

use postgres_server::PostgresServer;
use serde_json::{json, Value};
use weir_connect::config::ConfigMap;
use weir_connect::{ConnectError, Data, Source, SourceContext, SourceRecord, Task};

/// How long a test waits for events it expects.
const PATIENCE: Duration = Duration::from_secs(30);

/// A CDC task and the positions the "runtime" stored for it.
struct Cdc {
    source: Box<dyn Source>,
    stored: Option<(Value, Value)>,
    props: ConfigMap,
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
    ];
    pairs.extend_from_slice(extra);
    weir_connect::config::config_map(&pairs)
}

async fn make(props: &ConfigMap) -> Box<dyn Source> {
    let plugins = weir_connectors::plugins();
    let plugin = plugins
        .find("io.debezium.connector.postgresql.PostgresConnector")
        .expect("the PostgreSQL connector is registered under Debezium's class name");
    let parsed = plugin.config_def().parse(props).expect("a valid config");
    assert_eq!(plugin.validate(&parsed), []);
    let Task::Source(source) = plugin.create_task(&parsed).expect("a task") else {
        panic!("the PostgreSQL connector makes source tasks");
    };
    source
}

impl Cdc {
    async fn open(pg: &PostgresServer, slot: &str, extra: &[(&str, &str)]) -> Cdc {
        Cdc::try_open(props(pg, slot, extra), None)
            .await
            .unwrap_or_else(|e| panic!("the task did not open: {}\n{}", e.chain(), pg.log()))
    }

    async fn try_open(
        props: ConfigMap,
        stored: Option<(Value, Value)>,
    ) -> Result<Cdc, ConnectError> {
        let mut source = make(&props).await;
        source
            .open(SourceContext::new("shop-cdc", 0, stored.clone()))
            .await?;
        Ok(Cdc {
            source,
            stored,
            props,
        })
    }

    /// A new task from the stored positions, as after a crash of this one.
    async fn reopen(self) -> Cdc {
        let Cdc {
            props,
            stored,
            source,
        } = self;
        drop(source);
        Cdc::try_open(props, stored)
            .await
            .expect("the task reopens")
    }

    /// One poll, then the positions stored and committed as the runtime does.
    async fn poll(&mut self) -> Vec<SourceRecord> {
        let records = self.source.poll().await.expect("poll");
        if let Some(last) = records.last() {
            self.stored = Some((last.source_partition.clone(), last.source_offset.clone()));
            let stored = [self.stored.clone().unwrap()];
            self.source.commit(&stored).await.expect("commit");
        }
        records
    }

    /// Polls until `n` records (heartbeats not counted) came; fails after PATIENCE.
    async fn take(&mut self, n: usize) -> Vec<SourceRecord> {
        let deadline = Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while out.len() < n {
            assert!(
                Instant::now() < deadline,
                "expected {n} records, got {}: {:#?}",
                out.len(),
                out.iter()
                    .map(|r: &SourceRecord| &r.record.value)
                    .collect::<Vec<_>>()
            );
            out.extend(
                self.poll()
                    .await
                    .into_iter()
                    .filter(|r| !r.record.topic.starts_with("__debezium-heartbeat")),
            );
        }
        out
    }

    /// Polls until nothing new comes for a while; returns what came.
    async fn drain(&mut self) -> Vec<SourceRecord> {
        let mut out = Vec::new();
        let mut quiet = 0;
        while quiet < 3 {
            let batch: Vec<_> = self
                .poll()
                .await
                .into_iter()
                .filter(|r| !r.record.topic.starts_with("__debezium-heartbeat"))
                .collect();
            if batch.is_empty() {
                quiet += 1;
            } else {
                quiet = 0;
                out.extend(batch);
            }
        }
        out
    }

    async fn close(mut self) {
        self.source.close().await.expect("close");
    }
}

fn value(record: &SourceRecord) -> Value {
    json_of(&record.record.value, "value")
}

fn key(record: &SourceRecord) -> Value {
    json_of(&record.record.key, "key")
}

/// The JSON a record's key or value holds (the connector writes JSON text).
fn json_of(data: &Data, what: &str) -> Value {
    match data {
        Data::JsonText(text) => serde_json::from_slice(text)
            .unwrap_or_else(|e| panic!("the {what} is not JSON ({e}): {data:?}")),
        Data::Json(v) => v.clone(),
        Data::Null => Value::Null,
        other => panic!("a JSON {what}, got {other:?}"),
    }
}

fn header(record: &SourceRecord, name: &str) -> Option<String> {
    record
        .record
        .header(name)
        .and_then(|h| h.value.as_ref())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn confirmed_flush(pg: &PostgresServer, slot: &str) -> String {
    pg.psql(&format!(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
}

#[tokio::test]
async fn inserts_updates_and_deletes_are_debezium_change_events() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email varchar(64));");
    let mut cdc = Cdc::open(&pg, "crud", &[]).await;
    assert!(
        cdc.drain().await.is_empty(),
        "an empty table snapshots to nothing"
    );

    pg.psql("INSERT INTO customers VALUES (1, 'Ann', 'ann@example.com');");
    pg.psql("UPDATE customers SET email = 'ann@example.org' WHERE id = 1;");
    pg.psql("DELETE FROM customers WHERE id = 1;");
    let records = cdc.take(4).await;
    let topics: Vec<&str> = records.iter().map(|r| r.record.topic.as_str()).collect();
    assert_eq!(topics, ["shop.public.customers"; 4]);
    for r in &records {
        assert_eq!(key(r), json!({"id": 1}));
    }

    let create = value(&records[0]);
    assert_eq!(create["op"], "c");
    assert_eq!(create["before"], Value::Null);
    assert_eq!(
        create["after"],
        json!({"id": 1, "name": "Ann", "email": "ann@example.com"})
    );
    let source = &create["source"];
    assert_eq!(source["connector"], "postgresql");
    assert_eq!(source["name"], "shop");
    assert_eq!(source["db"], pg.database());
    assert_eq!(source["schema"], "public");
    assert_eq!(source["table"], "customers");
    assert_eq!(source["snapshot"], "false");
    assert!(source["txId"].is_u64(), "{source}");
    assert!(source["lsn"].is_u64(), "{source}");
    assert!(source["ts_ms"].is_i64() && source["ts_us"].is_i64() && source["ts_ns"].is_i64());
    assert_eq!(
        source["ts_us"].as_i64().unwrap() / 1000,
        source["ts_ms"].as_i64().unwrap()
    );
    let sequence: Vec<Value> = serde_json::from_str(source["sequence"].as_str().unwrap()).unwrap();
    assert_eq!(sequence.len(), 2);
    assert_eq!(
        sequence[1],
        json!(source["lsn"].as_u64().unwrap().to_string())
    );
    assert!(create["ts_ms"].as_i64().unwrap() >= source["ts_ms"].as_i64().unwrap());

    // REPLICA IDENTITY DEFAULT: an update has no `before`, a delete only the key.
    let update = value(&records[1]);
    assert_eq!(update["op"], "u");
    assert_eq!(update["before"], Value::Null);
    assert_eq!(update["after"]["email"], "ann@example.org");
    let delete = value(&records[2]);
    assert_eq!(delete["op"], "d");
    assert_eq!(
        delete["before"],
        json!({"id": 1, "name": null, "email": null})
    );
    assert_eq!(delete["after"], Value::Null);
    assert_eq!(
        records[3].record.value,
        Data::Null,
        "a tombstone follows the delete"
    );

    // Key and value carry Debezium's schemas.
    let key_schema = records[0]
        .record
        .key_schema
        .as_deref()
        .expect("a key schema");
    assert_eq!(key_schema["name"], "shop.public.customers.Key");
    assert_eq!(
        key_schema["fields"][0],
        json!({"type": "int32", "optional": false, "field": "id"})
    );
    let envelope = records[0]
        .record
        .value_schema
        .as_deref()
        .expect("a value schema");
    assert_eq!(envelope["name"], "shop.public.customers.Envelope");
    let fields: Vec<&str> = envelope["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "before",
            "after",
            "source",
            "transaction",
            "op",
            "ts_ms",
            "ts_us",
            "ts_ns"
        ]
    );
    let after = &envelope["fields"][1];
    assert_eq!(after["name"], "shop.public.customers.Value");
    assert_eq!(
        after["fields"],
        json!([
            {"type": "int32", "optional": false, "field": "id"},
            {"type": "string", "optional": false, "field": "name"},
            {"type": "string", "optional": true, "field": "email"},
        ])
    );
    assert_eq!(
        envelope["fields"][2]["name"],
        "io.debezium.connector.postgresql.Source"
    );
    cdc.close().await;
}

#[tokio::test]
async fn a_snapshot_reads_existing_rows_then_changes_stream() {
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE a (id int PRIMARY KEY, v text);
         CREATE TABLE b (id int PRIMARY KEY, v text);
         INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 5) g;
         INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 3) g;",
    );
    let mut cdc = Cdc::open(
        &pg,
        "snap",
        &[("snapshot.fetch.size", "2"), ("max.batch.size", "3")],
    )
    .await;
    let records = cdc.take(8).await;
    let markers: Vec<String> = records
        .iter()
        .map(|r| value(r)["source"]["snapshot"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        markers,
        [
            "first",
            "true",
            "true",
            "true",
            "last_in_data_collection",
            "first_in_data_collection",
            "true",
            "last",
        ]
    );
    for r in &records {
        assert_eq!(value(r)["op"], "r");
        assert_eq!(value(r)["before"], Value::Null);
    }
    assert_eq!(value(&records[0])["after"], json!({"id": 1, "v": "a1"}));
    assert_eq!(records[7].record.topic, "shop.public.b");

    pg.psql("INSERT INTO a VALUES (6, 'a6');");
    let next = cdc.take(1).await;
    assert_eq!(value(&next[0])["op"], "c");
    assert_eq!(value(&next[0])["after"], json!({"id": 6, "v": "a6"}));
    cdc.close().await;
}

#[tokio::test]
async fn writes_racing_the_snapshot_are_neither_lost_nor_doubled() {
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL);
         INSERT INTO items SELECT g, 0 FROM generate_series(1, 20000) g;",
    );
    // Writers bump versions, insert and delete rows while the snapshot reads.
    let racing = pg.spawn_psql(
        "DO $$ BEGIN FOR i IN 1..400 LOOP
           UPDATE items SET version = version + 1 WHERE id = (i * 37) % 20000 + 1;
           INSERT INTO items VALUES (20000 + i, 0);
           DELETE FROM items WHERE id = (i * 53) % 20000 + 1 AND version = 0;
           COMMIT;
         END LOOP; END $$;",
    );
    let mut cdc = Cdc::open(&pg, "race", &[("snapshot.fetch.size", "500")]).await;
    racing.wait();
    let records = cdc.drain().await;

    // Replaying the events gives the table; every row's versions arrive in order
    // and none twice.
    let mut state: std::collections::BTreeMap<i64, i64> = Default::default();
    for r in &records {
        if r.record.value == Data::Null {
            continue;
        }
        let v = value(r);
        let id = key(r)["id"].as_i64().unwrap();
        match v["op"].as_str().unwrap() {
            "r" | "c" | "u" => {
                let version = v["after"]["version"].as_i64().unwrap();
                if let Some(previous) = state.get(&id) {
                    assert!(
                        version > *previous || v["op"] == "c",
                        "row {id}: version {version} after {previous} ({})",
                        v["op"]
                    );
                }
                state.insert(id, version);
            }
            "d" => {
                assert!(
                    state.remove(&id).is_some(),
                    "row {id} deleted twice or never read"
                );
            }
            op => panic!("unexpected op {op}"),
        }
    }
    let table: std::collections::BTreeMap<i64, i64> = pg
        .psql("SELECT id, version FROM items ORDER BY id")
        .lines()
        .map(|line| {
            let (id, version) = line.split_once('|').unwrap();
            (id.parse().unwrap(), version.parse().unwrap())
        })
        .collect();
    assert_eq!(state.len(), table.len());
    assert!(state == table, "the events do not replay to the table");
    cdc.close().await;
}

#[tokio::test]
async fn a_primary_key_change_is_a_delete_a_tombstone_and_a_create() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text);");
    let mut cdc = Cdc::open(&pg, "pk", &[]).await;
    cdc.drain().await;
    pg.psql("INSERT INTO t VALUES (1, 'x'); UPDATE t SET id = 2 WHERE id = 1;");
    let records = cdc.take(4).await;
    assert_eq!(value(&records[0])["op"], "c");
    let delete = &records[1];
    assert_eq!(value(delete)["op"], "d");
    assert_eq!(key(delete), json!({"id": 1}));
    assert_eq!(
        header(delete, "__debezium.newkey").as_deref(),
        Some(r#"{"id":2}"#)
    );
    assert_eq!(records[2].record.value, Data::Null);
    assert_eq!(key(&records[2]), json!({"id": 1}));
    let create = &records[3];
    assert_eq!(value(create)["op"], "c");
    assert_eq!(key(create), json!({"id": 2}));
    assert_eq!(value(create)["after"], json!({"id": 2, "v": "x"}));
    assert_eq!(
        header(create, "__debezium.oldkey").as_deref(),
        Some(r#"{"id":1}"#)
    );
    cdc.close().await;
}

#[tokio::test]
async fn replica_identity_full_gives_updates_and_deletes_their_before() {
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text, big text);
         ALTER TABLE t REPLICA IDENTITY FULL;
         CREATE TABLE toasted (id int PRIMARY KEY, v int, big text);",
    );
    let mut cdc = Cdc::open(&pg, "full", &[("tombstones.on.delete", "false")]).await;
    cdc.drain().await;
    pg.psql(
        "INSERT INTO t VALUES (1, 'x', 'b'); UPDATE t SET v = 'y'; DELETE FROM t;
         INSERT INTO toasted SELECT 1, 0, string_agg(md5(g::text), '') FROM generate_series(1, 400) g;
         UPDATE toasted SET v = 1;",
    );
    let records = cdc.take(5).await;
    assert_eq!(
        value(&records[1])["before"],
        json!({"id": 1, "v": "x", "big": "b"})
    );
    assert_eq!(
        value(&records[1])["after"],
        json!({"id": 1, "v": "y", "big": "b"})
    );
    assert_eq!(
        value(&records[2])["before"],
        json!({"id": 1, "v": "y", "big": "b"})
    );
    // An update that leaves a TOASTed value alone does not carry it (DEFAULT identity).
    let update = value(&records[4]);
    assert_eq!(update["op"], "u");
    assert_eq!(update["after"]["v"], 1);
    assert_eq!(update["after"]["big"], "__debezium_unavailable_value");
    cdc.close().await;
}

#[tokio::test]
async fn truncates_messages_and_transaction_metadata_are_events_too() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);");
    let mut cdc = Cdc::open(
        &pg,
        "meta",
        &[
            ("skipped.operations", "none"),
            ("provide.transaction.metadata", "true"),
        ],
    )
    .await;
    cdc.drain().await;
    pg.psql(
        "BEGIN; INSERT INTO t VALUES (1), (2);
         SELECT pg_logical_emit_message(true, 'audit', 'who=ann'); COMMIT;
         TRUNCATE t;",
    );
    let records = cdc.take(7).await;
    let shape: Vec<(String, Value)> = records
        .iter()
        .map(|r| {
            let v = value(r);
            (
                r.record.topic.clone(),
                v.get("op").or(v.get("status")).cloned().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("shop.transaction".to_string(), json!("BEGIN")),
            ("shop.public.t".to_string(), json!("c")),
            ("shop.public.t".to_string(), json!("c")),
            ("shop.message".to_string(), json!("m")),
            ("shop.transaction".to_string(), json!("END")),
            ("shop.transaction".to_string(), json!("BEGIN")),
            ("shop.public.t".to_string(), json!("t")),
        ]
    );
    let begin = value(&records[0]);
    let id = begin["id"].as_str().unwrap();
    let tx_id = value(&records[1])["source"]["txId"].as_u64().unwrap();
    assert!(id.starts_with(&format!("{tx_id}:")), "{id}");
    assert_eq!(
        value(&records[2])["transaction"],
        json!({"id": id, "total_order": 2, "data_collection_order": 2})
    );
    let message = value(&records[3]);
    assert_eq!(message["message"]["prefix"], "audit");
    assert_eq!(message["message"]["content"], "d2hvPWFubg==");
    assert_eq!(key(&records[3]), json!({"prefix": "audit"}));
    let end = value(&records[4]);
    assert_eq!(end["event_count"], 2);
    assert_eq!(
        end["data_collections"],
        json!([{"data_collection": "public.t", "event_count": 2}])
    );
    assert_eq!(key(&records[6]), Value::Null);
    cdc.close().await;
}

#[tokio::test]
async fn a_column_added_mid_stream_appears_in_the_next_events() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);");
    let mut cdc = Cdc::open(&pg, "ddl", &[]).await;
    cdc.drain().await;
    pg.psql(
        "INSERT INTO t VALUES (1);
         ALTER TABLE t ADD COLUMN note text NOT NULL DEFAULT 'n';
         INSERT INTO t VALUES (2, 'two');",
    );
    let mut records = cdc.take(2).await;
    pg.psql("ALTER TABLE t DROP COLUMN note; INSERT INTO t VALUES (3);");
    records.extend(cdc.take(1).await);
    assert_eq!(value(&records[0])["after"], json!({"id": 1}));
    assert_eq!(value(&records[1])["after"], json!({"id": 2, "note": "two"}));
    let schema = records[1].record.value_schema.as_deref().unwrap();
    assert_eq!(
        schema["fields"][1]["fields"][1],
        json!({"type": "string", "optional": false, "field": "note"})
    );
    assert_eq!(value(&records[2])["after"], json!({"id": 3}));
    cdc.close().await;
}

#[tokio::test]
async fn a_restart_inside_a_transaction_repeats_nothing_delivered() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);");
    let mut cdc = Cdc::open(&pg, "resume", &[("max.batch.size", "4")]).await;
    cdc.drain().await;
    pg.psql("INSERT INTO t SELECT generate_series(1, 10);");
    // One poll: the first records of the transaction, with their position stored.
    let first = cdc.take(1).await;
    assert!(
        first.len() < 10,
        "{} records in one poll of at most 4",
        first.len()
    );
    let delivered = first.len();
    let mut cdc = cdc.reopen().await;
    let rest = cdc.drain().await;
    let ids: Vec<i64> = first
        .iter()
        .chain(&rest)
        .map(|r| key(r)["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=10).collect::<Vec<_>>(),
        "{delivered} delivered before the restart"
    );
    cdc.close().await;
}

#[tokio::test]
async fn the_slot_is_confirmed_only_for_stored_positions() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);");
    let mut cdc = Cdc::open(&pg, "confirm", &[("status.update.interval.ms", "100")]).await;
    cdc.drain().await;
    let before = confirmed_flush(&pg, "confirm");
    pg.psql("INSERT INTO t VALUES (1);");
    // Polled but not stored: nothing is confirmed.
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.is_empty() {
        assert!(Instant::now() < deadline, "no change arrived");
        got = cdc.source.poll().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(confirmed_flush(&pg, "confirm"), before);
    // Stored: confirmed.
    let stored = [(
        got[0].source_partition.clone(),
        got[0].source_offset.clone(),
    )];
    cdc.source.commit(&stored).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while confirmed_flush(&pg, "confirm") == before {
        assert!(Instant::now() < deadline, "the slot never advanced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cdc.close().await;
}

#[tokio::test]
async fn bad_servers_and_users_get_errors_that_say_what_to_do() {
    let replica = PostgresServer::start_with(&["wal_level=replica"]);
    let err = Cdc::try_open(props(&replica, "s", &[]), None)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("wal_level = logical"), "{err}");
    drop(replica);

    let pg = PostgresServer::start();
    pg.psql("CREATE ROLE reader LOGIN; CREATE TABLE t (id int PRIMARY KEY);");
    let mut p = props(&pg, "s", &[]);
    p.insert("database.user".into(), "reader".into());
    let err = Cdc::try_open(p, None).await.err().expect("refused");
    assert!(
        err.to_string()
            .contains("ALTER ROLE \"reader\" REPLICATION"),
        "{err}"
    );

    let p = props(&pg, "s", &[("publication.autocreate.mode", "disabled")]);
    let err = Cdc::try_open(p, None).await.err().expect("refused");
    assert!(err.to_string().contains("does not exist"), "{err}");

    pg.psql("CREATE TABLE nokey (v int);");
    let err = Cdc::try_open(props(&pg, "s", &[]), None)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("public.nokey"), "{err}");
    let mut cdc = Cdc::try_open(
        props(&pg, "s", &[("table.exclude.list", "public.nokey")]),
        None,
    )
    .await
    .expect("opens without the table");
    cdc.drain().await;
    let err = Cdc::try_open(
        props(&pg, "s", &[("table.exclude.list", "public.nokey")]),
        None,
    )
    .await
    .err()
    .expect("the slot is taken");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    cdc.close().await;
}

#[tokio::test]
async fn heartbeats_move_the_slot_while_captured_tables_are_idle() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY); CREATE DATABASE other;");
    let mut cdc = Cdc::open(
        &pg,
        "idle",
        &[
            ("heartbeat.interval.ms", "200"),
            ("status.update.interval.ms", "100"),
        ],
    )
    .await;
    cdc.drain().await;
    let start = confirmed_flush(&pg, "idle");
    pg.psql_in("other", "CREATE TABLE noise (v text); INSERT INTO noise SELECT repeat('x', 100) FROM generate_series(1, 10000);");
    let deadline = Instant::now() + PATIENCE;
    let mut heartbeats = 0;
    while confirmed_flush(&pg, "idle") == start {
        assert!(Instant::now() < deadline, "heartbeats never moved the slot");
        for r in cdc.poll().await {
            assert_eq!(r.record.topic, "__debezium-heartbeat.shop");
            assert_eq!(r.record.key, Data::Json(json!({"serverName": "shop"})));
            assert!(value(&r)["ts_ms"].is_i64());
            heartbeats += 1;
        }
    }
    assert!(heartbeats > 0);
    cdc.close().await;
}

/// One value of each type, as Debezium's PostgreSQL connector documents the mapping
/// (data types table, default modes): `(column type, SQL literal, expected value)`.
const TYPES: &[(&str, &str, &str)] = &[
    ("boolean", "true", "true"),
    ("smallint", "7", "7"),
    ("integer", "42", "42"),
    ("bigint", "9007199254740993", "9007199254740993"),
    ("real", "3.3", "3.3"),
    ("double precision", "2.5", "2.5"),
    ("numeric(10,2)", "-1.00", r#""nA==""#),
    ("numeric", "1.10", r#"{"scale":1,"value":"Cw=="}"#),
    ("money", "'1234.11'", r#""AeIT""#),
    ("date", "'2016-11-04'", "17109"),
    ("time(3)", "'13:51:30.123'", "49890123"),
    ("time", "'24:00:00'", "86400000000"),
    (
        "timestamp",
        "'2018-06-20 15:13:16.945104'",
        "1529507596945104",
    ),
    ("timestamp(3)", "'2018-06-20 15:13:16.945'", "1529507596945"),
    (
        "timestamptz",
        "'2024-01-02 03:04:05.6+02'",
        r#""2024-01-02T01:04:05.600000Z""#,
    ),
    ("timetz", "'13:51:30.123789+02'", r#""11:51:30.123789Z""#),
    ("interval", "'P1Y2M3DT4H5M6.78S'", "37091106780000"),
    ("json", r#"'{"a": 1}'"#, r#""{\"a\": 1}""#),
    ("jsonb", r#"'{"a":1}'"#, r#""{\"a\": 1}""#),
    (
        "uuid",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        r#""a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11""#,
    ),
    ("bytea", r"'\x010203'", r#""AQID""#),
    ("integer[]", "'{1,2,NULL}'", "[1,2,null]"),
    ("text[]", r#"'{"a b","c\"d"}'"#, r#"["a b","c\"d"]"#),
    ("mood", "'happy'", r#""happy""#),
    ("bit(1)", "B'1'", "true"),
    ("bit(2)", "B'11'", r#""Aw==""#),
    ("inet", "'10.0.0.1'", r#""10.0.0.1""#),
    ("point", "'(1,2)'", r#""(1,2)""#),
    ("xml", "'<a/>'", r#""<a/>""#),
    ("varchar(5)", "'ab'", r#""ab""#),
    ("char(3)", "'ab'", r#""ab ""#),
    ("positive", "5", "5"),
];

#[tokio::test]
async fn every_type_maps_as_debezium_documents_in_snapshots_and_changes() {
    let pg = PostgresServer::start();
    let columns: Vec<String> = TYPES
        .iter()
        .enumerate()
        .map(|(i, (ty, _, _))| format!("c{i} {ty}"))
        .collect();
    let values: Vec<&str> = TYPES.iter().map(|(_, v, _)| *v).collect();
    pg.psql(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
         CREATE TABLE typed (id int PRIMARY KEY, {});
         INSERT INTO typed VALUES (1, {});",
        columns.join(", "),
        values.join(", ")
    ));
    let mut cdc = Cdc::open(&pg, "types", &[]).await;
    let snapshot = cdc.take(1).await;
    pg.psql(&format!(
        "INSERT INTO typed VALUES (2, {});",
        values.join(", ")
    ));
    let change = cdc.take(1).await;
    for (record, op) in [(&snapshot[0], "r"), (&change[0], "c")] {
        let after = &value(record)["after"];
        assert_eq!(value(record)["op"], op);
        for (i, (ty, literal, expected)) in TYPES.iter().enumerate() {
            let expected: Value = serde_json::from_str(expected).unwrap();
            assert_eq!(after[format!("c{i}")], expected, "{ty} {literal} ({op})");
        }
    }
    let schema = change[0].record.value_schema.as_deref().unwrap();
    let field = |i: usize| schema["fields"][1]["fields"][i + 1].clone();
    assert_eq!(field(9)["name"], "io.debezium.time.Date");
    assert_eq!(field(6)["name"], "org.apache.kafka.connect.data.Decimal");
    assert_eq!(field(6)["parameters"]["scale"], "2");
    assert_eq!(field(23)["name"], "io.debezium.data.Enum");
    assert_eq!(field(23)["parameters"]["allowed"], "sad,happy");
    assert_eq!(field(21)["type"], "array");
    cdc.close().await;
}

#[tokio::test]
async fn decimal_and_time_modes_change_the_mapping() {
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE m (id int PRIMARY KEY, n numeric(10,2), t timestamp, i interval, b bytea);
         INSERT INTO m VALUES (1, 12.50, '2018-06-20 15:13:16.945104', '1 day', '\\xfbff');",
    );
    let mut cdc = Cdc::open(
        &pg,
        "modes",
        &[
            ("decimal.handling.mode", "string"),
            ("time.precision.mode", "connect"),
            ("interval.handling.mode", "string"),
            ("binary.handling.mode", "hex"),
        ],
    )
    .await;
    let records = cdc.take(1).await;
    assert_eq!(
        value(&records[0])["after"],
        json!({"id": 1, "n": "12.50", "t": 1529507596945_i64, "i": "P0Y0M1DT0H0M0S", "b": "fbff"})
    );
    cdc.close().await;
}

#[tokio::test]
async fn a_restarted_server_is_reconnected_to_after_the_last_record() {
    let mut pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);");
    let mut cdc = Cdc::open(&pg, "restart", &[]).await;
    cdc.drain().await;
    pg.psql("INSERT INTO t SELECT generate_series(1, 100);");
    let mut ids: Vec<i64> = cdc
        .take(100)
        .await
        .iter()
        .map(|r| key(r)["id"].as_i64().unwrap())
        .collect();
    for (round, kill) in [(1, false), (2, true)] {
        if kill {
            pg.kill();
            pg.start_again();
        } else {
            pg.restart();
        }
        pg.psql(&format!(
            "INSERT INTO t SELECT generate_series({}, {});",
            round * 100 + 1,
            round * 100 + 100
        ));
        // Polls fail while the old connections die; the runtime retries them.
        let deadline = Instant::now() + PATIENCE;
        while ids.len() < (round as usize + 1) * 100 {
            assert!(
                Instant::now() < deadline,
                "no reconnection after round {round}"
            );
            match cdc.source.poll().await {
                Ok(records) => {
                    if let Some(last) = records.last() {
                        let stored = [(last.source_partition.clone(), last.source_offset.clone())];
                        cdc.source.commit(&stored).await.unwrap();
                    }
                    ids.extend(records.iter().map(|r| key(r)["id"].as_i64().unwrap()));
                }
                Err(e) => {
                    assert!(e.is_retryable(), "{}", e.chain());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    assert_eq!(ids, (1..=300).collect::<Vec<_>>());
    cdc.close().await;
}

#[tokio::test]
async fn slot_drop_on_stop_drops_the_slot_when_the_task_closes() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (id int PRIMARY KEY);");
    let mut cdc = Cdc::open(&pg, "dropped", &[("slot.drop.on.stop", "true")]).await;
    cdc.drain().await;
    assert_eq!(pg.psql("SELECT count(*) FROM pg_replication_slots"), "1");
    cdc.close().await;
    assert_eq!(pg.psql("SELECT count(*) FROM pg_replication_slots"), "0");
}
