//! An idempotent librdkafka producer against a broker that is SIGKILLed and restarted
//! in a loop, on the same address, while it produces: every acknowledged record is in
//! the log exactly once, per-partition order is kept, and there is no gap.
//!
//! `WEIR_IDEMPOTENCE_KILLS` sets how many kills (3 by default).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use support::{client_config, create_topic, read_all, wait_until, BrokerProcess};

const PARTITIONS: i32 = 3;

/// Acknowledged sequence numbers per partition, and delivery failures.
#[derive(Debug, Default, Clone)]
struct Deliveries {
    acked: Arc<Mutex<BTreeMap<i32, Vec<u64>>>>,
    failed: Arc<Mutex<Vec<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let sequence = parse(message.payload().unwrap_or_default());
                self.acked
                    .lock()
                    .unwrap()
                    .entry(message.partition())
                    .or_default()
                    .push(sequence);
            }
            Err((error, _)) => self.failed.lock().unwrap().push(error.to_string()),
        }
    }
}

impl Deliveries {
    fn count(&self) -> usize {
        self.acked.lock().unwrap().values().map(Vec::len).sum()
    }
}

fn parse(value: &[u8]) -> u64 {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.rsplit('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected value {value:?}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn idempotent_producer_writes_every_record_once_across_broker_kills() {
    let kills: usize = std::env::var("WEIR_IDEMPOTENCE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut broker = BrokerProcess::start_listening(dir.path(), &listen, &[]);
    let topic = "idempotent";
    create_topic(&broker.bootstrap, topic, PARTITIONS, &[]);

    let deliveries = Deliveries::default();
    let producer: ThreadedProducer<Deliveries> = client_config(&broker.bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        // Long enough that no record times out while the broker is down: every record
        // is retried until it is in, which is what idempotence has to make safe.
        .set("message.timeout.ms", "120000")
        .set("retry.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "200")
        .create_with_context(deliveries.clone())
        .expect("create an idempotent producer");
    let producer = Arc::new(producer);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (producer, stop) = (Arc::clone(&producer), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut next: HashMap<i32, u64> = HashMap::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let partition = (i % PARTITIONS as u64) as i32;
                let sequence = *next.entry(partition).or_default();
                let value = format!("p{partition}-{sequence:09}");
                match producer.send(
                    BaseRecord::<(), _>::to(topic)
                        .partition(partition)
                        .payload(&value),
                ) {
                    Ok(()) => {
                        next.insert(partition, sequence + 1);
                        i += 1;
                    }
                    // The local queue is full while the broker is down: wait.
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
                if i % 200 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            next
        })
    };
    for kill in 0..kills {
        let before = deliveries.count();
        wait_until("more records acknowledged before the next kill", || {
            deliveries.count() >= before + 3000
        });
        broker.kill9();
        std::thread::sleep(Duration::from_millis(100 + 150 * kill as u64));
        broker = BrokerProcess::start_listening(dir.path(), &listen, &[]);
    }
    let before = deliveries.count();
    wait_until("records acknowledged after the last restart", || {
        deliveries.count() >= before + 1000
    });
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().expect("sender thread");
    producer
        .flush(Duration::from_secs(90))
        .expect("every record acknowledged in the end");
    let failed = deliveries.failed.lock().unwrap().clone();
    assert!(failed.is_empty(), "deliveries failed: {failed:?}");

    let log = read_all(&broker.bootstrap, topic, PARTITIONS);
    let acked = deliveries.acked.lock().unwrap().clone();
    for partition in 0..PARTITIONS {
        let in_log: Vec<u64> = log[&partition]
            .iter()
            .map(|m| parse(m.payload().unwrap_or_default()))
            .collect();
        let sent = sent.get(&partition).copied().unwrap_or(0);
        // Exactly once, in order, no gap: the log holds 0, 1, 2, … once each.
        let expected: Vec<u64> = (0..sent).collect();
        if in_log != expected {
            let duplicates = in_log.len() - {
                let mut unique = in_log.clone();
                unique.dedup();
                unique.len()
            };
            panic!(
                "partition {partition}: {} records in the log for {sent} sent ({duplicates} adjacent duplicates); first difference at index {:?}",
                in_log.len(),
                in_log.iter().zip(&expected).position(|(a, b)| a != b)
            );
        }
        let mut acked_here = acked.get(&partition).cloned().unwrap_or_default();
        acked_here.sort_unstable();
        assert_eq!(
            acked_here, expected,
            "partition {partition}: every record acknowledged once"
        );
    }
}
