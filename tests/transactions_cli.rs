//! `weir transactions` against a broker process, with librdkafka transactional
//! producers leaving transactions committed, aborted and open: what `list`,
//! `describe` and `describe-producers` print, `abort` releasing a read_committed
//! consumer, and `find-hanging` finding a transaction whose coordinator lost it.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use support::{client_config, create_topic, ok, weir, BrokerProcess, WAIT};

const TOPIC: &str = "ledger";

/// Transaction state log partitions: few, so the coordinator starts quickly.
const BROKER_FLAGS: &[&str] = &[
    "--set",
    "transaction.state.log.num.partitions=3",
    "--set",
    "auto.create.topics.enable=false",
];

/// A transactional producer that has completed InitProducerId. Its transactions
/// time out after ten minutes, longer than any test runs.
fn transactional_producer(bootstrap: &str, transactional_id: &str) -> BaseProducer {
    let producer: BaseProducer = client_config(bootstrap)
        .set("transactional.id", transactional_id)
        .set("transaction.timeout.ms", "600000")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create transactional producer");
    producer
        .init_transactions(WAIT)
        .unwrap_or_else(|err| panic!("InitProducerId for {transactional_id}: {err}"));
    producer
}

/// Sends `values` to partition 0 of `topic` inside the open transaction and waits
/// until the broker has them.
fn send(producer: &BaseProducer, topic: &str, values: &[&str]) {
    for value in values {
        producer
            .send(
                BaseRecord::to(topic)
                    .partition(0)
                    .key(*value)
                    .payload(*value),
            )
            .unwrap_or_else(|(err, _)| panic!("queue {value}: {err}"));
    }
    producer.flush(WAIT).expect("records acknowledged");
}

fn transaction(producer: &BaseProducer, values: &[&str], commit: bool) {
    producer.begin_transaction().expect("begin transaction");
    send(producer, TOPIC, values);
    if commit {
        producer.commit_transaction(WAIT).expect("commit");
    } else {
        producer.abort_transaction(WAIT).expect("abort");
    }
}

fn consumer(bootstrap: &str, isolation: &str) -> BaseConsumer {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "weir-transactions-tests")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("create consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(TOPIC, 0, Offset::Beginning)
        .expect("add partition");
    consumer.assign(&assignment).expect("assign");
    consumer
}

/// Every value of partition 0 a consumer with `isolation` is given: polls until
/// `expected` values have arrived, then a little longer to catch any extra (three
/// seconds when none are expected).
fn values(bootstrap: &str, isolation: &str, expected: usize) -> Vec<(i64, String)> {
    let consumer = consumer(bootstrap, isolation);
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut settle: Option<Instant> = None;
    loop {
        if got.len() >= expected && settle.is_none() {
            let quiet = if expected == 0 { 3000 } else { 1500 };
            settle = Some(Instant::now() + Duration::from_millis(quiet));
        }
        if settle.is_some_and(|s| Instant::now() > s) || Instant::now() > deadline {
            return got;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => got.push((
                m.offset(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            )),
            Some(Err(err)) => panic!("fetch ({isolation}) failed: {err}"),
            None => {}
        }
    }
}

fn just_values(records: &[(i64, String)]) -> Vec<&str> {
    records.iter().map(|(_, v)| v.as_str()).collect()
}

fn json(bootstrap: &str, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let out = ok(bootstrap, &with_json, None);
    serde_json::from_str(&out)
        .unwrap_or_else(|err| panic!("{args:?} printed bad JSON ({err}):\n{out}"))
}

/// Rows of a printed table below its header, split on whitespace, keyed by column.
fn table(out: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("a header line")
        .split_whitespace()
        .collect();
    lines
        .map(|line| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(line.split_whitespace().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Runs a command that must fail; returns its stderr.
fn fails(bootstrap: &str, args: &[&str]) -> String {
    let output = weir(bootstrap, args, None);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?} should fail; stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn transactions_are_listed_described_and_an_open_one_aborted_by_its_start_offset() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), BROKER_FLAGS);
    let b = broker.bootstrap.as_str();
    create_topic(b, TOPIC, 1, &[]);

    let committer = transactional_producer(b, "committer");
    transaction(&committer, &["c1", "c2", "c3"], true);
    let aborter = transactional_producer(b, "aborter");
    transaction(&aborter, &["a1", "a2"], false);
    // Left open: its records, and everything after them, wait for its end.
    let holder = transactional_producer(b, "holder");
    holder.begin_transaction().expect("begin");
    send(&holder, TOPIC, &["h1", "h2"]);
    transaction(&committer, &["after1", "after2"], true);

    let listed = json(b, &["transactions", "list"]);
    let states: BTreeMap<&str, (&str, i64, i64)> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|t| {
            (
                t["transactional_id"].as_str().unwrap(),
                (
                    t["state"].as_str().unwrap(),
                    t["producer_id"].as_i64().unwrap(),
                    t["coordinator"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(states.len(), 3, "{listed}");
    assert_eq!(states["committer"].0, "CompleteCommit", "{listed}");
    assert_eq!(states["aborter"].0, "CompleteAbort", "{listed}");
    assert_eq!(states["holder"].0, "Ongoing", "{listed}");
    assert!(
        states.values().all(|s| s.2 == 1),
        "broker 1 coordinates: {listed}"
    );
    let holder_pid = states["holder"].1;

    let rows = table(&ok(b, &["transactions", "list"], None));
    assert_eq!(rows.len(), 3, "{rows:?}");
    let row = rows
        .iter()
        .find(|r| r["TransactionalId"] == "holder")
        .expect("holder listed");
    assert_eq!(row["TransactionState"], "Ongoing");
    assert_eq!(row["ProducerId"], holder_pid.to_string());
    assert_eq!(row["Coordinator"], "1");

    let ongoing = table(&ok(
        b,
        &["transactions", "list", "--state", "Ongoing"],
        None,
    ));
    assert_eq!(ongoing.len(), 1, "{ongoing:?}");
    assert_eq!(ongoing[0]["TransactionalId"], "holder");
    let by_pid = json(
        b,
        &[
            "transactions",
            "list",
            "--producer-id",
            &states["aborter"].1.to_string(),
        ],
    );
    assert_eq!(by_pid.as_array().unwrap().len(), 1, "{by_pid}");
    assert_eq!(by_pid[0]["transactional_id"], "aborter");
    let long_running = json(b, &["transactions", "list", "--duration-filter", "3600000"]);
    assert_eq!(long_running, Value::Array(Vec::new()));
    let unknown = weir(b, &["transactions", "list", "--state", "Sleeping"], None);
    assert!(!unknown.status.success());

    let described = json(
        b,
        &["transactions", "describe", "--transactional-id", "holder"],
    );
    assert_eq!(described["state"], "Ongoing", "{described}");
    assert_eq!(described["producer_id"], holder_pid, "{described}");
    assert_eq!(described["coordinator_id"], 1, "{described}");
    assert_eq!(described["timeout_ms"], 600000, "{described}");
    assert_eq!(
        described["topic_partitions"],
        serde_json::json!([{"topic": TOPIC, "partition": 0}]),
        "{described}"
    );
    let start = described["start_time_ms"].as_i64().expect("a start time");
    assert!(start > support::now_ms() - 600_000, "{described}");
    assert!(
        described["duration_ms"].as_i64().unwrap() >= 0,
        "{described}"
    );
    let rows = table(&ok(
        b,
        &["transactions", "describe", "--transactional-id", "holder"],
        None,
    ));
    assert_eq!(rows[0]["TopicPartitions"], format!("{TOPIC}-0"));
    assert_eq!(rows[0]["TransactionState"], "Ongoing");
    let done = json(
        b,
        &[
            "transactions",
            "describe",
            "--transactional-id",
            "committer",
        ],
    );
    assert_eq!(done["state"], "CompleteCommit", "{done}");
    assert_eq!(done["start_time_ms"], Value::Null, "{done}");
    let missing = fails(
        b,
        &["transactions", "describe", "--transactional-id", "nobody"],
    );
    assert!(missing.contains("TRANSACTIONAL_ID_NOT_FOUND"), "{missing}");

    // Where the open transaction starts, as a read_uncommitted consumer sees it.
    let uncommitted = values(b, "read_uncommitted", 9);
    assert_eq!(
        just_values(&uncommitted),
        ["c1", "c2", "c3", "a1", "a2", "h1", "h2", "after1", "after2"]
    );
    let start_offset = uncommitted.iter().find(|(_, v)| v == "h1").unwrap().0;

    let producers = json(
        b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
    );
    assert_eq!(producers["broker"], 1, "{producers}");
    let list = producers["producers"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{producers}");
    for p in list {
        let open = &p["current_transaction_start_offset"];
        if p["producer_id"] == holder_pid {
            assert_eq!(open, start_offset, "{producers}");
        } else {
            assert_eq!(open, &Value::Null, "{producers}");
        }
    }
    let rows = table(&ok(
        b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
        None,
    ));
    let holder_row = rows
        .iter()
        .find(|r| r["ProducerId"] == holder_pid.to_string())
        .unwrap();
    assert_eq!(
        holder_row["CurrentTransactionStartOffset"],
        start_offset.to_string()
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r["CurrentTransactionStartOffset"] == "None")
            .count(),
        2,
        "{rows:?}"
    );

    // The open transaction holds back everything after it.
    assert_eq!(
        just_values(&values(b, "read_committed", 3)),
        ["c1", "c2", "c3"]
    );

    // Its coordinator still expects to finish it, so it is not hanging, however old.
    let hanging = json(
        b,
        &[
            "transactions",
            "find-hanging",
            "--topic",
            TOPIC,
            "--max-transaction-timeout",
            "0",
        ],
    );
    assert_eq!(hanging, Value::Array(Vec::new()));

    let none_there = fails(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--start-offset",
            "1",
        ],
    );
    assert!(
        none_there.contains("no open transaction starts at offset 1"),
        "{none_there}"
    );
    assert!(
        none_there.contains(&format!("start at {start_offset}")),
        "{none_there}"
    );

    let aborted = ok(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--start-offset",
            &start_offset.to_string(),
        ],
        None,
    );
    assert!(
        aborted.contains(&format!("producer {holder_pid}")),
        "{aborted}"
    );
    assert!(aborted.contains(&format!("{TOPIC}-0")), "{aborted}");

    assert_eq!(
        just_values(&values(b, "read_committed", 5)),
        ["c1", "c2", "c3", "after1", "after2"],
        "the aborted records are skipped, the later committed ones delivered"
    );
    let after = json(
        b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
    );
    assert!(
        after["producers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["current_transaction_start_offset"].is_null()),
        "{after}"
    );
    drop(holder);
}

/// Drops the transaction coordinator's state from a stopped broker's data directory:
/// the `__transaction_state` topic and its partitions.
fn forget_transaction_state(data_dir: &Path) {
    let path = data_dir.join("weir-topics.json");
    let mut topics: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    topics["topics"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "__transaction_state");
    std::fs::write(&path, serde_json::to_vec_pretty(&topics).unwrap()).unwrap();
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("__transaction_state-")
        {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
}

#[test]
fn find_hanging_reports_a_transaction_its_coordinator_lost_and_abort_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), BROKER_FLAGS);
    let b = broker.bootstrap.clone();
    create_topic(&b, TOPIC, 1, &[]);

    let lost = transactional_producer(&b, "lost");
    lost.begin_transaction().expect("begin");
    send(&lost, TOPIC, &["l1", "l2"]);
    broker.terminate();
    drop(lost);
    forget_transaction_state(dir.path());
    let broker = BrokerProcess::restart(dir.path(), BROKER_FLAGS);
    let b = broker.bootstrap.as_str();

    // The partition still holds the transaction open; the coordinator knows nothing.
    assert_eq!(json(b, &["transactions", "list"]), Value::Array(Vec::new()));
    let producers = json(
        b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
    );
    let open = &producers["producers"][0];
    assert_eq!(open["current_transaction_start_offset"], 0, "{producers}");
    let pid = open["producer_id"].as_i64().unwrap();
    let epoch = open["producer_epoch"].as_i64().unwrap();

    // Younger than the default 15-minute timeout: not suspected yet.
    let young = json(b, &["transactions", "find-hanging", "--topic", TOPIC]);
    assert_eq!(young, Value::Array(Vec::new()));

    std::thread::sleep(Duration::from_millis(20));
    for scope in [
        &["--topic", TOPIC][..],
        &["--topic", TOPIC, "--partition", "0"][..],
        &["--broker-id", "1"][..],
    ] {
        let mut args = vec![
            "transactions",
            "find-hanging",
            "--max-transaction-timeout",
            "0",
        ];
        args.extend_from_slice(scope);
        let hanging = json(b, &args);
        let rows = hanging.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{scope:?}: {hanging}");
        assert_eq!(rows[0]["topic"], TOPIC);
        assert_eq!(rows[0]["partition"], 0);
        assert_eq!(rows[0]["producer_id"], pid);
        assert_eq!(rows[0]["start_offset"], 0);
        assert_eq!(rows[0]["duration_minutes"], 0);
    }
    let rows = table(&ok(
        b,
        &[
            "transactions",
            "find-hanging",
            "--topic",
            TOPIC,
            "--max-transaction-timeout",
            "0",
        ],
        None,
    ));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["ProducerId"], pid.to_string());
    assert_eq!(rows[0]["StartOffset"], "0");

    // A new transaction commits behind the hanging one and stays invisible.
    let fresh = transactional_producer(b, "fresh");
    transaction(&fresh, &["f1"], true);
    assert_eq!(values(b, "read_committed", 0), Vec::new());

    // Abort with the explicit form, as for brokers without --start-offset support.
    let aborted = json(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--producer-id",
            &pid.to_string(),
            "--producer-epoch",
            &epoch.to_string(),
            "--coordinator-epoch",
            "-1",
        ],
    );
    assert_eq!(aborted["producer_id"], pid, "{aborted}");
    assert_eq!(aborted["coordinator_epoch"], 0, "{aborted}");
    assert_eq!(just_values(&values(b, "read_committed", 1)), ["f1"]);
    let hanging = json(
        b,
        &[
            "transactions",
            "find-hanging",
            "--broker-id",
            "1",
            "--max-transaction-timeout",
            "0",
        ],
    );
    assert_eq!(hanging, Value::Array(Vec::new()));
}

#[test]
fn transactions_commands_fail_in_one_line_with_a_hint() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let refused = fails(&closed, &["transactions", "list"]);
    assert!(
        refused.contains(&format!("cannot connect to {closed}")),
        "{refused}"
    );
    assert!(refused.contains("--bootstrap-server"), "{refused}");

    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), BROKER_FLAGS);
    let b = broker.bootstrap.as_str();
    let unknown = fails(
        b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            "nowhere",
            "--partition",
            "0",
        ],
    );
    assert!(unknown.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{unknown}");
    create_topic(b, TOPIC, 2, &[]);
    let beyond = fails(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "7",
            "--start-offset",
            "0",
        ],
    );
    assert!(beyond.contains("has no partition 7"), "{beyond}");
    let no_scope = weir(b, &["transactions", "find-hanging"], None);
    assert_eq!(no_scope.status.code(), Some(2), "a usage error");
    let half = weir(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--producer-id",
            "5",
        ],
        None,
    );
    assert_eq!(
        half.status.code(),
        Some(2),
        "--producer-id needs both epochs"
    );
    let nothing_hangs = ok(b, &["transactions", "find-hanging", "--topic", TOPIC], None);
    assert_eq!(table(&nothing_hangs).len(), 0, "{nothing_hangs}");
}
