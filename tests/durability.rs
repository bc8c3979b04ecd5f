//! Acknowledged records survive a broker restart and a `kill -9`, with the broker run
//! as the real `weir` binary.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use support::{
    client_config, create_topic, read_all, wait_until, BrokerProcess, InProcessBroker, WAIT,
};
use weir_core::broker::BrokerConfig;

/// Values by (partition, offset).
type Positions = BTreeMap<(i32, i64), Vec<u8>>;

/// Records each acknowledged (partition, offset) → value.
#[derive(Debug, Default, Clone)]
struct Acks(Arc<Mutex<Positions>>);

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Ok(message) = result {
            let value = message.payload().unwrap_or_default().to_vec();
            self.0
                .lock()
                .unwrap()
                .insert((message.partition(), message.offset()), value);
        }
    }
}

impl Acks {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

fn producer(bootstrap: &str, acks: Acks) -> ThreadedProducer<Acks> {
    client_config(bootstrap)
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "5000")
        .set("max.in.flight.requests.per.connection", "1")
        .create_with_context(acks)
        .expect("create producer")
}

fn values(records: &BTreeMap<i32, Vec<rdkafka::message::OwnedMessage>>) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = records
        .values()
        .flatten()
        .map(|m| m.payload().unwrap_or_default().to_vec())
        .collect();
    all.sort();
    all
}

#[test]
fn records_survive_a_graceful_restart_of_the_broker_process() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &[]);
    let topic = "restart";
    create_topic(&broker.bootstrap, topic, 3, &[]);
    let acks = Acks::default();
    let producer = producer(&broker.bootstrap, acks.clone());
    for i in 0..3000 {
        producer
            .send(
                BaseRecord::to(topic)
                    .key(&format!("k{}", i % 7))
                    .payload(&format!("v{i:05}")),
            )
            .unwrap_or_else(|(err, _)| panic!("send {i} failed: {err}"));
    }
    producer.flush(WAIT).expect("all 3000 records acknowledged");
    assert_eq!(acks.count(), 3000);
    drop(producer);
    let before = read_all(&broker.bootstrap, topic, 3);
    broker.terminate();

    let broker = BrokerProcess::restart(dir.path(), &[]);
    let after = read_all(&broker.bootstrap, topic, 3);
    assert_eq!(
        values(&after).len(),
        3000,
        "nothing lost across the restart"
    );
    for (partition, messages) in &after {
        let offsets: Vec<(i64, Option<&[u8]>)> =
            messages.iter().map(|m| (m.offset(), m.payload())).collect();
        let expected: Vec<(i64, Option<&[u8]>)> = before[partition]
            .iter()
            .map(|m| (m.offset(), m.payload()))
            .collect();
        assert_eq!(
            offsets, expected,
            "partition {partition} is identical after the restart"
        );
    }
}

#[test]
fn records_survive_a_restart_of_the_in_process_broker() {
    let dir = tempfile::tempdir().unwrap();
    let broker = InProcessBroker::start(BrokerConfig::new(dir.path()));
    let topic = "restart-in-process";
    create_topic(&broker.bootstrap, topic, 2, &[]);
    let acks = Acks::default();
    let producer = producer(&broker.bootstrap, acks.clone());
    for i in 0..500 {
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .partition(i % 2)
                    .payload(&format!("v{i}")),
            )
            .unwrap_or_else(|(err, _)| panic!("send {i} failed: {err}"));
    }
    producer.flush(WAIT).expect("all records acknowledged");
    drop(producer);
    broker.stop();

    let broker = InProcessBroker::start(BrokerConfig::new(dir.path()));
    let after = read_all(&broker.bootstrap, topic, 2);
    let acked = acks.0.lock().unwrap().clone();
    let found: BTreeMap<(i32, i64), Vec<u8>> = after
        .values()
        .flatten()
        .map(|m| {
            (
                (m.partition(), m.offset()),
                m.payload().unwrap_or_default().to_vec(),
            )
        })
        .collect();
    assert_eq!(
        found, acked,
        "exactly the acknowledged records, at their offsets"
    );
    broker.stop();
}

#[test]
fn acknowledged_records_survive_kill_9_during_produce() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &[]);
    let topic = "crash";
    create_topic(&broker.bootstrap, topic, 2, &[]);

    let acks = Acks::default();
    let producer = producer(&broker.bootstrap, acks.clone());
    let sent: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let value = format!("crash-{i:08}").into_bytes();
                sent.lock().unwrap().insert(value.clone());
                match producer.send(
                    BaseRecord::<(), _>::to(topic)
                        .partition((i % 2) as i32)
                        .payload(&value),
                ) {
                    Ok(()) => i += 1,
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            // Undelivered records time out (message.timeout.ms) and are not acknowledged.
            let _ = producer.flush(Duration::from_secs(15));
        })
    };
    wait_until("2000 acknowledged records before the crash", || {
        acks.count() >= 2000
    });
    broker.kill9();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sender.join().expect("sender thread");

    let broker = BrokerProcess::restart(dir.path(), &[]);
    let after = read_all(&broker.bootstrap, topic, 2);
    let found: BTreeMap<(i32, i64), Vec<u8>> = after
        .values()
        .flatten()
        .map(|m| {
            (
                (m.partition(), m.offset()),
                m.payload().unwrap_or_default().to_vec(),
            )
        })
        .collect();
    let acked = acks.0.lock().unwrap().clone();
    assert!(acked.len() >= 2000);
    for (position, value) in &acked {
        assert_eq!(
            found.get(position),
            Some(value),
            "acknowledged record {} at {position:?} is present at its offset after kill -9",
            String::from_utf8_lossy(value)
        );
    }
    let sent = sent.lock().unwrap();
    for (position, value) in &found {
        assert!(
            sent.contains(value),
            "record at {position:?} ({}) was never produced",
            String::from_utf8_lossy(value)
        );
    }
}
