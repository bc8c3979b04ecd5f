//! Power loss under an in-process broker: the log's storage seam
//! (`weir_core::log::storage::CrashableStorage`) keeps only what was fsynced. With
//! `flush.messages=1` every acknowledged record must survive the cut.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use support::{client_config, create_topic, read_all, InProcessBroker, WAIT};
use weir_core::broker::BrokerConfig;
use weir_core::log::storage::{self, CrashableStorage};

/// Values by (partition, offset).
type Positions = BTreeMap<(i32, i64), Vec<u8>>;

#[derive(Debug, Default, Clone)]
struct Acks(Arc<Mutex<Positions>>);

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = result {
            let v = m.payload().unwrap_or_default().to_vec();
            let previous = self
                .0
                .lock()
                .unwrap()
                .insert((m.partition(), m.offset()), v.clone());
            assert!(
                previous.is_none_or(|p| p == v),
                "offset {}:{} acknowledged twice for different values",
                m.partition(),
                m.offset()
            );
        }
    }
}

#[test]
fn with_flush_messages_1_a_power_cut_loses_no_acknowledged_record() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let disk = Arc::new(CrashableStorage::new());
    let _guard = storage::install(&data, disk.clone());
    let topic = "durable";
    let acks = Acks::default();
    let sent: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    let mut seq = 0u64;

    // Each round cuts the power a different number of storage operations after the
    // producers got going, so the cut lands in appends, fsyncs, checkpoint writes and
    // segment rolls.
    for (round, cut_after) in [0u64, 7, 31, 150, 501].into_iter().enumerate() {
        let broker = InProcessBroker::start(BrokerConfig::new(&data));
        if round == 0 {
            create_topic(
                &broker.bootstrap,
                topic,
                2,
                &[("flush.messages", "1"), ("segment.bytes", "8192")],
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let producer = {
            let (bootstrap, acks, sent, stop) = (
                broker.bootstrap.clone(),
                acks.clone(),
                Arc::clone(&sent),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let p: ThreadedProducer<Acks> = client_config(&bootstrap)
                    .set("acks", "all")
                    .set("linger.ms", "2")
                    .set("message.timeout.ms", "2000")
                    .create_with_context(acks)
                    .expect("producer");
                while !stop.load(Ordering::Relaxed) {
                    let v = format!("r{round}-{seq:08}");
                    sent.lock().unwrap().insert(v.clone().into_bytes());
                    let record = BaseRecord::<(), _>::to(topic)
                        .partition((seq % 2) as i32)
                        .payload(&v);
                    if p.send(record).is_ok() {
                        seq += 1;
                    }
                    std::thread::sleep(Duration::from_micros(300));
                }
                let _ = p.flush(Duration::from_secs(4));
                seq
            })
        };
        let before = acks.0.lock().unwrap().len();
        let deadline = Instant::now() + WAIT;
        while acks.0.lock().unwrap().len() < before + 100 {
            assert!(
                Instant::now() < deadline,
                "round {round}: no acknowledgements"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        disk.cut_power_after(Some(cut_after));
        let deadline = Instant::now() + WAIT;
        while !disk.power_is_cut() {
            assert!(
                Instant::now() < deadline,
                "round {round}: the cut never came"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        seq = producer.join().expect("producer thread");
        // The broker finds its disk gone: closing logs fails, which it reports and
        // survives. Then the machine restarts with only what was fsynced.
        broker.stop();
        disk.power_loss().unwrap();

        let broker = InProcessBroker::start(BrokerConfig::new(&data));
        let records = read_all(&broker.bootstrap, topic, 2);
        let found: BTreeMap<(i32, i64), Vec<u8>> = records
            .values()
            .flatten()
            .map(|m| {
                (
                    (m.partition(), m.offset()),
                    m.payload().unwrap_or_default().to_vec(),
                )
            })
            .collect();
        for (p, messages) in &records {
            for (i, m) in messages.iter().enumerate() {
                assert_eq!(
                    m.offset(),
                    i as i64,
                    "round {round}: partition {p} is contiguous"
                );
            }
        }
        let sent = sent.lock().unwrap();
        for (position, v) in &found {
            assert!(
                sent.contains(v),
                "round {round}: {position:?} holds a value never sent"
            );
        }
        let acked = acks.0.lock().unwrap().clone();
        for (position, v) in &acked {
            assert_eq!(
                found.get(position),
                Some(v),
                "round {round} (cut after {cut_after} operations): acknowledged record at {position:?} lost"
            );
        }
        eprintln!(
            "round {round}: cut after {cut_after} operations; {} acknowledged, all present",
            acked.len()
        );
        broker.stop();
    }
}
