//! Log compaction through the broker: a `cleanup.policy=compact` topic written by
//! librdkafka with each codec is cleaned in the background, and a consumer reading from
//! the beginning sees every key's latest value (tombstones included) in increasing
//! offsets.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;

use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use support::{client_config, create_topic, read_all, wait_until, InProcessBroker, WAIT};
use weir_core::broker::BrokerConfig;
use weir_core::log::batch::BatchIter;

const KEYS: usize = 10;
const ROUNDS: usize = 30;

fn compacts_a_keyed_topic(codec: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::new(dir.path());
    config.auto_create_topics = false;
    config
        .set("log.retention.check.interval.ms", "100")
        .expect("a broker config");
    let broker = InProcessBroker::start(config);
    let topic = format!("compacted-{codec}");
    create_topic(
        &broker.bootstrap,
        &topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "1024"),
            ("min.cleanable.dirty.ratio", "0.1"),
        ],
    );
    let producer: BaseProducer = client_config(&broker.bootstrap)
        .set("compression.type", codec)
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .expect("create producer");
    let mut latest: BTreeMap<String, Option<String>> = BTreeMap::new();
    for round in 0..ROUNDS {
        for k in 0..KEYS {
            let key = format!("key-{k}");
            // The last round deletes key-0.
            let value =
                (round + 1 < ROUNDS || k != 0).then(|| format!("{round}-{k}-{}", "x".repeat(40)));
            let record = BaseRecord::<String, String>::to(&topic).key(&key);
            let record = match &value {
                Some(v) => record.payload(v),
                None => record,
            };
            producer
                .send(record)
                .unwrap_or_else(|(err, _)| panic!("send failed: {err}"));
            latest.insert(key, value);
        }
        producer.flush(WAIT).expect("acknowledged");
    }
    // Distinct keys after, so the tombstone and the last updates land in inactive
    // segments and get cleaned (the tombstone's batch gets its delete horizon stamped).
    for i in 0..20 {
        let key = format!("filler-{i}");
        let value = "f".repeat(100);
        producer
            .send(BaseRecord::to(&topic).key(&key).payload(&value))
            .unwrap_or_else(|(err, _)| panic!("send failed: {err}"));
        producer.flush(WAIT).expect("acknowledged");
        latest.insert(key, Some(value));
    }
    let produced = (KEYS * ROUNDS + 20) as i64;

    // The cleaner runs on the maintenance tick; wait until most duplicates are gone.
    wait_until("the cleaner to compact the topic", || {
        read_all(&broker.bootstrap, &topic, 1)[&0].len() < (produced / 2) as usize
    });
    let partition_dir = dir.path().join(format!("{topic}-0"));
    wait_until("the tombstone's batch to get its delete horizon", || {
        stamped_batches(&partition_dir) > 0
    });
    let messages = &read_all(&broker.bootstrap, &topic, 1)[&0];
    let mut last_offset = -1;
    let mut seen: BTreeMap<String, Option<String>> = BTreeMap::new();
    for m in messages {
        assert!(m.offset() > last_offset, "offsets increase");
        last_offset = m.offset();
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let value = m.payload().map(|p| String::from_utf8(p.to_vec()).unwrap());
        seen.insert(key, value);
    }
    assert_eq!(last_offset, produced - 1, "the log end never moves");
    assert_eq!(
        seen, latest,
        "every key's latest value, key-0's tombstone included"
    );
    broker.stop();
}

/// Batches on disk carrying a delete horizon (KIP-534), which the cleaner stamps on
/// batches whose tombstones it keeps.
fn stamped_batches(partition_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(partition_dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .map(|bytes| {
            BatchIter::new(Bytes::from(bytes))
                .filter(|b| b.header.delete_horizon_ms().is_some())
                .count()
        })
        .sum()
}

#[test]
fn broker_compacts_an_uncompressed_topic() {
    compacts_a_keyed_topic("none");
}

#[test]
fn broker_compacts_gzip_snappy_lz4_and_zstd_topics() {
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        compacts_a_keyed_topic(codec);
    }
}
