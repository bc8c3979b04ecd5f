//! Database sink figures into PostgreSQL: upserts/s and deletes/s of the sink task as
//! the runtime drives it (`write` of one runtime batch, which converts the records,
//! reduces them and commits one transaction), for rows of about 100 bytes of JSON with
//! their Connect schema, as the JSON converter with `schemas.enable=true` hands them
//! over. Kafka is not involved: this measures the sink, not the consumer.
//!
//! PostgreSQL is a private server this program starts (the test harness: `initdb` on a
//! free port, `fsync=off`); as root it runs as the `postgres` OS user.
//!
//! ```text
//! cargo run --release -p weir-connectors --example jdbc_sink_bench -- --rows 300000 --batch 3000
//! ```
//!
//! Phases, each over `--rows` keys in runtime batches of `--batch` records with
//! `batch.size` = `--batch`: inserts of new keys (upsert mode into an empty table),
//! updates of every key (upsert mode, all rows exist), deletes of every key (tombstones
//! with `delete.enabled`). Prints figures; asserts nothing.

#[path = "../tests/support/postgres_server.rs"]
mod postgres_server;

use std::time::Instant;

use postgres_server::PostgresServer;
use serde_json::{json, Value};
use weir_connect::config::config_map;
use weir_connect::{Data, Record, Schema, Sink, SinkContext, SinkRecord, Task};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} {v}: not a number"))
        })
        .unwrap_or(default)
}

fn value_schema() -> Value {
    json!({"type": "struct", "optional": false, "name": "bench.Value", "fields": [
        {"field": "id", "type": "int64", "optional": false},
        {"field": "name", "type": "string", "optional": true},
        {"field": "email", "type": "string", "optional": true},
        {"field": "balance", "type": "int64", "optional": true},
        {"field": "note", "type": "string", "optional": true}]})
}

fn key_schema() -> Value {
    json!({"type": "struct", "optional": false, "name": "bench.Key",
           "fields": [{"field": "id", "type": "int64", "optional": false}]})
}

/// Batches of records for keys `0..rows`: rows with `round` in them, or tombstones.
fn batches(rows: usize, batch: usize, round: Option<u64>) -> (Vec<Vec<SinkRecord>>, usize) {
    let value_schema = Schema::new(value_schema());
    let key_schema = Schema::new(key_schema());
    let mut bytes = 0;
    let mut out = Vec::new();
    for start in (0..rows).step_by(batch) {
        let mut records = Vec::with_capacity(batch);
        for id in start..(start + batch).min(rows) {
            let value = match round {
                Some(round) => {
                    let value = json!({"id": id, "name": format!("customer {id:>10}"),
                        "email": format!("c{id:08}@example.com"), "balance": id as u64 * 7 + round,
                        "note": format!("round {round}")});
                    bytes += value.to_string().len();
                    Data::Json(value)
                }
                None => Data::Null,
            };
            let mut record = Record::new("bench", value);
            record.key = Data::Json(json!({"id": id}));
            record.key_schema = Some(key_schema.clone());
            if round.is_some() {
                record.value_schema = Some(value_schema.clone());
            }
            records.push(SinkRecord {
                record,
                origin_topic: "bench".into(),
                origin_partition: 0,
                offset: id as i64,
            });
        }
        out.push(records);
    }
    (out, bytes / rows.max(1))
}

async fn run(sink: &mut Box<dyn Sink>, batches: &[Vec<SinkRecord>]) -> f64 {
    let started = Instant::now();
    for batch in batches {
        let failures = sink
            .write(batch)
            .await
            .unwrap_or_else(|e| panic!("{}", e.chain()));
        assert!(failures.is_empty(), "{failures:?}");
        sink.flush().await.expect("flush");
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let rows = arg("--rows", 300_000);
    let batch = arg("--batch", 3000);
    let pg = PostgresServer::start();
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/weir?user=postgres",
        pg.port()
    );
    let batch_size = batch.to_string();
    let props = config_map(&[
        ("connection.url", &url),
        ("insert.mode", "upsert"),
        ("primary.key.mode", "record_key"),
        ("delete.enabled", "true"),
        ("auto.create", "true"),
        ("table.name.format", "bench"),
        ("batch.size", &batch_size),
    ]);
    let plugins = weir_connectors::plugins();
    let plugin = plugins.find("jdbc-sink").expect("the database sink");
    let parsed = plugin.config_def().parse(&props).expect("config");
    let Task::Sink(mut sink) = plugin.create_task(&parsed).expect("task") else {
        panic!("not a sink");
    };
    sink.open(SinkContext::default()).await.expect("open");

    println!("database sink -> PostgreSQL (private server, fsync=off), {rows} keys, runtime batches and batch.size of {batch}");
    let (inserts, row_bytes) = batches(rows, batch, Some(1));
    let secs = run(&mut sink, &inserts).await;
    println!("  inserts (upsert of new keys): {:>9.0} rows/s  ({row_bytes} bytes of JSON per row, {secs:.2} s)", rows as f64 / secs);
    drop(inserts);
    let (updates, _) = batches(rows, batch, Some(2));
    let secs = run(&mut sink, &updates).await;
    println!(
        "  upserts of existing keys:     {:>9.0} rows/s  ({secs:.2} s)",
        rows as f64 / secs
    );
    drop(updates);
    let (deletes, _) = batches(rows, batch, None);
    let secs = run(&mut sink, &deletes).await;
    println!(
        "  deletes (tombstones):         {:>9.0} rows/s  ({secs:.2} s)",
        rows as f64 / secs
    );
    let left = pg.psql("SELECT count(*) FROM bench");
    println!("  rows left after the deletes: {left}");
    sink.close().await.expect("close");
}
