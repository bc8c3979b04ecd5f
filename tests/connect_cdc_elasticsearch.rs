//! End-to-end CDC into a search index: a real PostgreSQL → the PostgreSQL CDC source →
//! a topic → the Elasticsearch sink with `ExtractNewRecordState` → a real
//! `osmem-server` index, documents named by primary key. The source and the sink run
//! as two `weir connect run` processes on a real `weir broker`; the sink's process is
//! SIGKILLed while inserts, updates and deletes stream through, and started again.
//!
//! In the end the index must equal the table row for row: the same ids, and each
//! document the row's columns. Replays after the kill are harmless because the sink
//! writes with external versions (the Kafka offset), so an older write of a document
//! never overwrites a newer one, and a replayed delete stays a delete.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{create_topic, BrokerProcess, ConnectProcess, PostgresServer, SearchServer};

const TOPIC: &str = "shop.public.items";

fn source_pipeline(pg: &PostgresServer) -> String {
    format!(
        r#"name: items-cdc
source:
  connector: io.debezium.connector.postgresql.PostgresConnector
  database.hostname: {host}
  database.port: {port}
  database.user: postgres
  database.dbname: {database}
  topic.prefix: shop
  slot.name: weir_items
  publication.name: weir_items
  publication.autocreate.mode: filtered
  table.include.list: public.items
  converters: {{key: json, value: json}}
"#,
        host = pg.host(),
        port = pg.port(),
        database = pg.database()
    )
}

/// The sink as a Kafka Connect user of Confluent's connector writes it for a
/// Debezium topic: the row after the change, the primary key as the document id, and
/// tombstones deleting.
fn sink_pipeline(url: &str) -> String {
    format!(
        r#"name: items-search
sink:
  connector: io.confluent.connect.elasticsearch.ElasticsearchSinkConnector
  topics: [{TOPIC}]
  connection.url: {url}
  key.ignore: false
  behavior.on.null.values: delete
  converters: {{key: json, value: json}}
  batch.max.records: 100
  transforms:
    - name: unwrap
      type: io.debezium.transforms.ExtractNewRecordState
      delete.handling.mode: none
      drop.tombstones: false
    - name: id
      type: ExtractField$Key
      field: id
"#
    )
}

/// The table, by id as text, each row as JSON.
fn table(pg: &PostgresServer) -> BTreeMap<String, Value> {
    pg.psql("SELECT row_to_json(t) FROM items t ORDER BY id")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let row: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("psql printed {line}: {err}"));
            (row["id"].to_string(), row)
        })
        .collect()
}

/// The index, by document id, each document's source.
fn index(search: &SearchServer) -> BTreeMap<String, Value> {
    if search.count(TOPIC) == 0 {
        return BTreeMap::new();
    }
    search
        .search(TOPIC, serde_json::json!({"match_all": {}}), 10_000)
        .into_iter()
        .map(|document| (document["id"].to_string(), document))
        .collect()
}

/// What differs between the table and the index, or `None` when they are equal.
fn difference(table: &BTreeMap<String, Value>, index: &BTreeMap<String, Value>) -> Option<String> {
    let missing: Vec<&String> = table.keys().filter(|id| !index.contains_key(*id)).collect();
    let extra: Vec<&String> = index.keys().filter(|id| !table.contains_key(*id)).collect();
    let changed: Vec<(&Value, &Value)> = table
        .iter()
        .filter_map(|(id, row)| {
            index
                .get(id)
                .filter(|doc| *doc != row)
                .map(|doc| (row, doc))
        })
        .collect();
    if missing.is_empty() && extra.is_empty() && changed.is_empty() {
        return None;
    }
    Some(format!(
        "{} rows / {} documents; missing {} (e.g. {:?}), extra {} (e.g. {:?}), different {} \
         (e.g. row vs document {:?})",
        table.len(),
        index.len(),
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first(),
        changed.len(),
        changed.first()
    ))
}

/// Polls until the index equals the table, failing after `within` with the
/// difference and the processes' last log lines.
fn wait_until_equal(
    pg: &PostgresServer,
    search: &SearchServer,
    processes: &[&ConnectProcess],
    what: &str,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let Some(diff) = difference(&table(pg), &index(search)) else {
            return;
        };
        if Instant::now() > deadline {
            for process in processes {
                let log = process.log();
                let lines: Vec<&str> = log.lines().collect();
                eprintln!(
                    "--- weir connect {}:\n{}",
                    process.address,
                    lines[lines.len().saturating_sub(40)..].join("\n")
                );
            }
            panic!("timed out after {within:?} waiting for {what}: {diff}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// 150 transactions of inserts, updates (one of them setting a column to NULL) and
/// deletes, a few milliseconds apart, so the stream is still running when the sink is
/// killed.
const WORKLOAD: &str = r#"
DO $$
BEGIN
    FOR i IN 1..150 LOOP
        INSERT INTO items
            SELECT g, 'item ' || g, g % 13, NULL FROM generate_series(1000 + i * 10, 1009 + i * 10) g;
        UPDATE items SET qty = qty + 1, note = 'round ' || i WHERE id % 11 = i % 11;
        UPDATE items SET note = NULL WHERE id = 1000 + i * 10 - 5;
        DELETE FROM items WHERE id = i OR id = 1003 + i * 10;
        COMMIT;
        PERFORM pg_sleep(0.02);
    END LOOP;
END $$;
"#;

#[test]
fn the_index_equals_the_table_after_inserts_updates_deletes_and_a_sigkill_of_the_sink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let search = SearchServer::start();
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, note text);
         INSERT INTO items SELECT g, 'item ' || g, g % 13, 'seeded' FROM generate_series(1, 400) g;",
    );
    create_topic(&broker.bootstrap, TOPIC, 2, &[]);
    let source = write(dir.path(), "source.yaml", &source_pipeline(&pg));
    let sink = write(dir.path(), "sink.yaml", &sink_pipeline(&search.url()));
    let source = ConnectProcess::run(&broker.bootstrap, &source, &[]);
    let mut connect_sink = ConnectProcess::run(&broker.bootstrap, &sink, &[]);

    // The snapshot's rows arrive as documents.
    wait_until_equal(
        &pg,
        &search,
        &[&source, &connect_sink],
        "the snapshot in the index",
        Duration::from_secs(120),
    );

    // Changes stream; once the first of them is indexed the sink dies without warning,
    // and comes back.
    let workload = pg.spawn_psql(WORKLOAD);
    let deadline = Instant::now() + Duration::from_secs(60);
    while search.document(TOPIC, "1010").is_none() {
        assert!(
            Instant::now() < deadline,
            "the workload's first insert never reached the index"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    connect_sink.kill9();
    std::thread::sleep(Duration::from_millis(1000));
    let connect_sink = ConnectProcess::run(&broker.bootstrap, &sink, &[]);
    workload.wait();

    wait_until_equal(
        &pg,
        &search,
        &[&source, &connect_sink],
        "the index to equal the table",
        Duration::from_secs(180),
    );
    let rows = table(&pg);
    assert!(
        rows.len() > 1000,
        "the workload left {} rows; it should leave more than 1000",
        rows.len()
    );
    assert!(
        rows.values().any(|row| row["note"].is_null()),
        "some row with a NULL column"
    );
    // Deleted ids are gone from the index, not just from the table.
    for deleted in [1, 150, 1013, 2503] {
        assert!(
            search.document(TOPIC, &deleted.to_string()).is_none(),
            "document {deleted} was deleted"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write a pipeline");
    path
}
