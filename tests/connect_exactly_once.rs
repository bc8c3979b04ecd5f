//! End-to-end: exactly-once file sources (KIP-618) on `weir connect worker` processes
//! with `exactly.once.source.support=enabled`, checked with read_committed consumers.

mod support;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::Message;
use serde_json::{json, Value};
use support::{create_topic, wait_until, BrokerProcess, ConnectProcess, Http};

fn append(path: &Path, from: u32, to: u32) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file");
    let name = path.file_name().expect("name").to_string_lossy();
    for n in from..to {
        writeln!(file, "{name} line {n}").expect("append a line");
    }
}

/// Every committed value of partition 0 of `topic` with how often it is there, read
/// with read_committed to the partition's end.
fn committed_values(bootstrap: &str, topic: &str) -> BTreeMap<String, usize> {
    let consumer: BaseConsumer = support::client_config(bootstrap)
        .set("group.id", "weir-tests-read-committed")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let mut values = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "timed out reading {topic}");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let value = String::from_utf8_lossy(message.payload().unwrap_or_default());
                *values.entry(value.into_owned()).or_insert(0) += 1;
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return values,
            Some(Err(err)) => panic!("reading {topic}: {err}"),
            None => {}
        }
    }
}

fn worker_properties(dir: &Path, group: &str) -> std::path::PathBuf {
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

fn file_source(logs: &Path, topic: &str) -> Value {
    json!({
        "connector.class": "file-source",
        "topic": topic,
        "file.paths": format!("{}/*.log", logs.display()),
        "value.converter": "string",
        "exactly.once.support": "required",
        "transaction.boundary": "poll",
        "batch.max.records": "50",
    })
}

/// Lines in the topic that are not there exactly once, and lines written but missing.
fn check_exactly_once(values: &BTreeMap<String, usize>, expected: &[String]) {
    let doubled: Vec<(&String, &usize)> = values.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "{} lines were committed more than once, e.g. {:?}",
        doubled.len(),
        doubled.first()
    );
    let missing: Vec<&String> = expected
        .iter()
        .filter(|l| !values.contains_key(*l))
        .collect();
    assert!(
        missing.is_empty(),
        "{} lines are missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(values.len(), expected.len(), "lines nobody wrote");
}

fn lines(name: &str, from: u32, to: u32) -> Vec<String> {
    (from..to).map(|n| format!("{name} line {n}")).collect()
}

#[test]
fn an_exactly_once_file_source_killed_repeatedly_commits_every_line_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    create_topic(&broker.bootstrap, "lines", 1, &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    let properties = worker_properties(dir.path(), "eos");
    let app = logs.join("app.log");
    let mut expected = Vec::new();

    // A connector that needs exactly-once is refused by a worker without it.
    let plain = ConnectProcess::worker(&broker.bootstrap, "plain");
    let refused = Http::new(&plain.address).put(
        "/connectors/lines/config",
        &file_source(&logs, "plain-lines"),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("exactly-once source support"),
        "{}",
        refused.text
    );
    drop(plain);

    append(&app, 0, 3000);
    expected.extend(lines("app.log", 0, 3000));
    let mut worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    let created =
        Http::new(&worker.address).put("/connectors/lines/config", &file_source(&logs, "lines"));
    assert_eq!(created.status, 201, "{}", created.text);

    // Killed mid-stream three times, with more lines written while it is down, and a
    // rotation (once the source caught up with the old file) between two kills.
    for round in 0..3u32 {
        let committed = expected.len() - 3000 + 150;
        wait_until("more lines committed", || {
            committed_values(&broker.bootstrap, "lines").len() >= committed.min(expected.len())
        });
        let from = 3000 + round * 2000;
        append(&app, from, from + 1000);
        expected.extend(lines("app.log", from, from + 1000));
        std::thread::sleep(Duration::from_millis(100 * u64::from(round + 1)));
        worker.kill9();
        append(&app, from + 1000, from + 2000);
        expected.extend(lines("app.log", from + 1000, from + 2000));
        worker = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
        if round == 1 {
            wait_until("the old file read to its end", || {
                committed_values(&broker.bootstrap, "lines").len() == expected.len()
            });
            fs::rename(&app, logs.join("app.log.1")).expect("rotate");
        }
    }

    // Everything arrives, each line once, for a read_committed consumer.
    let total = expected.len();
    let mut values = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while values.values().sum::<usize>() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        values = committed_values(&broker.bootstrap, "lines");
    }
    let log = worker.log();
    if values.values().sum::<usize>() < total {
        eprintln!("the worker's log:\n{log}");
    }
    check_exactly_once(&values, &expected);
    assert!(
        log.contains("source task writes in transactions"),
        "the task did not run in transactions:\n{log}"
    );
    worker.terminate();
}

#[test]
fn a_paused_workers_task_is_fenced_once_its_successor_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    create_topic(&broker.bootstrap, "lines", 1, &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    let properties = worker_properties(dir.path(), "zombies");
    let app = logs.join("app.log");
    append(&app, 0, 500);
    let expected = lines("app.log", 0, 500);
    let workers = [
        ConnectProcess::worker_with_config(&broker.bootstrap, &properties),
        ConnectProcess::worker_with_config(&broker.bootstrap, &properties),
    ];
    // The two workers share the slots before the connector exists, so no rebalance
    // stops the task (and commits its transaction) early.
    let slots = |worker: &ConnectProcess| -> usize {
        let log = worker.log();
        log.lines()
            .rfind(|line| line.contains("worker group assigned slots"))
            .map_or(0, |line| line.matches(',').count() + 1)
    };
    wait_until("both workers holding half the slots", || {
        workers.iter().all(|w| slots(w) == 16)
    });
    let http = Http::new(&workers[0].address);
    // Transactions of 10 s: the first owner is frozen with its transaction open.
    let mut config = file_source(&logs, "lines");
    config["transaction.boundary"] = json!("interval");
    config["transaction.boundary.interval.ms"] = json!("10000");
    config["batch.max.records"] = json!("500");
    let created = http.put("/connectors/lines/config", &config);
    assert_eq!(created.status, 201, "{}", created.text);
    let owner_of = |http: &Http| -> Option<String> {
        let status = http.get("/connectors/lines/status").body;
        let task = &status["tasks"][0];
        (task["state"] == "RUNNING").then(|| task["worker_id"].as_str().unwrap_or("").to_string())
    };
    wait_until("the task running", || owner_of(&http).is_some());
    let owner = owner_of(&http).expect("an owner");
    let (zombie, successor) = if workers[0].address == owner {
        (&workers[0], &workers[1])
    } else {
        (&workers[1], &workers[0])
    };
    // The file is read into a transaction that ends 10 s after it began.
    wait_until("the file read", || {
        zombie.log().contains("reading it from the beginning")
    });
    std::thread::sleep(Duration::from_secs(1));
    let early = committed_values(&broker.bootstrap, "lines");
    assert!(
        early.is_empty(),
        "{} lines committed before the transaction's interval ended",
        early.len()
    );

    // The owner freezes; the group gives its task to the other worker, whose producer
    // fences the frozen one's and aborts its transaction.
    zombie.signal("STOP");
    let successor_http = Http::new(&successor.address);
    wait_until("the task moved to the successor", || {
        owner_of(&successor_http).as_deref() == Some(successor.address.as_str())
    });
    wait_until("the successor's producer initialized", || {
        successor
            .log()
            .contains("source task writes in transactions")
    });

    // Thawed, the zombie stops its task, which tries to commit what it holds: refused.
    zombie.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !zombie.log().contains("was fenced") {
        assert!(
            Instant::now() < deadline,
            "the zombie was not fenced; its log:\n{}",
            zombie.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The successor's transaction holds every line, once.
    let mut values = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while values.values().sum::<usize>() < expected.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        values = committed_values(&broker.bootstrap, "lines");
    }
    check_exactly_once(&values, &expected);
}
