//! End-to-end log shipping, the ELK shape: log files appended and rotated → the file
//! source → a topic → the Elasticsearch sink → a real `osmem-server` index, all on a
//! real `weir connect worker` process and a real `weir broker` process.
//!
//! The worker is SIGKILLed mid-stream twice, once while the search server is frozen
//! (SIGSTOP: it accepts connections and answers nothing, then SIGCONT brings it back
//! with its data). The server is frozen, not killed: `osmem-server` keeps its index in
//! memory, so a killed one comes back empty and could not show that every line of the
//! run is indexed once; the sink's own tests cover a killed and restarted server
//! (`records_wait_while_the_server_is_down_and_arrive_exactly_once`).
//!
//! Exactly once in the index takes two things: the file source runs exactly-once
//! (KIP-618), so a line reaches the topic once for a read-committed reader such as the
//! sink, and the sink names documents topic+partition+offset (`key.ignore`), so a
//! batch written again after a kill overwrites the documents it wrote before.

mod support;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{create_topic, BrokerProcess, ConnectProcess, Http, SearchServer};

const TOPIC: &str = "app-logs";

/// The line that the search must find, with its file and line number.
const ERROR_LINE: &str = "2026-12-04 12:00:00 ERROR payment gateway refused card ending 4711";

/// Every line written, by its id, with the file and 1-based line number it has there.
#[derive(Debug, Default)]
struct Written {
    lines: BTreeMap<String, (PathBuf, u64)>,
    /// Lines in each file (by path) so far, for the next line number.
    lengths: BTreeMap<PathBuf, u64>,
}

impl Written {
    /// Appends `count` INFO lines with ids `<tag>-<n>` to `path`.
    fn append(&mut self, path: &Path, tag: &str, from: u32, to: u32) {
        let lines: Vec<String> = (from..to)
            .map(|n| format!("2026-12-04 12:00:00 INFO {tag}-{n} request served"))
            .collect();
        self.append_lines(path, &lines);
    }

    fn append_lines(&mut self, path: &Path, lines: &[String]) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open log file");
        let length = self.lengths.entry(path.to_owned()).or_insert(0);
        for line in lines {
            writeln!(file, "{line}").expect("append a line");
            *length += 1;
            let id = id_of(line);
            let previous = self.lines.insert(id.clone(), (path.to_owned(), *length));
            assert!(previous.is_none(), "line id {id} written twice");
        }
    }

    /// A file rotated by rename: its next lines start a new file at line 1.
    fn rotate(&mut self, path: &Path, to: &Path) {
        fs::rename(path, to).expect("rotate a log file");
        self.lengths.remove(path);
    }
}

/// A line's id: the fourth word (`a0-17`), or the whole error line.
fn id_of(line: &str) -> String {
    if line == ERROR_LINE {
        return "error".to_string();
    }
    line.split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("a line without an id: {line}"))
        .to_string()
}

fn worker_properties(dir: &Path) -> PathBuf {
    let path = dir.join("worker.properties");
    fs::write(
        &path,
        "group.id=log-shipping\n\
         exactly.once.source.support=enabled\n\
         session.timeout.ms=6000\n\
         scheduled.rebalance.max.delay.ms=0\n",
    )
    .expect("worker file");
    path
}

fn file_source(logs: &Path) -> Value {
    json!({
        "connector.class": "file-source",
        "topic": TOPIC,
        "file.paths": format!("{}/*.log", logs.display()),
        "value.converter": "string",
        "exactly.once.support": "required",
        "transaction.boundary": "poll",
        "batch.max.records": "200",
    })
}

/// The logs-to-elasticsearch example's sink, with the file name and line carried into
/// each document, and retries short enough for a test.
fn elasticsearch_sink(url: &str) -> Value {
    json!({
        "connector.class": "elasticsearch",
        "topics": TOPIC,
        "connection.url": url,
        "key.ignore": "true",
        "key.converter": "string",
        "value.converter": "string",
        "transforms": "document,origin",
        "transforms.document.type": "HoistField$Value",
        "transforms.document.field": "message",
        "transforms.origin.type": "io.debezium.transforms.HeaderToValue",
        "transforms.origin.headers": "file.name,file.line",
        "transforms.origin.fields": "file,line",
        "transforms.origin.operation": "copy",
        "batch.max.records": "300",
        "max.retries": "2",
        "retry.backoff.ms": "20",
        "read.timeout.ms": "500",
        "errors.retry.delay.max.ms": "200",
    })
}

/// Creates (or finds again) both connectors on a worker.
fn put_connectors(worker: &ConnectProcess, logs: &Path, url: &str) {
    let http = Http::new(&worker.address);
    for (name, config) in [
        ("logs", file_source(logs)),
        ("logs-to-search", elasticsearch_sink(url)),
    ] {
        let response = http.put(&format!("/connectors/{name}/config"), &config);
        assert!(
            response.status == 201 || response.status == 200,
            "PUT {name}: {} {}",
            response.status,
            response.text
        );
    }
}

/// Polls `check` until it holds, failing after `within` with the worker's log.
fn wait_for(
    worker: &ConnectProcess,
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + within;
    while !check() {
        if Instant::now() > deadline {
            let log = worker.log();
            let lines: Vec<&str> = log.lines().collect();
            panic!(
                "timed out after {within:?} waiting for {what}; the worker's last log lines:\n{}",
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

const CATCH_UP: Duration = Duration::from_secs(120);

#[test]
fn appended_and_rotated_log_lines_are_searchable_once_each_through_kills_and_a_frozen_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let search = SearchServer::start();
    let url = search.url();
    create_topic(&broker.bootstrap, TOPIC, 3, &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    let properties = worker_properties(dir.path());
    let (a, b, c) = (logs.join("a.log"), logs.join("b.log"), logs.join("c.log"));
    let mut written = Written::default();
    let count = || search.count(TOPIC) as usize;

    written.append(&a, "a0", 0, 500);
    written.append(&b, "b0", 0, 300);
    written.append_lines(&b, &[ERROR_LINE.to_string()]);
    written.append(&b, "b0", 300, 500);
    let mut worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    put_connectors(&worker, &logs, &url);

    // The first documents arrive; more lines are appended; the worker dies mid-stream.
    wait_for(&worker, "the first documents", CATCH_UP, || count() > 0);
    written.append(&a, "a0", 500, 1500);
    written.append(&b, "b0", 500, 1500);
    worker.kill9();

    // While it is down, b.log grows. Restarted, it carries on from what was committed.
    written.append(&b, "b0", 1500, 2000);
    let mut worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    wait_for(&worker, "every line so far indexed", CATCH_UP, || {
        count() >= written.lines.len()
    });

    // a.log is rotated away (renamed) and a new a.log starts; c.log appears.
    written.rotate(&a, &logs.join("a.log.1"));
    written.append(&a, "a1", 0, 1000);
    written.append(&c, "c0", 0, 200);
    std::thread::sleep(Duration::from_millis(300));

    // The search server freezes; lines keep coming and wait in the topic; the worker
    // is killed again while its bulk requests hang, then the server comes back.
    search.signal("-STOP");
    written.append(&b, "b0", 2000, 2500);
    written.append(&c, "c0", 200, 700);
    std::thread::sleep(Duration::from_secs(2));
    worker.kill9();
    written.append(&a, "a1", 1000, 1300);
    let worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    std::thread::sleep(Duration::from_secs(2));
    search.signal("-CONT");

    let total = written.lines.len();
    wait_for(&worker, "every line indexed", CATCH_UP, || count() >= total);
    // Nothing more arrives late: what is there is all there will be.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(), total, "documents in the index vs lines written");

    // Every line exactly once, with its file name and line number.
    let documents = search.search(TOPIC, json!({"match_all": {}}), total + 100);
    assert_eq!(documents.len(), total, "documents returned by match_all");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for document in &documents {
        let message = document["message"]
            .as_str()
            .unwrap_or_else(|| panic!("a document without a message: {document}"));
        let id = id_of(message);
        *seen.entry(id.clone()).or_insert(0) += 1;
        let (file, line) = written
            .lines
            .get(&id)
            .unwrap_or_else(|| panic!("a document nobody wrote: {document}"));
        assert_eq!(
            (&document["file"], &document["line"]),
            (&json!(file.display().to_string()), &json!(line)),
            "file and line of {document}"
        );
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "lines indexed more than once: {doubled:?}"
    );
    let missing: Vec<&String> = written
        .lines
        .keys()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "lines never indexed: {missing:?}");

    // A search for the error message finds that line, with where it came from.
    let hits = search.search(
        TOPIC,
        json!({"match": {"message": {"query": "gateway refused", "operator": "and"}}}),
        10,
    );
    assert_eq!(hits.len(), 1, "hits for the error: {hits:?}");
    assert_eq!(hits[0]["message"], ERROR_LINE);
    assert_eq!(hits[0]["file"], b.display().to_string());
    assert_eq!(hits[0]["line"], 301);
}
