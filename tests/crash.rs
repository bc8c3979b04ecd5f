//! Crash harness: several producers write with acks=all while the broker binary is
//! killed with SIGKILL at random moments and restarted on the same data directory.
//! After every restart the whole topic is read back and checked against every
//! acknowledgement so far.
//!
//! `WEIR_CRASH_SEED` replays a run (the seed is printed at the start and in every
//! failure); `WEIR_CRASH_ITERATIONS` sets the number of kills (default 8).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use support::{client_config, create_topic, watermarks, BrokerProcess, WAIT};

const TOPIC: &str = "crash";
const PARTITIONS: i32 = 3;
const PRODUCERS: u32 = 3;

/// xorshift64*: tiny, seedable, good enough to pick delays and sizes.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
    )
}

/// FNV-1a, as the values' checksum.
fn fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A record value: who wrote it, its sequence number, padding of a length derived
/// from both, and a checksum over all of it, so any value read back can be verified
/// on its own.
fn value(producer: u32, seq: u64) -> String {
    let pad = (seq.wrapping_mul(2_654_435_761) ^ u64::from(producer)) % 200;
    let body = format!("p{producer}-s{seq:09}-{}", "x".repeat(pad as usize));
    format!("{body}-{:08x}", fnv(body.as_bytes()))
}

/// `(producer, seq)` of a well-formed value.
fn parse_value(v: &[u8]) -> Option<(u32, u64)> {
    let v = std::str::from_utf8(v).ok()?;
    let (body, sum) = v.rsplit_once('-')?;
    if u32::from_str_radix(sum, 16).ok()? != fnv(body.as_bytes()) {
        return None;
    }
    let mut parts = body.split('-');
    let producer = parts.next()?.strip_prefix('p')?.parse().ok()?;
    let seq = parts.next()?.strip_prefix('s')?.parse().ok()?;
    (value(producer, seq) == v).then_some((producer, seq))
}

/// Every acknowledgement: (partition, offset) → value. A second acknowledgement of a
/// different value at the same position is recorded as a violation.
#[derive(Debug, Default)]
struct Ledger {
    acked: BTreeMap<(i32, i64), Vec<u8>>,
    violations: Vec<String>,
}

#[derive(Debug, Clone)]
struct Acks(Arc<Mutex<Ledger>>);

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let Ok(message) = result else { return };
        let value = message.payload().unwrap_or_default().to_vec();
        let position = (message.partition(), message.offset());
        let mut ledger = self.0.lock().unwrap();
        if let Some(previous) = ledger.acked.get(&position) {
            if *previous != value {
                let why = format!(
                    "offset {position:?} acknowledged for {} and later for {}",
                    String::from_utf8_lossy(previous),
                    String::from_utf8_lossy(&value)
                );
                ledger.violations.push(why);
            }
            return;
        }
        ledger.acked.insert(position, value);
    }
}

/// Runs one producer thread until `stop`; every value it tries is added to `sent`.
fn produce(
    bootstrap: String,
    producer_id: u32,
    first_seq: u64,
    acks: Acks,
    sent: Arc<Mutex<HashSet<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let producer: ThreadedProducer<Acks> = client_config(&bootstrap)
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "1500")
            .set("retry.backoff.ms", "50")
            .create_with_context(acks)
            .expect("create producer");
        let mut seq = first_seq;
        while !stop.load(Ordering::Relaxed) {
            let v = value(producer_id, seq);
            sent.lock().unwrap().insert(v.clone().into_bytes());
            let record = BaseRecord::<(), _>::to(TOPIC)
                .partition((seq % PARTITIONS as u64) as i32)
                .payload(&v);
            match producer.send(record) {
                Ok(()) => seq += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            // A few thousand records a second per producer: enough to have writes in
            // flight at every kill, few enough to read everything back quickly.
            if seq % 10 == 0 {
                std::thread::sleep(Duration::from_millis(3));
            }
        }
        // Whatever is not acknowledged in time fails and is not in the ledger.
        let _ = producer.flush(Duration::from_secs(4));
        seq
    })
}

/// Per partition: the log start offset and the (offset, value) records read.
type Contents = BTreeMap<i32, (i64, Vec<(i64, Vec<u8>)>)>;

/// Reads every partition from its log start to its high watermark with CRC checks on.
fn read_everything(bootstrap: &str) -> Contents {
    let marks = watermarks(bootstrap, TOPIC, PARTITIONS);
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "weir-crash-reader")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .create()
        .expect("create consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let mut out: Contents = marks
        .iter()
        .map(|(&p, &(low, _))| (p, (low, Vec::new())))
        .collect();
    let done = |out: &Contents| {
        marks
            .iter()
            .all(|(p, &(low, high))| out[p].1.last().map_or(high <= low, |(o, _)| o + 1 >= high))
    };
    let deadline = Instant::now() + WAIT * 2;
    while !done(&out) {
        assert!(
            Instant::now() < deadline,
            "timed out reading up to the high watermarks {marks:?}"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let entry = out.get_mut(&m.partition()).expect("assigned partition");
                entry
                    .1
                    .push((m.offset(), m.payload().unwrap_or_default().to_vec()));
            }
            Some(Err(err)) => panic!("fetch failed: {err}"),
            None => {}
        }
    }
    out
}

/// Every invariant, against everything acknowledged so far.
fn check(seed: u64, iteration: u64, bootstrap: &str, acks: &Acks, sent: &HashSet<Vec<u8>>) {
    let fail = |why: String| -> ! {
        panic!("WEIR_CRASH_SEED={seed}, iteration {iteration}: {why}");
    };
    let ledger = acks.0.lock().unwrap();
    if let Some(v) = ledger.violations.first() {
        fail(format!("the broker reused an acknowledged offset: {v}"));
    }
    let log = read_everything(bootstrap);
    let mut found: BTreeMap<(i32, i64), &[u8]> = BTreeMap::new();
    for (&p, (low, records)) in &log {
        if *low != 0 {
            fail(format!(
                "partition {p} starts at {low}; nothing deletes records"
            ));
        }
        for (i, (offset, v)) in records.iter().enumerate() {
            if *offset != low + i as i64 {
                fail(format!(
                    "partition {p}: offset {offset} at position {i}, expected contiguous offsets from {low}"
                ));
            }
            if parse_value(v).is_none() || !sent.contains(v) {
                fail(format!(
                    "partition {p} offset {offset} holds {:?}, which no producer sent",
                    String::from_utf8_lossy(v)
                ));
            }
            found.insert((p, *offset), v);
        }
    }
    for (position, v) in &ledger.acked {
        match found.get(position) {
            Some(f) if f == v => {}
            Some(f) => fail(format!(
                "acknowledged {} at {position:?}, but {} is there",
                String::from_utf8_lossy(v),
                String::from_utf8_lossy(f)
            )),
            None => fail(format!(
                "acknowledged {} at {position:?} is missing",
                String::from_utf8_lossy(v)
            )),
        }
    }
    let per_partition: BTreeMap<i32, usize> = log.iter().map(|(p, (_, r))| (*p, r.len())).collect();
    eprintln!(
        "iteration {iteration}: {} acknowledged, all present; partitions hold {per_partition:?}",
        ledger.acked.len()
    );
}

#[test]
fn acknowledged_records_survive_random_sigkills_with_unique_contiguous_offsets() {
    let seed = env_u64("WEIR_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let iterations = env_u64("WEIR_CRASH_ITERATIONS").unwrap_or(8);
    eprintln!("WEIR_CRASH_SEED={seed} WEIR_CRASH_ITERATIONS={iterations}");
    let mut rng = Rng::new(seed);

    let dir = tempfile::tempdir().unwrap();
    let mut broker = BrokerProcess::start(dir.path(), &[]);
    // Small segments, so kills also land in rolls and index writes.
    create_topic(
        &broker.bootstrap,
        TOPIC,
        PARTITIONS,
        &[("segment.bytes", "65536"), ("index.interval.bytes", "512")],
    );
    let acks = Acks(Arc::default());
    let sent: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    let mut next_seq: BTreeMap<u32, u64> = (0..PRODUCERS).map(|p| (p, 0)).collect();
    let mut kills_during_recovery = BTreeSet::new();

    for iteration in 0..iterations {
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                produce(
                    broker.bootstrap.clone(),
                    p,
                    next_seq[&p],
                    acks.clone(),
                    Arc::clone(&sent),
                    Arc::clone(&stop),
                )
            })
            .collect();
        let before = acks.0.lock().unwrap().acked.len();
        // Let some records through first, then kill at a random moment.
        let deadline = Instant::now() + WAIT;
        while acks.0.lock().unwrap().acked.len() < before + 50 {
            assert!(
                Instant::now() < deadline,
                "WEIR_CRASH_SEED={seed}: no acknowledgements in iteration {iteration}; broker log:\n{}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.below(1_000)));
        broker.kill9();
        stop.store(true, Ordering::Relaxed);
        for (p, handle) in producers.into_iter().enumerate() {
            next_seq.insert(p as u32, handle.join().expect("producer thread"));
        }

        // Sometimes kill the restarted broker again before anything is produced,
        // while it may still be writing what recovery changed.
        if rng.below(3) == 0 {
            let again = BrokerProcess::start(dir.path(), &[]);
            std::thread::sleep(Duration::from_millis(rng.below(50)));
            again.kill9();
            kills_during_recovery.insert(iteration);
        }
        broker = BrokerProcess::restart(dir.path(), &[]);
        let sent = sent.lock().unwrap();
        check(seed, iteration, &broker.bootstrap, &acks, &sent);
    }
    let total = acks.0.lock().unwrap().acked.len();
    eprintln!(
        "{iterations} SIGKILLs ({} right after a restart), {total} acknowledged records, all intact",
        kills_during_recovery.len()
    );
    broker.terminate();
}
