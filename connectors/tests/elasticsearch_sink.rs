//! The Elasticsearch sink against a real `osmem-server` (an OpenSearch-compatible
//! server): first the sink task alone, as the runtime drives it — ids, upserts,
//! deletes, external versions, rejected documents, a dead or frozen server — then
//! whole pipelines through a real broker and the Connect runtime: dead-letter records
//! with the server's reason, a task failing under `errors.tolerance=none`, and a
//! server killed and restarted while records wait, with offsets committed only for
//! what the server holds.

#[path = "support/search_server.rs"]
mod search_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use search_server::SearchServer;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use weir_connect::config::ConfigMap;
use weir_connect::herder::ConnectorTaskId;
use weir_connect::runtime::{Runtime, RuntimeSettings, TaskControl};
use weir_connect::{
    ConnectError, Data, ErrorDomain, Record, RecordFailure, Sink, SinkContext, SinkRecord, Task,
};

// ---------------------------------------------------------------------------------
// The sink task alone.

/// A sink task made the way a worker makes one: found by class name, config parsed
/// and validated, task created and opened.
async fn sink(pairs: &[(&str, &str)]) -> Result<Box<dyn Sink>, ConnectError> {
    let plugins = weir_connectors::plugins();
    let plugin = plugins
        .find("elasticsearch")
        .expect("the elasticsearch plugin");
    let props: ConfigMap = weir_connect::config::config_map(pairs);
    let parsed = plugin.config_def().parse(&props).expect("a valid config");
    assert_eq!(plugin.validate(&parsed), []);
    let Task::Sink(mut sink) = plugin.create_task(&parsed)? else {
        panic!("elasticsearch made a source task");
    };
    sink.open(SinkContext::default()).await?;
    Ok(sink)
}

fn record(offset: i64, key: Option<&str>, value: Data) -> SinkRecord {
    let mut record = Record::new("Orders", value);
    record.key = key.map_or(Data::Null, |k| Data::Json(json!(k)));
    record.timestamp = Some(1_700_000_000_000);
    SinkRecord {
        record,
        origin_topic: "Orders".into(),
        origin_partition: 0,
        offset,
    }
}

fn doc(value: Value) -> Data {
    Data::Json(value)
}

/// Writes and flushes one batch, expecting no batch error; the failed indexes.
async fn write(sink: &mut Box<dyn Sink>, records: &[SinkRecord]) -> Vec<RecordFailure> {
    let failures = sink
        .write(records)
        .await
        .unwrap_or_else(|e| panic!("{}", e.chain()));
    sink.flush().await.unwrap();
    failures
}

fn indexes(failures: &[RecordFailure]) -> Vec<usize> {
    failures.iter().map(|f| f.index).collect()
}

#[tokio::test]
async fn documents_are_indexed_by_key_in_the_lowercased_topic_and_tombstones_delete() {
    let server = SearchServer::start();
    let mut sink = sink(&[
        ("connection.url", &server.url()),
        ("behavior.on.null.values", "delete"),
    ])
    .await
    .unwrap();
    let failures = write(
        &mut sink,
        &[
            record(0, Some("o1"), doc(json!({"item": "book", "qty": 1}))),
            record(1, Some("o2"), doc(json!({"item": "pen", "qty": 2}))),
            record(2, Some("o1"), doc(json!({"item": "book", "qty": 3}))),
            record(3, Some("o2"), Data::Null),
            record(4, None, doc(json!({"item": "no key"}))),
        ],
    )
    .await;
    assert_eq!(indexes(&failures), [4], "a null key cannot be an id");
    assert!(
        failures[0].error.to_string().contains("cannot be null"),
        "{}",
        failures[0].error
    );
    assert_eq!(
        server.document("orders", "o1"),
        Some(json!({"item": "book", "qty": 3}))
    );
    assert_eq!(
        server.version("orders", "o1"),
        Some(2),
        "the offset is the version"
    );
    assert_eq!(server.document("orders", "o2"), None);
    assert_eq!(server.ids("orders"), ["o1"]);
}

#[tokio::test]
async fn a_replayed_older_write_never_overwrites_a_newer_document() {
    let server = SearchServer::start();
    let mut sink = sink(&[
        ("connection.url", &server.url()),
        ("behavior.on.null.values", "delete"),
    ])
    .await
    .unwrap();
    let batch = [
        record(10, Some("k"), doc(json!({"v": "old"}))),
        record(11, Some("k"), doc(json!({"v": "new"}))),
        record(12, Some("gone"), doc(json!({"v": "x"}))),
        record(13, Some("gone"), Data::Null),
    ];
    assert!(write(&mut sink, &batch).await.is_empty());
    // A crash before the offsets were committed: the runtime delivers the batch again,
    // and a record older than the document arrives late on its own.
    assert!(
        write(&mut sink, &batch).await.is_empty(),
        "409s are replays, not failures"
    );
    assert!(write(&mut sink, &batch[..1]).await.is_empty());
    assert_eq!(server.document("orders", "k"), Some(json!({"v": "new"})));
    assert_eq!(server.version("orders", "k"), Some(11));
    assert_eq!(
        server.document("orders", "gone"),
        None,
        "the replay did not revive it"
    );
}

#[tokio::test]
async fn key_ignore_makes_one_document_per_record_named_topic_partition_offset() {
    let server = SearchServer::start();
    let mut sink = sink(&[("connection.url", &server.url()), ("key.ignore", "true")])
        .await
        .unwrap();
    let batch = [
        record(5, Some("same"), doc(json!({"n": 1}))),
        record(6, Some("same"), doc(json!({"n": 2}))),
        record(7, None, Data::JsonText("{\"n\":\n3}".into())),
    ];
    assert!(write(&mut sink, &batch).await.is_empty());
    assert!(
        write(&mut sink, &batch).await.is_empty(),
        "a replay adds nothing"
    );
    assert_eq!(
        server.ids("orders"),
        ["Orders+0+5", "Orders+0+6", "Orders+0+7"]
    );
    assert_eq!(
        server.document("orders", "Orders+0+7"),
        Some(json!({"n": 3}))
    );
}

#[tokio::test]
async fn upsert_merges_fields_and_keeps_each_documents_order_across_pipelined_requests() {
    let server = SearchServer::start();
    // One action per request, eight in flight: only the scheduler keeps the writes of
    // one document in order (updates carry no versions).
    let mut sink = sink(&[
        ("connection.url", &server.url()),
        ("write.method", "upsert"),
        ("batch.size", "1"),
        ("max.in.flight.requests", "8"),
    ])
    .await
    .unwrap();
    assert!(
        write(&mut sink, &[record(0, Some("a"), doc(json!({"x": 1})))])
            .await
            .is_empty()
    );
    for round in 0..5 {
        let first = 1 + round * 120;
        let batch: Vec<SinkRecord> = (first..first + 120)
            .map(|n| {
                let key = ["a", "b", "c"][n as usize % 3];
                record(n, Some(key), doc(json!({"n": n, key: true})))
            })
            .collect();
        assert!(write(&mut sink, &batch).await.is_empty());
        let last = first + 119;
        let a = json!({"x": 1, "n": last, "a": true});
        assert_eq!(server.document("orders", "a"), Some(a), "round {round}");
        let b = json!({"n": last - 2, "b": true});
        assert_eq!(server.document("orders", "b"), Some(b), "round {round}");
        let c = json!({"n": last - 1, "c": true});
        assert_eq!(server.document("orders", "c"), Some(c), "round {round}");
    }
}

#[tokio::test]
async fn a_document_the_server_rejects_fails_alone_with_the_servers_reason() {
    let server = SearchServer::start();
    let url = server.url();
    let mut strict = sink(&[("connection.url", &url)]).await.unwrap();
    let failures = write(
        &mut strict,
        &[
            record(0, Some("a"), doc(json!({"qty": 1}))),
            record(1, Some("b"), doc(json!({"qty": "many"}))),
            record(2, Some("c"), doc(json!("a plain string"))),
            record(3, Some("d"), doc(json!({"qty": 4}))),
        ],
    )
    .await;
    assert_eq!(indexes(&failures), [1, 2]);
    let rejected = failures[0].error.to_string();
    assert!(
        rejected.contains("mapper_parsing_exception") && rejected.contains("'b'"),
        "{rejected}"
    );
    assert_eq!(failures[0].error.domain(), ErrorDomain::User);
    assert!(!failures[0].error.is_retryable());
    assert!(failures[1].error.to_string().contains("HoistField$Value"));
    assert_eq!(server.ids("orders"), ["a", "d"]);

    for behavior in ["ignore", "warn"] {
        let mut lenient = sink(&[
            ("connection.url", &url),
            ("behavior.on.malformed.documents", behavior),
        ])
        .await
        .unwrap();
        let failures = write(
            &mut lenient,
            &[record(4, Some("e"), doc(json!({"qty": "x"})))],
        )
        .await;
        assert!(failures.is_empty(), "{behavior}");
    }
}

#[tokio::test]
async fn tombstones_fail_by_default_and_can_be_ignored() {
    let server = SearchServer::start();
    let mut strict = sink(&[("connection.url", &server.url())]).await.unwrap();
    let failures = write(&mut strict, &[record(0, Some("k"), Data::Null)]).await;
    assert_eq!(indexes(&failures), [0]);
    assert!(failures[0]
        .error
        .to_string()
        .contains("behavior.on.null.values=fail"));
    let mut lenient = sink(&[
        ("connection.url", &server.url()),
        ("behavior.on.null.values", "ignore"),
    ])
    .await
    .unwrap();
    assert!(write(&mut lenient, &[record(0, Some("k"), Data::Null)])
        .await
        .is_empty());
}

#[tokio::test]
async fn data_streams_get_created_documents_with_a_timestamp() {
    let server = SearchServer::start();
    let mut sink = sink(&[
        ("connection.url", &server.url()),
        ("data.stream.type", "logs"),
        ("data.stream.dataset", "shop"),
        ("data.stream.timestamp.field", "time"),
        ("key.ignore", "true"),
        ("connection.compression", "true"),
    ])
    .await
    .unwrap();
    let batch = [
        record(0, None, doc(json!({"message": "started"}))),
        record(
            1,
            None,
            doc(json!({"message": "timed", "time": "2024-02-29T10:00:00Z"})),
        ),
    ];
    assert!(write(&mut sink, &batch).await.is_empty());
    assert!(
        write(&mut sink, &batch).await.is_empty(),
        "creates again are replays"
    );
    let stream = "logs-shop-orders";
    assert_eq!(server.count(stream), 2);
    assert_eq!(
        server.document(stream, "Orders+0+0"),
        Some(json!({"message": "started", "@timestamp": "2023-11-14T22:13:20.000Z"}))
    );
    assert_eq!(
        server.document(stream, "Orders+0+1").unwrap()["@timestamp"],
        "2024-02-29T10:00:00Z"
    );
}

#[tokio::test]
async fn several_urls_and_basic_authentication_headers_are_accepted() {
    // osmem-server does not check credentials, so a wrong password cannot be shown
    // here; this shows the header does not break requests, and that a second URL is
    // used in turn.
    let server = SearchServer::start();
    let urls = format!("{},{}", server.url(), server.url());
    let mut sink = sink(&[
        ("connection.url", &urls),
        ("connection.username", "writer"),
        ("connection.password", "s3cret-pw"),
    ])
    .await
    .unwrap();
    assert!(!format!("{sink:?}").contains("s3cret-pw"));
    let batch: Vec<SinkRecord> = (0..4)
        .map(|n| record(n, Some(&format!("k{n}")), doc(json!({"n": n}))))
        .collect();
    for one in batch.chunks(1) {
        assert!(write(&mut sink, one).await.is_empty());
    }
    assert_eq!(server.count("orders"), 4);
}

#[tokio::test]
async fn a_dead_server_is_a_retryable_external_error_and_the_retry_lands() {
    let mut server = SearchServer::start();
    let url = server.url();
    let mut sink = sink(&[
        ("connection.url", &url),
        ("max.retries", "1"),
        ("retry.backoff.ms", "10"),
    ])
    .await
    .unwrap();
    assert!(
        write(&mut sink, &[record(0, Some("a"), doc(json!({"v": 0})))])
            .await
            .is_empty()
    );
    server.stop();
    let batch = [record(1, Some("b"), doc(json!({"v": 1})))];
    let err = sink.write(&batch).await.unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::External);
    assert!(err.is_retryable());
    assert!(
        err.chain().contains("cannot connect to Elasticsearch at"),
        "{}",
        err.chain()
    );
    assert!(err.chain().contains("max.retries"), "{}", err.chain());
    server.restart();
    assert!(write(&mut sink, &batch).await.is_empty());
    assert_eq!(server.document("orders", "b"), Some(json!({"v": 1})));
}

#[tokio::test]
async fn a_server_that_stops_answering_times_out_and_keeps_what_it_had() {
    let server = SearchServer::start();
    let mut sink = sink(&[
        ("connection.url", &server.url()),
        ("read.timeout.ms", "300"),
        ("max.retries", "0"),
    ])
    .await
    .unwrap();
    assert!(
        write(&mut sink, &[record(0, Some("a"), doc(json!({"v": 0})))])
            .await
            .is_empty()
    );
    server.signal("-STOP");
    let batch = [record(1, Some("b"), doc(json!({"v": 1})))];
    let err = sink.write(&batch).await.unwrap_err();
    server.signal("-CONT");
    assert!(err.is_retryable());
    assert!(err.chain().contains("within 300 ms"), "{}", err.chain());
    assert!(write(&mut sink, &batch).await.is_empty());
    assert_eq!(server.ids("orders"), ["a", "b"]);
}

#[tokio::test]
async fn a_server_down_at_open_only_delays_the_first_write() {
    let mut server = SearchServer::start();
    let url = server.url();
    server.stop();
    let mut sink = sink(&[("connection.url", &url), ("max.retries", "0")])
        .await
        .unwrap();
    let batch = [record(0, Some("k"), doc(json!({"v": 1})))];
    assert!(sink.write(&batch).await.unwrap_err().is_retryable());
    server.restart();
    assert!(write(&mut sink, &batch).await.is_empty());
    assert_eq!(server.count("orders"), 1);
}

#[test]
fn config_mistakes_are_refused_with_hints() {
    let plugins = weir_connectors::plugins();
    let settings = RuntimeSettings::new("127.0.0.1:1", "w");
    let refused = |pairs: &[(&str, &str)]| -> Vec<String> {
        let mut props = vec![
            ("name", "es"),
            (
                "connector.class",
                "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            ),
            ("topics", "orders"),
        ];
        props.extend_from_slice(pairs);
        let props: ConfigMap = weir_connect::config::config_map(&props);
        match settings.parse_connector(&plugins, &props) {
            Ok(_) => Vec::new(),
            Err(issues) => issues.iter().map(ToString::to_string).collect(),
        }
    };
    assert_eq!(
        refused(&[("connection.url", "http://127.0.0.1:9200")]),
        Vec::<String>::new()
    );
    let issues = refused(&[("conection.url", "http://127.0.0.1:9200")]);
    assert!(
        issues
            .iter()
            .any(|i| i.contains("did you mean 'connection.url'")),
        "{issues:?}"
    );
    let issues = refused(&[
        ("connection.url", "http://127.0.0.1:9200"),
        ("write.method", "merge"),
    ]);
    assert!(
        issues.iter().any(|i| i.contains("write.method")),
        "{issues:?}"
    );
    let issues = refused(&[("connection.url", "http://u:pw@127.0.0.1:9200")]);
    assert!(
        issues.iter().any(|i| i.contains("set connection.username"))
            && !issues.iter().any(|i| i.contains(":pw@")),
        "{issues:?}"
    );
    let issues = refused(&[
        ("connection.url", "http://h:9200"),
        ("data.stream.type", "logs"),
    ]);
    assert!(
        issues.iter().any(|i| i.contains("data.stream.dataset")),
        "{issues:?}"
    );
}

// ---------------------------------------------------------------------------------
// Through a broker and the Connect runtime.

/// A broker in this process, and the runtime of one Connect worker on it.
struct Pipeline {
    _broker: Broker,
    bootstrap: String,
    runtime: Runtime,
}

struct Broker {
    shutdown: CancellationToken,
    _thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Pipeline {
    async fn start() -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let bootstrap = listener.local_addr().unwrap().to_string();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let config = weir_core::broker::BrokerConfig::new(dir.path());
        // The broker gets its own runtime on its own thread, so a test's task and the
        // broker never share a scheduler.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = weir_core::broker::run(listener, config, stop).await;
            });
        });
        let settings = RuntimeSettings::new(bootstrap.clone(), "test-worker");
        let runtime = Runtime::start(settings, weir_connectors::plugins())
            .await
            .unwrap_or_else(|e| panic!("{}", e.chain()));
        Pipeline {
            _broker: Broker {
                shutdown,
                _thread: thread,
                _dir: dir,
            },
            bootstrap,
            runtime,
        }
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    async fn produce(&self, topic: &str, records: &[(&str, Option<&str>)]) {
        let producer: FutureProducer = self.client().create().unwrap();
        for (key, value) in records {
            let mut record = FutureRecord::<str, str>::to(topic).key(*key);
            if let Some(value) = value {
                record = record.payload(*value);
            }
            producer
                .send(record, Duration::from_secs(30))
                .await
                .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
        }
    }

    async fn produce_owned(&self, topic: &str, records: Vec<(String, String)>) {
        let refs: Vec<(&str, Option<&str>)> = records
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_str())))
            .collect();
        self.produce(topic, &refs).await;
    }

    /// Starts the sink task with these props; stopped by the returned token.
    fn run(
        &self,
        name: &str,
        pairs: &[(&str, &str)],
    ) -> (
        CancellationToken,
        tokio::task::JoinSet<Result<(), ConnectError>>,
    ) {
        let mut props = vec![
            ("name", name),
            ("connector.class", "elasticsearch"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
            ("batch.max.ms", "20"),
        ];
        props.extend_from_slice(pairs);
        let props: ConfigMap = weir_connect::config::config_map(&props);
        let config = self
            .runtime
            .settings()
            .parse_connector(self.runtime.plugins(), &props)
            .unwrap_or_else(|issues| panic!("{issues:?}"));
        let cancel = CancellationToken::new();
        let (_paused_tx, paused) = tokio::sync::watch::channel(false);
        let control = TaskControl {
            cancel: cancel.clone(),
            paused,
            topics: None,
        };
        let runtime = self.runtime.clone();
        let id = ConnectorTaskId {
            connector: name.to_string(),
            task: 0,
        };
        let mut task = tokio::task::JoinSet::new();
        task.spawn(async move {
            // Keeps the pause channel open while the task runs.
            let _paused_tx = _paused_tx;
            runtime.run_task(id, Arc::new(config), props, control).await
        });
        (cancel, task)
    }

    /// The committed offset of the sink's group on partition 0 of `topic`.
    async fn committed(&self, connector: &str) -> Option<i64> {
        let offsets = self.runtime.sink_offsets(connector).await.ok()?;
        offsets
            .iter()
            .find(|o| o.partition["kafka_partition"] == 0)
            .and_then(|o| o.offset["kafka_offset"].as_i64())
    }
}

fn create_topic(bootstrap: &str, topic: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<_> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = runtime
        .block_on(admin.create_topics(
            [&NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .unwrap();
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("create {t}: {e}"));
    }
}

/// Waits (polling, up to a minute) until `check` holds; the test fails naming `what`.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A consumed record's key, value and headers, as text.
type Consumed = (String, String, Vec<(String, String)>);

/// Every record of partition 0 of `topic`: key, value and headers.
fn read_topic(bootstrap: &str, topic: &str, count: usize) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), text(h.value)))
                        .collect()
                })
                .unwrap_or_default();
            out.push((text(message.key()), text(message.payload()), headers));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_indexes_deletes_and_sends_rejected_documents_to_the_dead_letter_topic() {
    let pipeline = Pipeline::start().await;
    let server = SearchServer::start();
    let bootstrap = pipeline.bootstrap.clone();
    tokio::task::spawn_blocking(move || create_topic(&bootstrap, "orders"))
        .await
        .unwrap();
    pipeline
        .produce(
            "orders",
            &[
                ("1", Some(r#"{"item":"book","qty":1}"#)),
                ("2", Some(r#"{"item":"pen","qty":"lots"}"#)),
                ("3", Some(r#"{"item":"ink","qty":3}"#)),
                ("3", None),
                ("4", Some("not json")),
                ("5", Some(r#"{"item":"cup","qty":5}"#)),
            ],
        )
        .await;
    let url = server.url();
    let (cancel, mut task) = pipeline.run(
        "es-orders",
        &[
            ("topics", "orders"),
            ("connection.url", &url),
            ("behavior.on.null.values", "delete"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "orders-dlq"),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    wait_until("every offset committed", || {
        futures_block(pipeline.committed("es-orders")) == Some(6)
    })
    .await;
    assert_eq!(server.ids("orders"), ["1", "5"]);
    assert_eq!(
        server.document("orders", "1"),
        Some(json!({"item": "book", "qty": 1}))
    );
    let bootstrap = pipeline.bootstrap.clone();
    let dead = tokio::task::spawn_blocking(move || read_topic(&bootstrap, "orders-dlq", 2))
        .await
        .unwrap();
    let mut keys: Vec<&str> = dead.iter().map(|(k, _, _)| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["2", "4"],
        "the rejected document and the one that is not JSON"
    );
    let rejected = dead.iter().find(|(k, _, _)| k == "2").unwrap();
    assert_eq!(
        rejected.1, r#"{"item":"pen","qty":"lots"}"#,
        "as it was read"
    );
    let reason = rejected
        .2
        .iter()
        .find(|(k, _)| k == "__connect.errors.exception.message")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    assert!(
        reason.contains("mapper_parsing_exception") && reason.contains("qty"),
        "{reason}"
    );
    let stage = rejected
        .2
        .iter()
        .find(|(k, _)| k == "__connect.errors.stage");
    assert_eq!(stage.map(|(_, v)| v.as_str()), Some("TASK_PUT"));
    cancel.cancel();
    task.join_next().await.unwrap().unwrap().unwrap();
}

/// Blocks on a future from inside a test's polling closure.
fn futures_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_document_fails_the_task_under_errors_tolerance_none() {
    let pipeline = Pipeline::start().await;
    let server = SearchServer::start();
    let bootstrap = pipeline.bootstrap.clone();
    tokio::task::spawn_blocking(move || create_topic(&bootstrap, "strict"))
        .await
        .unwrap();
    pipeline
        .produce(
            "strict",
            &[("a", Some(r#"{"n":1}"#)), ("b", Some(r#"{"n":"two"}"#))],
        )
        .await;
    let url = server.url();
    let (_cancel, mut task) = pipeline.run(
        "es-strict",
        &[("topics", "strict"), ("connection.url", &url)],
    );

    let err = tokio::time::timeout(Duration::from_secs(60), task.join_next())
        .await
        .expect("the task fails")
        .unwrap()
        .unwrap()
        .unwrap_err();
    let message = err.chain();
    assert!(
        message.contains("errors.tolerance=none") && message.contains("mapper_parsing_exception"),
        "{message}"
    );
    assert_eq!(server.ids("strict"), ["a"]);
    assert_eq!(
        pipeline.committed("es-strict").await,
        None,
        "nothing committed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_wait_while_the_server_is_down_and_arrive_exactly_once() {
    let pipeline = Pipeline::start().await;
    let mut server = SearchServer::start();
    let bootstrap = pipeline.bootstrap.clone();
    tokio::task::spawn_blocking(move || create_topic(&bootstrap, "events"))
        .await
        .unwrap();
    let batch = |from: usize, to: usize| -> Vec<(String, String)> {
        (from..to)
            .map(|n| (format!("e{n:03}"), format!(r#"{{"n":{n}}}"#)))
            .collect()
    };
    pipeline.produce_owned("events", batch(0, 100)).await;
    let url = server.url();
    let (cancel, mut task) = pipeline.run(
        "es-events",
        &[
            ("topics", "events"),
            ("connection.url", &url),
            ("max.retries", "2"),
            ("retry.backoff.ms", "20"),
            ("read.timeout.ms", "500"),
            ("errors.retry.delay.max.ms", "200"),
            ("batch.max.records", "40"),
        ],
    );
    wait_until("the first 100 documents", || server.count("events") == 100).await;
    wait_until("their offsets committed", || {
        futures_block(pipeline.committed("es-events")) == Some(100)
    })
    .await;

    // Frozen: connections open but nothing answers; then thawed with its data.
    server.signal("-STOP");
    pipeline.produce_owned("events", batch(100, 200)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pipeline.committed("es-events").await,
        Some(100),
        "nothing the server did not accept is committed"
    );
    server.signal("-CONT");
    wait_until("200 documents after the thaw", || {
        server.count("events") == 200
    })
    .await;

    // Killed: connections refused; the restarted server is empty, and takes what was
    // produced while it was down.
    wait_until("200 offsets committed", || {
        futures_block(pipeline.committed("es-events")) == Some(200)
    })
    .await;
    server.stop();
    pipeline.produce_owned("events", batch(200, 300)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(pipeline.committed("es-events").await, Some(200));
    server.restart();
    wait_until("the 100 records produced while the server was down", || {
        server.count("events") == 100
    })
    .await;
    wait_until("every offset committed", || {
        futures_block(pipeline.committed("es-events")) == Some(300)
    })
    .await;
    let expected: Vec<String> = (200..300).map(|n| format!("e{n:03}")).collect();
    assert_eq!(server.ids("events"), expected);
    for n in [200, 250, 299] {
        let id = format!("e{n:03}");
        assert_eq!(server.document("events", &id), Some(json!({"n": n})));
        assert_eq!(
            server.version("events", &id),
            Some(n),
            "written once, at its offset"
        );
    }
    cancel.cancel();
    task.join_next().await.unwrap().unwrap().unwrap();
}
