//! The Redis sink against a real `redis-server`: every command, tombstones, key
//! templates, per-record failures, authentication, and losing the connection.

#[path = "support/redis_server.rs"]
mod redis_server;

use redis::Commands;
use redis_server::RedisServer;
use serde_json::json;
use weir_connect::config::ConfigMap;
use weir_connect::{
    ConnectError, Data, ErrorDomain, Record, RecordFailure, Sink, SinkContext, SinkRecord, Task,
};

/// A sink task made the way a worker makes one: found by alias, config parsed and
/// validated, task created and opened.
async fn sink(pairs: &[(&str, &str)]) -> Result<Box<dyn Sink>, ConnectError> {
    let plugins = weir_connectors::plugins();
    let plugin = plugins.find("redis-sink").expect("the redis-sink plugin");
    let props: ConfigMap = weir_connect::config::config_map(pairs);
    let parsed = plugin.config_def().parse(&props).expect("a valid config");
    assert_eq!(plugin.validate(&parsed), []);
    let Task::Sink(mut sink) = plugin.create_task(&parsed)? else {
        panic!("redis-sink made a source task");
    };
    sink.open(SinkContext::default()).await?;
    Ok(sink)
}

fn record(key: Option<&str>, value: Data) -> SinkRecord {
    let mut record = Record::new("orders", value);
    record.key = key.map_or(Data::Null, |k| Data::Json(json!(k)));
    record.timestamp = Some(1_700_000_000_000);
    SinkRecord {
        record,
        origin_topic: "orders".into(),
        origin_partition: 0,
        offset: 0,
    }
}

fn text(value: &str) -> Data {
    Data::Json(json!(value))
}

fn object(value: serde_json::Value) -> Data {
    Data::Json(value)
}

/// Writes and flushes one batch, expecting success; returns the failed indexes.
async fn write(sink: &mut Box<dyn Sink>, records: &[SinkRecord]) -> Vec<usize> {
    let failures = sink
        .write(records)
        .await
        .unwrap_or_else(|e| panic!("{}", e.chain()));
    sink.flush().await.unwrap();
    indexes(&failures)
}

fn indexes(failures: &[RecordFailure]) -> Vec<usize> {
    failures.iter().map(|f| f.index).collect()
}

#[tokio::test]
async fn set_writes_value_text_under_the_templated_key_and_tombstones_delete() {
    let server = RedisServer::start();
    let uri = server.uri();
    let mut sink = sink(&[("redis.uri", &uri), ("redis.key", "${topic}:${key}")])
        .await
        .unwrap();
    let failed = write(
        &mut sink,
        &[
            record(Some("k1"), text("first")),
            record(Some("k2"), object(json!({"a": 1}))),
            record(None, text("no key")),
            record(Some("k1"), text("second")),
            record(Some("k2"), Data::Null),
        ],
    )
    .await;
    assert_eq!(failed, [2], "a record without a key cannot fill ${{key}}");
    let mut redis = server.client(None);
    assert_eq!(redis.get::<_, String>("orders:k1").unwrap(), "second");
    assert!(!redis.exists::<_, bool>("orders:k2").unwrap());
}

#[tokio::test]
async fn set_reports_the_null_key_failure_as_a_user_error() {
    let server = RedisServer::start();
    let mut sink = sink(&[("redis.uri", &server.uri())]).await.unwrap();
    let failures = sink.write(&[record(None, text("v"))]).await.unwrap();
    assert_eq!(indexes(&failures), [0]);
    let error = &failures[0].error;
    assert_eq!(error.domain(), ErrorDomain::User);
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("null key"), "{error}");
}

#[tokio::test]
async fn hset_writes_fields_and_fails_a_non_object_at_its_index() {
    let server = RedisServer::start();
    let mut sink = sink(&[("redis.uri", &server.uri()), ("redis.command", "HSET")])
        .await
        .unwrap();
    let failures = sink
        .write(&[
            record(Some("u1"), object(json!({"name": "ann", "age": 30}))),
            record(Some("u2"), text("not an object")),
            record(Some("u3"), object(json!({"tags": ["a"], "ok": true}))),
            record(Some("u4"), object(json!({"x": 1}))),
            record(Some("u4"), Data::Null),
        ])
        .await
        .unwrap();
    assert_eq!(indexes(&failures), [1]);
    assert_eq!(failures[0].error.domain(), ErrorDomain::User);
    assert!(failures[0].error.to_string().contains("a string"));
    let mut redis = server.client(None);
    let u1: Vec<(String, String)> = redis.hgetall("u1").unwrap();
    assert_eq!(
        sorted(u1),
        [("age".into(), "30".into()), ("name".into(), "ann".into())]
    );
    let u3: Vec<(String, String)> = redis.hgetall("u3").unwrap();
    assert_eq!(
        sorted(u3),
        [
            ("ok".into(), "true".into()),
            ("tags".into(), r#"["a"]"#.into())
        ]
    );
    assert!(!redis.exists::<_, bool>("u2").unwrap());
    assert!(!redis.exists::<_, bool>("u4").unwrap());
}

fn sorted(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
}

#[tokio::test]
async fn xadd_appends_one_entry_per_record_in_order() {
    let server = RedisServer::start();
    let mut sink = sink(&[
        ("redis.uri", &server.uri()),
        ("redis.command", "XADD"),
        ("redis.key", "stream:${topic}"),
        ("redis.stream.maxlen", "1000"),
    ])
    .await
    .unwrap();
    let failed = write(
        &mut sink,
        &[
            record(None, object(json!({"id": 1, "item": "book"}))),
            record(None, text("plain")),
            record(None, object(json!({"id": 3}))),
        ],
    )
    .await;
    assert!(failed.is_empty());
    let mut redis = server.client(None);
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("stream:orders")
        .arg("-")
        .arg("+")
        .query(&mut redis)
        .unwrap();
    let fields: Vec<Vec<(String, String)>> = entries
        .into_iter()
        .map(|(_, fields)| sorted(fields))
        .collect();
    assert_eq!(
        fields,
        [
            vec![("id".into(), "1".into()), ("item".into(), "book".into())],
            vec![("value".into(), "plain".into())],
            vec![("id".into(), "3".into())],
        ]
    );
    // A tombstone deletes the whole stream its key resolves to.
    write(&mut sink, &[record(Some("any"), Data::Null)]).await;
    assert!(!redis.exists::<_, bool>("stream:orders").unwrap());
}

#[tokio::test]
async fn rpush_keeps_record_order_and_lpush_reverses_it() {
    let server = RedisServer::start();
    let records: Vec<SinkRecord> = ["a", "b", "c"]
        .iter()
        .map(|v| record(None, text(v)))
        .collect();
    for (command, key, expected) in [
        ("RPUSH", "r:${topic}", ["a", "b", "c"]),
        ("LPUSH", "l:${topic}", ["c", "b", "a"]),
    ] {
        let mut sink = sink(&[
            ("redis.uri", &server.uri()),
            ("redis.command", command),
            ("redis.key", key),
        ])
        .await
        .unwrap();
        assert!(write(&mut sink, &records).await.is_empty());
        let list: Vec<String> = server
            .client(None)
            .lrange(key.replace("${topic}", "orders"), 0, -1)
            .unwrap();
        assert_eq!(list, expected, "{command}");
    }
}

#[tokio::test]
async fn sadd_adds_members_and_a_tombstone_removes_the_keyed_member() {
    let server = RedisServer::start();
    let mut sink = sink(&[("redis.uri", &server.uri()), ("redis.command", "SADD")])
        .await
        .unwrap();
    let failed = write(
        &mut sink,
        &[
            record(None, text("x")),
            record(None, text("y")),
            record(None, text("x")),
            record(Some("y"), Data::Null),
            record(None, Data::Null),
        ],
    )
    .await;
    assert_eq!(failed, [4], "a tombstone without a key names no member");
    let members: Vec<String> = server.client(None).smembers("orders").unwrap();
    assert_eq!(members, ["x"]);
}

#[tokio::test]
async fn zadd_scores_by_field_or_timestamp_and_a_tombstone_removes_the_member() {
    let server = RedisServer::start();
    let mut by_field = sink(&[
        ("redis.uri", &server.uri()),
        ("redis.command", "ZADD"),
        ("redis.key", "by-field"),
        ("redis.zset.score.field", "points"),
    ])
    .await
    .unwrap();
    let failed = write(
        &mut by_field,
        &[
            record(Some("ann"), object(json!({"points": 12.5}))),
            record(Some("bob"), object(json!({"points": "7"}))),
            record(Some("cy"), object(json!({"points": "many"}))),
            record(Some("dee"), object(json!({"points": 3}))),
            record(Some("dee"), Data::Null),
        ],
    )
    .await;
    assert_eq!(failed, [2]);
    let mut redis = server.client(None);
    let ranked: Vec<(String, f64)> = redis.zrange_withscores("by-field", 0, -1).unwrap();
    assert_eq!(ranked, [("bob".into(), 7.0), ("ann".into(), 12.5)]);

    let mut by_time = sink(&[
        ("redis.uri", &server.uri()),
        ("redis.command", "ZADD"),
        ("redis.key", "by-time"),
    ])
    .await
    .unwrap();
    write(&mut by_time, &[record(None, text("keyless member"))]).await;
    let score: f64 = redis.zscore("by-time", "keyless member").unwrap();
    assert_eq!(score, 1_700_000_000_000.0);
}

#[tokio::test]
async fn wrongtype_fails_only_its_record_and_the_rest_of_the_batch_applies() {
    let server = RedisServer::start();
    let mut redis = server.client(None);
    let _: () = redis.set("taken", "a string").unwrap();
    let mut sink = sink(&[
        ("redis.uri", &server.uri()),
        ("redis.command", "RPUSH"),
        ("redis.key", "${key}"),
    ])
    .await
    .unwrap();
    let failures = sink
        .write(&[
            record(Some("list"), text("1")),
            record(Some("taken"), text("2")),
            record(Some("list"), text("3")),
        ])
        .await
        .unwrap();
    assert_eq!(indexes(&failures), [1]);
    let error = failures[0].error.to_string();
    assert!(
        error.contains("WRONGTYPE") && error.contains("'taken'"),
        "{error}"
    );
    assert_eq!(failures[0].error.domain(), ErrorDomain::User);
    assert_eq!(
        redis.lrange::<_, Vec<String>>("list", 0, -1).unwrap(),
        ["1", "3"]
    );
    assert_eq!(redis.get::<_, String>("taken").unwrap(), "a string");
}

#[tokio::test]
async fn authenticates_with_the_password_and_rejects_a_wrong_or_missing_one() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let uri = server.uri();
    let mut good = sink(&[("redis.uri", &uri), ("redis.password", "s3cret-pw")])
        .await
        .unwrap();
    assert!(write(&mut good, &[record(Some("k"), text("v"))])
        .await
        .is_empty());
    let value: String = server.client(Some("s3cret-pw")).get("k").unwrap();
    assert_eq!(value, "v");

    let wrong = sink(&[("redis.uri", &uri), ("redis.password", "not-it-pw")])
        .await
        .unwrap_err();
    assert_eq!(wrong.domain(), ErrorDomain::User);
    assert!(!wrong.is_retryable());
    let message = wrong.chain();
    assert!(message.contains("check redis.password"), "{message}");
    assert!(
        !message.contains("not-it-pw"),
        "the password leaked: {message}"
    );

    let missing = sink(&[("redis.uri", &uri)]).await.unwrap_err();
    assert_eq!(missing.domain(), ErrorDomain::User);
    assert!(
        missing.to_string().contains("set redis.password"),
        "{missing}"
    );
}

#[tokio::test]
async fn a_database_the_server_lacks_is_a_user_error() {
    let server = RedisServer::start();
    let err = sink(&[("redis.uri", &format!("{}/99", server.uri()))])
        .await
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("no database 99"), "{err}");
}

#[tokio::test]
async fn writes_to_the_database_in_the_uri() {
    let server = RedisServer::start();
    let mut sink = sink(&[("redis.uri", &format!("{}/5", server.uri()))])
        .await
        .unwrap();
    write(&mut sink, &[record(Some("k"), text("in db 5"))]).await;
    let mut redis = server.client(None);
    assert!(!redis.exists::<_, bool>("k").unwrap());
    let _: () = redis::cmd("SELECT").arg(5).query(&mut redis).unwrap();
    assert_eq!(redis.get::<_, String>("k").unwrap(), "in db 5");
}

/// Writes a batch as the runtime does: a retryable error is retried with the same
/// records. Returns how many attempts failed.
async fn write_retrying(sink: &mut Box<dyn Sink>, records: &[SinkRecord]) -> usize {
    for failed_attempts in 0..3 {
        match sink.write(records).await {
            Ok(failures) => {
                assert!(failures.is_empty());
                sink.flush().await.unwrap();
                return failed_attempts;
            }
            Err(err) => assert!(err.is_retryable(), "{}", err.chain()),
        }
    }
    panic!("the batch failed three times");
}

#[tokio::test]
async fn a_killed_connection_is_replaced_without_losing_or_reordering_writes() {
    let server = RedisServer::start();
    let mut sink = sink(&[
        ("redis.uri", &server.uri()),
        ("redis.command", "RPUSH"),
        ("redis.key", "${key}"),
    ])
    .await
    .unwrap();
    let batch = |values: &[&str]| -> Vec<SinkRecord> {
        values
            .iter()
            .map(|v| record(Some("log"), text(v)))
            .collect()
    };
    let mut expected = Vec::new();
    let mut redis = server.client(None);
    for (round, values) in [["a1", "a2"], ["b1", "b2"], ["c1", "c2"]]
        .iter()
        .enumerate()
    {
        if round > 0 {
            // Kills every client but this one: the sink's connection dies between batches.
            let killed: i64 = redis::cmd("CLIENT")
                .arg(&["KILL", "TYPE", "normal"])
                .query(&mut redis)
                .unwrap();
            assert_eq!(killed, 1, "the sink's connection");
        }
        let failed_attempts = write_retrying(&mut sink, &batch(values)).await;
        assert!(
            failed_attempts <= 1,
            "one failed attempt at most, then a reconnect"
        );
        expected.extend(values.iter().map(|v| v.to_string()));
        let list: Vec<String> = redis.lrange("log", 0, -1).unwrap();
        assert_eq!(list, expected);
    }
}

#[tokio::test]
async fn a_stopped_server_is_a_retryable_external_error_naming_the_address() {
    let mut server = RedisServer::start();
    let address = server.address();
    let mut sink = sink(&[("redis.uri", &server.uri())]).await.unwrap();
    write(&mut sink, &[record(Some("a"), text("batch A"))]).await;

    server.stop();
    let err = sink
        .write(&[record(Some("b"), text("batch B"))])
        .await
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::External);
    assert!(err.is_retryable());
    assert!(err.chain().contains(&address), "{}", err.chain());
    // Refused while reconnecting: the same kind of error.
    let err = sink
        .write(&[record(Some("b"), text("batch B"))])
        .await
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::External);
    assert!(err.is_retryable());
    assert!(err.chain().contains(&address), "{}", err.chain());

    // The restarted server is empty (it keeps nothing on disk); the retry lands.
    server.restart();
    write(&mut sink, &[record(Some("b"), text("batch B"))]).await;
    let value: String = server.client(None).get("b").unwrap();
    assert_eq!(value, "batch B");
}

#[tokio::test]
async fn a_server_down_at_open_only_delays_the_first_write() {
    let mut server = RedisServer::start();
    let address = server.address();
    server.stop();
    let mut sink = sink(&[("redis.uri", &server.uri())]).await.unwrap();
    let err = sink
        .write(&[record(Some("k"), text("v"))])
        .await
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::External);
    assert!(err.is_retryable());
    let message = err.chain();
    assert!(
        message.contains(&format!("cannot connect to Redis at {address}")),
        "{message}"
    );
    server.restart();
    write(&mut sink, &[record(Some("k"), text("v"))]).await;
    assert_eq!(server.client(None).get::<_, String>("k").unwrap(), "v");
}

#[tokio::test]
async fn no_reply_within_the_timeout_is_a_retryable_external_error() {
    let server = RedisServer::start();
    let mut sink = sink(&[("redis.uri", &server.uri()), ("redis.timeout.ms", "300")])
        .await
        .unwrap();
    let mut redis = server.client(None);
    // Holds every write command, so the transaction gets no reply until unpaused.
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "60000", "WRITE"])
        .query(&mut redis)
        .unwrap();
    let err = sink
        .write(&[record(Some("k"), text("v"))])
        .await
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::External);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("timed out after 300 ms"), "{err}");
    assert!(err.to_string().contains(&server.address()), "{err}");
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut redis)
        .unwrap();
    write_retrying(&mut sink, &[record(Some("k"), text("v"))]).await;
    assert_eq!(redis.get::<_, String>("k").unwrap(), "v");
}

#[tokio::test]
async fn an_acl_denied_key_fails_the_batch_naming_the_key_and_applies_nothing() {
    let server = RedisServer::start();
    let mut redis = server.client(None);
    let _: () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "writer",
            "on",
            ">writer-pw",
            "~allowed:*",
            "+@all",
        ])
        .query(&mut redis)
        .unwrap();
    let uri = format!("redis://writer@{}", server.address());
    let mut sink = sink(&[("redis.uri", &uri), ("redis.password", "writer-pw")])
        .await
        .unwrap();
    let err = sink
        .write(&[
            record(Some("allowed:1"), text("v")),
            record(Some("denied:1"), text("v")),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User);
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains("'denied:1'") && message.contains("'writer'"),
        "{message}"
    );
    assert!(
        !redis.exists::<_, bool>("allowed:1").unwrap(),
        "the transaction was discarded"
    );
}
