//! Produce and consume through a real Kafka client (librdkafka via `rdkafka`) against
//! an in-process broker: every codec, headers, timestamps, keys → partitions,
//! ListOffsets by timestamp and DeleteRecords.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::{
    admin, admin_options, block_on, client_config, create_topic, now_ms, read_all, watermarks,
    InProcessBroker, WAIT,
};
use weir_core::broker::BrokerConfig;

fn start_broker(dir: &tempfile::TempDir) -> InProcessBroker {
    let mut config = BrokerConfig::new(dir.path());
    config.auto_create_topics = false;
    InProcessBroker::start(config)
}

/// A producer that keeps order (one request in flight) and waits for all replicas.
fn producer(bootstrap: &str, compression: &str) -> BaseProducer {
    client_config(bootstrap)
        .set("compression.type", compression)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("max.in.flight.requests.per.connection", "1")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create producer")
}

fn flush(producer: &BaseProducer) {
    producer
        .flush(WAIT)
        .expect("every record acknowledged within the wait");
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sent {
    seq: usize,
    key: String,
    value: Vec<u8>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: i64,
}

fn headers_of(message: &impl Message) -> Vec<(String, Option<Vec<u8>>)> {
    message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_codec_round_trips_keys_values_headers_and_timestamps_in_partition_order() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&dir);
    let topic = "roundtrip";
    create_topic(&broker.bootstrap, topic, 4, &[]);

    let base_ts = now_ms() - 60_000;
    let mut sent = Vec::new();
    for (c, codec) in ["none", "gzip", "snappy", "lz4", "zstd"]
        .into_iter()
        .enumerate()
    {
        let producer = producer(&broker.bootstrap, codec);
        for i in 0..200 {
            let seq = sent.len();
            let key = format!("key-{}", i % 13);
            // Repetitive values so every codec actually compresses something.
            let value = format!("{codec} record {i} {}", "abc".repeat(i % 50)).into_bytes();
            let headers = vec![
                ("codec".to_owned(), Some(codec.as_bytes().to_vec())),
                ("seq".to_owned(), Some(seq.to_string().into_bytes())),
                ("empty".to_owned(), None),
            ];
            let timestamp = base_ts + (c * 1000 + i) as i64;
            let mut owned = OwnedHeaders::new();
            for (k, v) in &headers {
                owned = owned.insert(Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
            producer
                .send(
                    BaseRecord::to(topic)
                        .key(&key)
                        .payload(&value)
                        .headers(owned)
                        .timestamp(timestamp),
                )
                .unwrap_or_else(|(err, _)| panic!("send {seq} failed: {err}"));
            producer.poll(Duration::ZERO);
            sent.push(Sent {
                seq,
                key,
                value,
                headers,
                timestamp,
            });
        }
        flush(&producer);
    }

    let by_partition = read_all(&broker.bootstrap, topic, 4);
    let total: usize = by_partition.values().map(Vec::len).sum();
    assert_eq!(total, sent.len(), "every record comes back exactly once");

    let mut partition_of_key: HashMap<String, i32> = HashMap::new();
    for (partition, messages) in &by_partition {
        let mut last_seq = None;
        for (index, message) in messages.iter().enumerate() {
            assert_eq!(
                message.offset(),
                index as i64,
                "offsets are dense from 0 in partition {partition}"
            );
            let headers = headers_of(message);
            let seq: usize = headers
                .iter()
                .find(|(k, _)| k == "seq")
                .and_then(|(_, v)| v.as_ref())
                .map(|v| String::from_utf8_lossy(v).parse().unwrap())
                .expect("every record has its seq header");
            let expected = &sent[seq];
            let key = String::from_utf8(message.key().expect("keyed").to_vec()).unwrap();
            assert_eq!(key, expected.key, "key of record {seq}");
            assert_eq!(
                message.payload().expect("value"),
                &expected.value[..],
                "value of record {seq}"
            );
            assert_eq!(headers, expected.headers, "headers of record {seq}");
            assert_eq!(
                message.timestamp().to_millis(),
                Some(expected.timestamp),
                "timestamp of record {seq}"
            );
            assert!(
                last_seq < Some(seq),
                "partition {partition} keeps produce order"
            );
            last_seq = Some(seq);
            let first = *partition_of_key.entry(key.clone()).or_insert(*partition);
            assert_eq!(first, *partition, "key {key} went to one partition only");
        }
    }
    assert!(
        by_partition.values().filter(|m| !m.is_empty()).count() > 1,
        "13 keys spread over more than one of 4 partitions"
    );
    broker.stop();
}

#[test]
fn offsets_for_times_returns_the_first_offset_at_or_after_the_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&dir);
    let topic = "by-time";
    create_topic(&broker.bootstrap, topic, 1, &[]);
    let base = now_ms() - 100_000;
    let producer = producer(&broker.bootstrap, "none");
    for i in 0..10i64 {
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .payload(&format!("r{i}"))
                    .timestamp(base + i * 1000),
            )
            .unwrap_or_else(|(err, _)| panic!("send failed: {err}"));
    }
    flush(&producer);

    let consumer = support::consumer(&broker.bootstrap);
    let lookup = |ts: i64| -> Offset {
        let mut query = TopicPartitionList::new();
        query
            .add_partition_offset(topic, 0, Offset::Offset(ts))
            .unwrap();
        let found = consumer
            .offsets_for_times(query, WAIT)
            .expect("ListOffsets by timestamp");
        let elem = found
            .find_partition(topic, 0)
            .expect("partition 0 in the answer");
        elem.error().expect("no per-partition error");
        elem.offset()
    };
    assert_eq!(
        lookup(base - 5_000),
        Offset::Offset(0),
        "before the first record"
    );
    assert_eq!(
        lookup(base),
        Offset::Offset(0),
        "exactly the first timestamp"
    );
    assert_eq!(
        lookup(base + 2_500),
        Offset::Offset(3),
        "between records 2 and 3"
    );
    assert_eq!(
        lookup(base + 3_000),
        Offset::Offset(3),
        "exactly record 3's timestamp"
    );
    assert_eq!(lookup(base + 9_000), Offset::Offset(9), "the last record");
    assert!(
        matches!(lookup(base + 20_000), Offset::End | Offset::Offset(-1)),
        "after the last record there is no offset"
    );
    broker.stop();
}

#[test]
fn delete_records_moves_the_low_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&dir);
    let topic = "delete-records";
    create_topic(&broker.bootstrap, topic, 2, &[]);
    let producer = producer(&broker.bootstrap, "none");
    for p in 0..2 {
        for i in 0..20 {
            producer
                .send(
                    BaseRecord::<(), _>::to(topic)
                        .partition(p)
                        .payload(&format!("{p}-{i}")),
                )
                .unwrap_or_else(|(err, _)| panic!("send failed: {err}"));
        }
    }
    flush(&producer);
    assert_eq!(
        watermarks(&broker.bootstrap, topic, 2),
        BTreeMap::from([(0, (0, 20)), (1, (0, 20))])
    );

    let mut cut = TopicPartitionList::new();
    cut.add_partition_offset(topic, 0, Offset::Offset(12))
        .unwrap();
    let admin = admin(&broker.bootstrap);
    let result = block_on(admin.delete_records(&cut, &admin_options())).expect("DeleteRecords");
    let elem = result
        .find_partition(topic, 0)
        .expect("partition 0 in the answer");
    elem.error()
        .expect("DeleteRecords succeeded for partition 0");
    assert_eq!(
        elem.offset(),
        Offset::Offset(12),
        "the answer carries the new low watermark"
    );

    assert_eq!(
        watermarks(&broker.bootstrap, topic, 2),
        BTreeMap::from([(0, (12, 20)), (1, (0, 20))]),
        "only partition 0's low watermark moved"
    );
    let records = read_all(&broker.bootstrap, topic, 2);
    let first = records[&0].first().expect("records remain in partition 0");
    assert_eq!(
        first.offset(),
        12,
        "reading from the beginning starts at the low watermark"
    );
    assert_eq!(first.payload(), Some(&b"0-12"[..]));
    assert_eq!(records[&1].len(), 20);
    broker.stop();
}
