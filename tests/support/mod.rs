//! Shared helpers for the end-to-end tests: brokers (in-process and as a child
//! process), rdkafka clients pointed at them, and bounded waits.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

mod command;
mod connect;
mod http;
mod in_process;
#[path = "../../connectors/tests/support/mariadb_server.rs"]
mod mariadb_server;
#[path = "../../connectors/tests/support/postgres_server.rs"]
mod postgres_server;
mod process;
#[path = "../../connectors/tests/support/redis_server.rs"]
mod redis_server;
#[path = "../../connectors/tests/support/search_server.rs"]
mod search_server;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub(crate) use command::{ok, weir};
pub(crate) use connect::ConnectProcess;
pub(crate) use http::Http;
pub(crate) use in_process::InProcessBroker;
pub(crate) use mariadb_server::MariaDbServer;
pub(crate) use postgres_server::PostgresServer;
pub(crate) use process::BrokerProcess;
pub(crate) use redis_server::RedisServer;
pub(crate) use search_server::SearchServer;

/// How long any single wait in a test may take before it fails with a message.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Runs a future (an rdkafka admin call) to completion on a small runtime.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(future)
}

/// A client config for `bootstrap` with test-friendly timeouts.
pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "10000")
        .set("topic.metadata.refresh.interval.ms", "1000");
    config
}

pub(crate) fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client_config(bootstrap)
        .create()
        .expect("create admin client")
}

pub(crate) fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(WAIT))
        .operation_timeout(Some(WAIT))
}

/// Creates a topic and waits until its partitions show up in metadata.
pub(crate) fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin = admin(bootstrap);
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = block_on(admin.create_topics([&topic], &admin_options()))
        .unwrap_or_else(|err| panic!("CreateTopics {name} failed: {err}"));
    for result in results {
        if let Err((topic, code)) = result {
            panic!("CreateTopics {topic} failed: {code:?} ({code})");
        }
    }
    let consumer = consumer(bootstrap);
    wait_until(
        &format!("topic {name} to have {partitions} partitions"),
        || {
            consumer
                .fetch_metadata(Some(name), Duration::from_secs(5))
                .ok()
                .and_then(|m| {
                    m.topics()
                        .iter()
                        .find(|t| t.name() == name)
                        .map(|t| t.error().is_none() && t.partitions().len() == partitions as usize)
                })
                .unwrap_or(false)
        },
    );
}

/// A consumer for `assign` (librdkafka needs a group id for that, but this consumer
/// never joins the group nor commits).
pub(crate) fn consumer(bootstrap: &str) -> BaseConsumer {
    client_config(bootstrap)
        .set("group.id", "weir-tests")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .expect("create consumer")
}

/// Polls `check` until it holds, failing the test after [`WAIT`].
pub(crate) fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Low and high watermarks of every partition of `topic`.
pub(crate) fn watermarks(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, (i64, i64)> {
    let consumer = consumer(bootstrap);
    (0..partitions)
        .map(|p| {
            let marks = consumer
                .fetch_watermarks(topic, p, WAIT)
                .unwrap_or_else(|err| panic!("ListOffsets {topic}-{p} failed: {err}"));
            (p, marks)
        })
        .collect()
}

/// Reads every partition of `topic` from its start to its current high watermark and
/// returns the records per partition, in offset order.
pub(crate) fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, Vec<OwnedMessage>> {
    let ends = watermarks(bootstrap, topic, partitions);
    let consumer = consumer(bootstrap);
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("add partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut out: BTreeMap<i32, Vec<OwnedMessage>> =
        (0..partitions).map(|p| (p, Vec::new())).collect();
    let done = |out: &BTreeMap<i32, Vec<OwnedMessage>>| {
        ends.iter().all(|(p, (_, high))| {
            out[p].last().map_or(*high == 0 || ends[p].0 >= *high, |m| {
                m.offset() + 1 >= *high
            })
        })
    };
    let deadline = Instant::now() + WAIT;
    while !done(&out) {
        assert!(
            Instant::now() < deadline,
            "timed out reading {topic} up to its high watermarks {ends:?}; got {:?} records",
            out.iter()
                .map(|(p, v)| (*p, v.len()))
                .collect::<BTreeMap<_, _>>()
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let p = message.partition();
                out.get_mut(&p)
                    .expect("assigned partition")
                    .push(message.detach());
            }
            Some(Err(err)) => panic!("fetch from {topic} failed: {err}"),
            None => {}
        }
    }
    out
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
