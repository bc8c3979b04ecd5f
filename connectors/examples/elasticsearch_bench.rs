//! Documents/s of the Elasticsearch sink task for 1 KB log lines into an
//! `osmem-server` it starts on a free port (see `tests/support/search_server.rs` for
//! where the binary is found). Prints figures; asserts nothing.
//!
//!   cargo run --release -p weir-connectors --example elasticsearch_bench [RECORDS] [BATCH]
//!
//! The sink is driven as the runtime drives it (write, then flush, per batch), without
//! a broker, so the figure is the sink's and the server's alone.

#[path = "../tests/support/search_server.rs"]
mod search_server;

use std::time::Instant;

use serde_json::json;
use weir_connect::config::config_map;
use weir_connect::{Data, Record, SinkContext, SinkRecord, Task};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let server = search_server::SearchServer::start();
    let url = server.url();
    for (label, compression) in [("plain", "false"), ("gzip", "true")] {
        let index = format!("bench-{label}");
        let plugins = weir_connectors::plugins();
        let plugin = plugins
            .find("elasticsearch")
            .expect("the elasticsearch plugin");
        let props = config_map(&[
            ("connection.url", &url),
            ("key.ignore", "true"),
            ("connection.compression", compression),
            ("read.timeout.ms", "60000"),
        ]);
        let parsed = plugin.config_def().parse(&props).expect("a valid config");
        let Task::Sink(mut sink) = plugin.create_task(&parsed).expect("a task") else {
            unreachable!("a sink plugin")
        };
        sink.open(SinkContext::default()).await.expect("open");
        let padding = "x".repeat(900);
        let started = Instant::now();
        let mut latencies = Vec::new();
        let mut offset = 0i64;
        while (offset as usize) < total {
            let records: Vec<SinkRecord> = (0..batch.min(total - offset as usize))
                .map(|i| {
                    let n = offset + i as i64;
                    let line = format!(
                        "2026-11-23 12:00:00.{:03} INFO request {n} served {padding}",
                        n % 1000
                    );
                    let mut record =
                        Record::new(index.clone(), Data::Json(json!({"message": line})));
                    record.timestamp = Some(1_700_000_000_000 + n);
                    SinkRecord {
                        record,
                        origin_topic: index.clone(),
                        origin_partition: 0,
                        offset: n,
                    }
                })
                .collect();
            let sent = Instant::now();
            let failures = sink.write(&records).await.expect("write");
            sink.flush().await.expect("flush");
            latencies.push(sent.elapsed());
            assert!(failures.is_empty(), "{} failures", failures.len());
            offset += records.len() as i64;
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
        println!(
            "{label:5}: {total} docs of ~1 KB in {:.2} s = {:.0} docs/s ({:.1} MB/s); batch of {batch}: p50 {:?}, p99 {:?}; indexed {}",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64(),
            total as f64 * 1024.0 / elapsed.as_secs_f64() / 1e6,
            pct(0.5),
            pct(0.99),
            server.count(&index),
        );
    }
}
