//! librdkafka consumer groups against an in-process broker: three members of one group
//! share a six-partition topic with no record missed or delivered twice, and the
//! group's committed offsets survive a broker restart.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::{client_config, create_topic, InProcessBroker, WAIT};
use weir_core::broker::BrokerConfig;

const TOPIC: &str = "shared-work";
const GROUP: &str = "trio";

fn start_broker(dir: &tempfile::TempDir) -> InProcessBroker {
    let mut config = BrokerConfig::new(dir.path());
    config.auto_create_topics = false;
    config
        .set("group.initial.rebalance.delay.ms", "200")
        .unwrap();
    config.set("offsets.topic.num.partitions", "5").unwrap();
    InProcessBroker::start(config)
}

fn member(bootstrap: &str, name: &str) -> BaseConsumer {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", GROUP)
        .set("client.id", name)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .expect("create consumer");
    consumer.subscribe(&[TOPIC]).expect("subscribe");
    consumer
}

fn produce(bootstrap: &str, range: std::ops::Range<usize>) {
    let producer: BaseProducer = client_config(bootstrap)
        .set("acks", "all")
        .create()
        .expect("create producer");
    for i in range {
        let key = format!("key-{i}");
        let value = format!("record-{i}");
        producer
            .send(BaseRecord::to(TOPIC).key(&key).payload(&value))
            .expect("enqueue");
        producer.poll(Duration::ZERO);
    }
    producer.flush(WAIT).expect("every record acknowledged");
}

/// Polls every consumer in turn until `done` holds, collecting `(member, value)`.
fn poll_until(
    consumers: &[BaseConsumer],
    received: &mut Vec<(usize, String)>,
    what: &str,
    mut done: impl FnMut(&[BaseConsumer], &[(usize, String)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(consumers, received) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        for (i, consumer) in consumers.iter().enumerate() {
            if let Some(message) = consumer.poll(Duration::from_millis(50)) {
                let message = message.expect("consume");
                let value = String::from_utf8(message.payload().unwrap().to_vec()).unwrap();
                received.push((i, value));
            }
        }
    }
}

fn assigned(consumer: &BaseConsumer) -> usize {
    consumer.assignment().map(|a| a.count()).unwrap_or(0)
}

#[test]
fn three_consumers_share_six_partitions_exactly_once_and_resume_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(&dir);
    let bootstrap = broker.bootstrap.clone();
    create_topic(&bootstrap, TOPIC, 6, &[]);

    let consumers: Vec<BaseConsumer> = (0..3)
        .map(|i| member(&bootstrap, &format!("member-{i}")))
        .collect();
    let mut received = Vec::new();
    poll_until(
        &consumers,
        &mut received,
        "every member to own two partitions",
        |c, _| c.iter().all(|c| assigned(c) == 2),
    );
    let mut owned = BTreeSet::new();
    for consumer in &consumers {
        for tp in consumer.assignment().unwrap().elements() {
            assert!(
                owned.insert(tp.partition()),
                "partition {} owned twice",
                tp.partition()
            );
        }
    }
    assert_eq!(owned.len(), 6);

    produce(&bootstrap, 0..600);
    poll_until(&consumers, &mut received, "600 records", |_, r| {
        r.len() >= 600
    });
    // A little longer, so a duplicate would have time to show up.
    let settle = Instant::now() + Duration::from_millis(500);
    poll_until(&consumers, &mut received, "settling", |_, _| {
        Instant::now() > settle
    });
    let values: BTreeSet<&str> = received.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(received.len(), 600, "a record was delivered twice");
    assert_eq!(values.len(), 600);
    let per_member: BTreeMap<usize, usize> =
        received.iter().fold(BTreeMap::new(), |mut m, (i, _)| {
            *m.entry(*i).or_default() += 1;
            m
        });
    assert_eq!(per_member.len(), 3, "every member consumed: {per_member:?}");

    for consumer in &consumers {
        consumer
            .commit_consumer_state(CommitMode::Sync)
            .expect("commit");
    }
    drop(consumers);
    broker.stop();

    let broker = start_broker(&dir);
    let bootstrap = broker.bootstrap.clone();
    let consumer = member(&bootstrap, "after-restart");
    let mut partitions = TopicPartitionList::new();
    for p in 0..6 {
        partitions.add_partition(TOPIC, p);
    }
    let committed = consumer
        .committed_offsets(partitions, WAIT)
        .expect("committed offsets");
    let total: i64 = committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            other => panic!(
                "partition {} has no committed offset: {other:?}",
                e.partition()
            ),
        })
        .sum();
    assert_eq!(total, 600, "committed offsets cover every consumed record");

    // A member of the same group resumes after the committed offsets.
    produce(&bootstrap, 600..660);
    let consumers = vec![consumer];
    let mut received = Vec::new();
    poll_until(&consumers, &mut received, "the 60 new records", |_, r| {
        r.len() >= 60
    });
    let settle = Instant::now() + Duration::from_millis(500);
    poll_until(&consumers, &mut received, "settling", |_, _| {
        Instant::now() > settle
    });
    let mut values: Vec<usize> = received
        .iter()
        .map(|(_, v)| v.trim_start_matches("record-").parse().unwrap())
        .collect();
    values.sort();
    assert_eq!(values, (600..660).collect::<Vec<_>>());
    drop(consumers);
    broker.stop();
}
