//! End-to-end: YAML pipelines run by `weir connect run` against a broker process and a
//! real redis-server, with the Connect process killed (SIGKILL) mid-stream.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{json, Value};
use support::{
    create_topic, read_all, wait_until, BrokerProcess, ConnectProcess, PostgresServer, RedisServer,
};

/// Appends `lines` to `path`, creating it if needed.
fn append(path: &Path, lines: &[String]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file");
    for line in lines {
        writeln!(file, "{line}").expect("append a line");
    }
}

/// One line of a generated log: `{"id": "<file>-<generation>-<i % 20>", "n": i}`.
/// Each id lives in one physical file, so all its records share one record key (the
/// file's path) and one partition: the topic's last record for an id is its latest.
fn line(file: &str, generation: u32, n: u32) -> (String, String) {
    let id = format!("{file}-{generation}-{}", n % 20);
    (id.clone(), json!({"id": id, "n": n}).to_string())
}

fn redis_get(redis: &RedisServer, key: &str) -> Option<String> {
    let mut connection = redis.client(None);
    redis::cmd("GET")
        .arg(key)
        .query(&mut connection)
        .expect("GET")
}

#[test]
fn file_to_redis_pipeline_survives_sigkill_and_rotation_without_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let redis = RedisServer::start();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    create_topic(&broker.bootstrap, "events", 3, &[]);
    let pipeline = dir.path().join("events.yaml");
    fs::write(
        &pipeline,
        format!(
            r#"name: events
source:
  connector: file-source
  topic: events
  file.paths: {logs}/*.log
  converters: {{key: string, value: string}}
sink:
  connector: redis-sink
  topics: [events]
  redis.uri: redis://127.0.0.1:{port}
  redis.command: SET
  converters: {{key: string, value: json}}
  batch.max.records: 200
  transforms:
    - name: idAsKey
      type: ValueToKey
      fields: id
    - name: idOnly
      type: ExtractField$Key
      field: id
"#,
            logs = logs.display(),
            port = redis.port()
        ),
    )
    .expect("write pipeline");

    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut all_lines: BTreeSet<String> = BTreeSet::new();
    let mut write = |file: &str, generation: u32, range: std::ops::Range<u32>| {
        let mut lines = Vec::new();
        for n in range {
            let (id, text) = line(file, generation, n);
            written.insert(id, text.clone());
            all_lines.insert(text.clone());
            lines.push(text);
        }
        append(&logs.join(format!("{file}.log")), &lines);
    };

    write("a", 0, 0..500);
    write("b", 0, 0..500);
    let mut connect = ConnectProcess::run(&broker.bootstrap, &pipeline, &[]);
    // Some of the first lines reach Redis, then the worker dies without warning.
    wait_until("the first records in redis", || {
        redis_get(&redis, "a-0-0").is_some()
    });
    write("a", 0, 500..1500);
    write("b", 0, 500..1500);
    connect.kill9();

    // While it is down: more lines, and `a.log` is rotated away (renamed) after the
    // source had caught up with it; a new `a.log` starts.
    write("b", 0, 1500..2000);
    let mut connect = ConnectProcess::run(&broker.bootstrap, &pipeline, &[]);
    let last_a0 = line("a", 0, 1499);
    wait_with_log(&connect, "a.log's last line in redis", || {
        redis_get(&redis, &last_a0.0).as_deref().map(parse) == Some(parse(&last_a0.1))
    });
    fs::rename(logs.join("a.log"), logs.join("a.log.1")).expect("rotate a.log");
    write("a", 1, 0..1000);
    write("b", 0, 2000..2500);

    // Killed a second time, this time mid-batch of the new file.
    std::thread::sleep(Duration::from_millis(300));
    connect.kill9();
    let mut connect = ConnectProcess::run(&broker.bootstrap, &pipeline, &[]);

    // Everything reaches Redis.
    wait_with_log(&connect, "every id's latest line in redis", || {
        written
            .iter()
            .all(|(id, text)| redis_get(&redis, id).as_deref().map(parse) == Some(parse(text)))
    });

    // Nothing lost or invented in the topic: every written line is there (duplicates
    // of records in flight at a kill are allowed).
    let topic = read_all(&broker.bootstrap, "events", 3);
    let mut in_topic = BTreeSet::new();
    let mut last_per_id: BTreeMap<String, Value> = BTreeMap::new();
    for records in topic.values() {
        for record in records {
            let text = std::str::from_utf8(record.payload().expect("a value"))
                .expect("utf-8")
                .to_string();
            let value = parse(&text);
            last_per_id.insert(value["id"].as_str().expect("id").to_string(), value);
            let headers = record.headers().expect("file headers");
            assert!(
                headers.iter().any(|h| h.key == "file.name"),
                "file.name header on {text}"
            );
            assert!(
                headers.iter().any(|h| h.key == "file.line"),
                "file.line header on {text}"
            );
            in_topic.insert(text);
        }
    }
    let missing: Vec<&String> = all_lines.difference(&in_topic).collect();
    assert!(
        missing.is_empty(),
        "{} lines never reached the topic, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let invented: Vec<&String> = in_topic.difference(&all_lines).collect();
    assert!(
        invented.is_empty(),
        "lines in the topic that were never written: {invented:?}"
    );

    // Redis holds exactly what the topic describes: one key per id, each the id's
    // last record.
    let mut connection = redis.client(None);
    let size: usize = redis::cmd("DBSIZE").query(&mut connection).expect("DBSIZE");
    assert_eq!(size, last_per_id.len(), "redis keys vs ids in the topic");
    for (id, value) in &last_per_id {
        let stored = redis_get(&redis, id).unwrap_or_else(|| panic!("{id} missing from redis"));
        assert_eq!(&parse(&stored), value, "redis value of {id}");
    }
    connect.terminate();
}

/// `wait_until`, with the Connect process's log in the failure message.
fn wait_with_log(connect: &ConnectProcess, what: &str, check: impl FnMut() -> bool) {
    if let Err(panic) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(what, check)))
    {
        eprintln!("weir connect's log:\n{}", connect.log());
        std::panic::resume_unwind(panic);
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON: {text}: {err}"))
}

#[test]
fn sink_sends_bad_records_to_the_dead_letter_topic_with_context_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let redis = RedisServer::start();
    create_topic(&broker.bootstrap, "orders", 1, &[]);
    let pipeline = dir.path().join("orders.yaml");
    fs::write(
        &pipeline,
        format!(
            r#"name: orders
sink:
  connector: redis-sink
  topics: [orders]
  redis.uri: redis://127.0.0.1:{port}
  redis.command: HSET
  redis.key: "order:${{key}}"
  converters: {{key: string, value: json}}
  errors:
    tolerance: all
    log.enable: true
    deadletterqueue.topic.name: orders-dlq
    deadletterqueue.context.headers.enable: true
"#,
            port = redis.port()
        ),
    )
    .expect("write pipeline");
    let producer: BaseProducer = support::client_config(&broker.bootstrap)
        .create()
        .expect("producer");
    let records: [(&str, &str); 4] = [
        ("1", r#"{"item": "book", "qty": 2}"#),
        ("2", "this is not json"),
        ("3", r#""a JSON string, not an object""#),
        ("4", r#"{"item": "pen", "qty": 10}"#),
    ];
    for (key, value) in records {
        producer
            .send(BaseRecord::to("orders").key(key).payload(value))
            .expect("produce");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");

    let connect = ConnectProcess::run(&broker.bootstrap, &pipeline, &[]);
    let mut connection = redis.client(None);
    wait_until("orders 1 and 4 in redis", || {
        let qty: Option<String> = redis::cmd("HGET")
            .arg("order:4")
            .arg("qty")
            .query(&mut connection)
            .expect("HGET");
        qty.as_deref() == Some("10")
    });
    let item: Option<String> = redis::cmd("HGET")
        .arg("order:1")
        .arg("item")
        .query(&mut connection)
        .expect("HGET");
    assert_eq!(item.as_deref(), Some("book"));
    let exists: i64 = redis::cmd("EXISTS")
        .arg("order:2")
        .arg("order:3")
        .query(&mut connection)
        .expect("EXISTS");
    assert_eq!(exists, 0, "failed records must not reach redis");

    wait_until("two records in the dead-letter topic", || {
        support::watermarks(&broker.bootstrap, "orders-dlq", 1)[&0].1 == 2
    });
    let dead = &read_all(&broker.bootstrap, "orders-dlq", 1)[&0];
    let header = |i: usize, key: &str| -> String {
        let headers = dead[i].headers().expect("context headers");
        let header = headers
            .iter()
            .find(|h| h.key == key)
            .unwrap_or_else(|| panic!("no {key} header on dead letter {i}"));
        String::from_utf8(header.value.expect("value").to_vec()).expect("utf-8")
    };
    assert_eq!(
        dead[0].payload(),
        Some("this is not json".as_bytes()),
        "the original value, as read"
    );
    assert_eq!(dead[0].key(), Some("2".as_bytes()));
    assert_eq!(header(0, "__connect.errors.stage"), "VALUE_CONVERTER");
    assert_eq!(header(0, "__connect.errors.topic"), "orders");
    assert_eq!(header(0, "__connect.errors.partition"), "0");
    assert_eq!(header(0, "__connect.errors.offset"), "1");
    assert_eq!(header(0, "__connect.errors.connector.name"), "orders-sink");
    assert!(!header(0, "__connect.errors.exception.message").is_empty());
    assert_eq!(dead[1].key(), Some("3".as_bytes()));
    assert_eq!(header(1, "__connect.errors.stage"), "TASK_PUT");
    assert_eq!(header(1, "__connect.errors.offset"), "2");

    // The metrics endpoint counts them.
    let metrics = support::Http::new(&connect.address).get("/metrics").text;
    assert!(
        metrics.contains("weir_connect_dead_letter_records_total{connector=\"orders-sink\",task=\"0\",type=\"sink\"} 2"),
        "metrics:\n{metrics}"
    );
    assert!(
        metrics.contains(
            "weir_connect_records_out_total{connector=\"orders-sink\",task=\"0\",type=\"sink\"} 2"
        ),
        "metrics:\n{metrics}"
    );
    // Every record committed: the lag, from the consumer's statistics, reaches 0.
    wait_until("the sink's lag at 0", || {
        support::Http::new(&connect.address)
            .get("/metrics")
            .text
            .contains(
            "weir_connect_sink_lag_records{connector=\"orders-sink\",task=\"0\",type=\"sink\"} 0",
        )
    });
}

fn redis_hash(redis: &RedisServer, key: &str) -> BTreeMap<String, String> {
    let mut connection = redis.client(None);
    redis::cmd("HGETALL")
        .arg(key)
        .query(&mut connection)
        .expect("HGETALL")
}

#[test]
fn the_postgres_to_redis_example_keeps_redis_in_step_with_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let redis = RedisServer::start();
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE customers (id int PRIMARY KEY, name text, email text);
         INSERT INTO customers VALUES (1, 'Ann', 'ann@example.com');",
    );
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines/postgres-to-redis.yaml");
    let port = pg.port().to_string();
    let uri = redis.uri();
    let envs = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGDATABASE", pg.database()),
        ("REDIS_URI", uri.as_str()),
    ];
    let connect = ConnectProcess::run(&broker.bootstrap, &example, &envs);
    // The snapshot's row, then changes.
    wait_with_log(&connect, "the snapshot row in Redis", || {
        redis_hash(&redis, "customer:1")
            .get("name")
            .map(String::as_str)
            == Some("Ann")
    });
    pg.psql(
        "INSERT INTO customers VALUES (2, 'Bob', 'bob@example.com');
         UPDATE customers SET email = 'ann@example.org' WHERE id = 1;",
    );
    wait_with_log(&connect, "the insert and the update in Redis", || {
        redis_hash(&redis, "customer:2")
            .get("name")
            .map(String::as_str)
            == Some("Bob")
            && redis_hash(&redis, "customer:1")
                .get("email")
                .map(String::as_str)
                == Some("ann@example.org")
    });
    pg.psql("DELETE FROM customers WHERE id = 2;");
    wait_with_log(&connect, "the delete in Redis", || {
        redis_hash(&redis, "customer:2").is_empty()
    });
    assert_eq!(
        redis_hash(&redis, "customer:1"),
        BTreeMap::from([
            ("id".to_string(), "1".to_string()),
            ("name".to_string(), "Ann".to_string()),
            ("email".to_string(), "ann@example.org".to_string()),
        ])
    );
}

#[test]
fn example_pipelines_are_valid() {
    for example in [
        "log-shipping.yaml",
        "topic-to-redis.yaml",
        "postgres-to-topic.yaml",
        "postgres-to-redis.yaml",
        "logs-to-elasticsearch.yaml",
        "postgres-to-postgres.yaml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/pipelines")
            .join(example);
        let output = support::weir(
            "localhost:1",
            &["connect", "validate", path.to_str().expect("utf-8 path")],
            None,
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("is valid"), "{example}: {stdout}");
    }
}

#[test]
fn a_bad_pipeline_is_refused_with_file_line_and_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    fs::write(
        &path,
        "name: bad\nsink:\n  connector: redis-sink\n  topics: [x]\n  redis.uri: redis://127.0.0.1:1\n  redis.comand: SET\n  tasks.max: lots\n  redis.password: ${env:WEIR_TEST_UNSET_VARIABLE}\n",
    )
    .expect("write pipeline");
    let output = support::weir(
        "localhost:1",
        &["connect", "run", path.to_str().expect("utf-8 path")],
        None,
    );
    assert!(!output.status.success(), "a bad pipeline must not run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = path.display();
    for expected in [
        format!("{file}:6: redis.comand: Unknown configuration 'redis.comand' (hint: did you mean 'redis.command'?)"),
        format!("{file}:7: tasks.max: Invalid value lots for configuration tasks.max: Not a number of type INT"),
        format!("{file}:8: redis.password: environment variable WEIR_TEST_UNSET_VARIABLE is not set"),
    ] {
        assert!(stderr.contains(&expected), "missing `{expected}` in:\n{stderr}");
    }
}
