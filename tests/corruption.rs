//! The broker binary against damaged data directories, a full disk and graceful
//! shutdown: it recovers to the last valid batch, rebuilds indexes, says so on stderr,
//! never serves anything corrupt, and refuses to start on a corrupt topic registry.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use support::{client_config, create_topic, wait_until, watermarks, BrokerProcess, WAIT};

/// Values by (partition, offset).
type Positions = BTreeMap<(i32, i64), Vec<u8>>;

/// (partition, offset) → value of every acknowledged record; delivery errors by code.
#[derive(Debug, Default, Clone)]
struct Deliveries {
    acked: Arc<Mutex<Positions>>,
    errors: Arc<Mutex<Vec<Option<RDKafkaErrorCode>>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let v = m.payload().unwrap_or_default().to_vec();
                self.acked
                    .lock()
                    .unwrap()
                    .insert((m.partition(), m.offset()), v);
            }
            Err((e, _)) => self.errors.lock().unwrap().push(e.rdkafka_error_code()),
        }
    }
}

impl Deliveries {
    fn acked(&self) -> BTreeMap<(i32, i64), Vec<u8>> {
        self.acked.lock().unwrap().clone()
    }
}

fn producer(bootstrap: &str, deliveries: &Deliveries) -> ThreadedProducer<Deliveries> {
    client_config(bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "20")
        .set("message.timeout.ms", "10000")
        // Storage errors are retriable; without retries the delivery report carries the
        // broker's error code instead of a timeout.
        .set("retries", "0")
        .create_with_context(deliveries.clone())
        .expect("create producer")
}

/// Produces `n` records to `topic`/`partition` and waits until each is delivered or
/// failed.
fn produce(bootstrap: &str, topic: &str, partition: i32, prefix: &str, n: usize) -> Deliveries {
    let deliveries = Deliveries::default();
    let p = producer(bootstrap, &deliveries);
    for i in 0..n {
        let v = format!("{prefix}-{i:06}-{}", "y".repeat(i % 90));
        p.send(
            BaseRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(&v),
        )
        .unwrap_or_else(|(e, _)| panic!("send {i}: {e}"));
    }
    p.flush(WAIT).expect("every record delivered or failed");
    deliveries
}

/// Everything in `topic`/`partition` from its start to its high watermark, read with
/// CRC checks on; fails on any fetch error.
fn consume(bootstrap: &str, topic: &str, partition: i32) -> BTreeMap<i64, Vec<u8>> {
    let (low, high) = watermarks(bootstrap, topic, partition + 1)[&partition];
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "weir-corruption-reader")
        .set("enable.auto.commit", "false")
        .set("check.crcs", "true")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    let mut next = low;
    while next < high {
        assert!(
            Instant::now() < deadline,
            "timed out reading {topic}-{partition} [{low}, {high}), at {next}"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                assert_eq!(m.offset(), next, "contiguous offsets");
                out.insert(m.offset(), m.payload().unwrap_or_default().to_vec());
                next = m.offset() + 1;
            }
            Some(Err(e)) => {
                panic!("fetching {topic}-{partition} failed (corrupt data served?): {e}")
            }
            None => {}
        }
    }
    out
}

/// Byte positions and base offsets of the batches in a segment file.
fn batches(path: &Path) -> Vec<(usize, i64, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 12 <= bytes.len() {
        let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap());
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        out.push((pos, base, 12 + len));
        pos += 12 + len;
    }
    out
}

fn segment_logs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

fn assert_logged(broker: &BrokerProcess, needle: &str) {
    wait_until(&format!("the broker to log {needle:?}"), || {
        broker.log().contains(needle)
    });
}

/// The acknowledged records of one partition below `end`, by offset.
fn acked_below(
    acked: &BTreeMap<(i32, i64), Vec<u8>>,
    partition: i32,
    end: i64,
) -> BTreeMap<i64, Vec<u8>> {
    acked
        .iter()
        .filter(|((p, o), _)| *p == partition && *o < end)
        .map(|((_, o), v)| (*o, v.clone()))
        .collect()
}

#[test]
fn a_torn_or_corrupt_segment_is_truncated_at_the_last_valid_batch_and_indexes_rebuilt() {
    // (what, how to damage the last segment given the chosen batch's (position, size))
    type Damage = fn(&Path, usize, usize);
    let damages: [(&str, Damage); 4] = [
        ("cut inside a batch header", |p, pos, _| cut(p, pos + 20)),
        ("cut inside the records", |p, pos, size| {
            cut(p, pos + size - 7)
        }),
        ("bit flip inside a batch", |p, pos, size| {
            flip(p, pos + size / 2)
        }),
        ("bit flip in a CRC", |p, pos, _| flip(p, pos + 18)),
    ];
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        let broker = BrokerProcess::start(dir.path(), &[]);
        let topic = "torn";
        create_topic(
            &broker.bootstrap,
            topic,
            1,
            &[("segment.bytes", "20000"), ("index.interval.bytes", "256")],
        );
        let acked = produce(&broker.bootstrap, topic, 0, "a", 1500).acked();
        assert_eq!(acked.len(), 1500, "{what}");
        broker.kill9();

        let part = dir.path().join("torn-0");
        let logs = segment_logs(&part);
        assert!(logs.len() >= 3, "{what}: several segments");
        let last = logs.last().unwrap();
        let in_last = batches(last);
        let (pos, victim, size) = in_last[in_last.len() / 2];
        damage(last, pos, size);
        // Also damage older segments' indexes and the log start checkpoint. (A damaged
        // recovery point makes every segment rescan, which the log tests cover.)
        let older = logs[0].with_extension("index");
        cut(
            &older,
            (std::fs::metadata(&older).unwrap().len() as usize).saturating_sub(3),
        );
        std::fs::remove_file(logs[1].with_extension("timeindex")).unwrap();
        std::fs::write(part.join("log-start-offset-checkpoint"), b"0\n1\n").unwrap();

        let broker = BrokerProcess::restart(dir.path(), &[]);
        assert_logged(&broker, "truncated a torn or corrupt tail of the segment");
        assert_logged(&broker, "rebuilding indexes");
        assert_logged(&broker, "ignoring malformed checkpoint");
        let found = consume(&broker.bootstrap, topic, 0);
        assert_eq!(
            found,
            acked_below(&acked, 0, victim),
            "{what}: exactly what was acknowledged before the damaged batch at {victim}"
        );
        // Producing goes on from the truncation point.
        let more = produce(&broker.bootstrap, topic, 0, "b", 10).acked();
        assert_eq!(more.keys().next(), Some(&(0, victim)), "{what}");
        broker.terminate();
    }
}

#[test]
fn a_corrupt_topic_registry_stops_startup_with_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &[]);
    create_topic(&broker.bootstrap, "kept", 2, &[]);
    broker.terminate();
    let registry = dir.path().join("weir-topics.json");
    let text = std::fs::read(&registry).unwrap();
    for (what, damaged) in [
        ("truncated", text[..text.len() / 2].to_vec()),
        ("garbage", b"\x00\x01 not json".to_vec()),
        ("bad version", br#"{"version": 99, "topics": []}"#.to_vec()),
    ] {
        std::fs::write(&registry, &damaged).unwrap();
        let output = run_broker_to_exit(dir.path());
        assert!(
            !output.0,
            "{what}: the broker must not start; stderr:\n{}",
            output.1
        );
        assert!(
            output.1.contains("weir-topics.json") && output.1.contains("unreadable"),
            "{what}: the error names the file; stderr:\n{}",
            output.1
        );
    }
    // Restoring the file brings every topic back.
    std::fs::write(&registry, &text).unwrap();
    let broker = BrokerProcess::restart(dir.path(), &[]);
    assert_eq!(watermarks(&broker.bootstrap, "kept", 2).len(), 2);
    broker.terminate();
}

/// Runs `weir broker` expecting it to exit on its own; (success, stderr).
fn run_broker_to_exit(data_dir: &Path) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["broker", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weir");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.success(), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the broker kept running on a corrupt registry for {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_leaves_clean_markers_so_the_next_start_skips_recovery_and_sigkill_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &[]);
    create_topic(&broker.bootstrap, "graceful", 2, &[]);
    let first = produce(&broker.bootstrap, "graceful", 0, "g", 300).acked();
    broker.terminate();
    for p in 0..2 {
        assert!(
            dir.path()
                .join(format!("graceful-{p}/clean-shutdown"))
                .exists(),
            "SIGTERM leaves a clean-shutdown marker in partition {p}"
        );
    }

    let broker = BrokerProcess::restart(dir.path(), &[]);
    assert_logged(&broker, "loaded the partition logs");
    let log = broker.log();
    assert_eq!(log.matches("skipped recovery").count(), 2, "{log}");
    assert!(!log.contains("recovered the log"), "{log}");
    for p in 0..2 {
        assert!(
            !dir.path()
                .join(format!("graceful-{p}/clean-shutdown"))
                .exists(),
            "the marker is consumed at open"
        );
    }
    assert_eq!(
        consume(&broker.bootstrap, "graceful", 0),
        acked_below(&first, 0, i64::MAX)
    );
    let second = produce(&broker.bootstrap, "graceful", 0, "h", 300).acked();
    broker.kill9();

    let broker = BrokerProcess::restart(dir.path(), &[]);
    assert_logged(&broker, "loaded the partition logs");
    let log = broker.log();
    assert_eq!(
        log.matches("no clean shutdown marker: recovered the log")
            .count(),
        2,
        "{log}"
    );
    assert!(!log.contains("skipped recovery"), "{log}");
    let mut all = acked_below(&first, 0, i64::MAX);
    all.extend(acked_below(&second, 0, i64::MAX));
    assert_eq!(consume(&broker.bootstrap, "graceful", 0), all);
    broker.terminate();
}

/// A tmpfs mounted for the test, unmounted on drop.
#[derive(Debug)]
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match output {
            Ok(o) if o.status.success() => Tmpfs { dir },
            Ok(o) => panic!(
                "this test needs a small tmpfs to fill up, and `mount -t tmpfs` failed ({}): {}. \
                 Run the tests as root (or with CAP_SYS_ADMIN).",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("this test needs `mount` to create a small tmpfs: {e}"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the file system holding `dir` with a file until a write fails.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let small = [0u8; 64];
    while file.write_all(&small).is_ok() {}
    path
}

#[test]
fn a_full_disk_fails_produce_with_storage_errors_keeps_serving_reads_and_recovers() {
    let fs = Tmpfs::mount("4m");
    let data = fs.path().join("data");
    let broker = BrokerProcess::start(&data, &[]);
    let topic = "full";
    create_topic(
        &broker.bootstrap,
        topic,
        1,
        &[("segment.index.bytes", "65536")],
    );
    let before = produce(&broker.bootstrap, topic, 0, "before", 200);
    assert_eq!(before.acked().len(), 200);

    let filler = fill(fs.path());
    let during = produce(&broker.bootstrap, topic, 0, "during", 200);
    let errors = during.errors.lock().unwrap().clone();
    assert!(
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| *e == Some(RDKafkaErrorCode::KafkaStorageError)),
        "a full disk fails produce with KAFKA_STORAGE_ERROR (56); got {} acks and errors {:?}",
        during.acked().len(),
        &errors[..errors.len().min(5)]
    );
    assert_logged(&broker, "No space left on device");
    // Reads keep working, and nothing half-written is served.
    let mut acked = before.acked();
    acked.extend(during.acked());
    assert_eq!(
        consume(&broker.bootstrap, topic, 0),
        acked_below(&acked, 0, i64::MAX)
    );

    std::fs::remove_file(filler).unwrap();
    let after = produce(&broker.bootstrap, topic, 0, "after", 200);
    assert_eq!(
        after.acked().len(),
        200,
        "produce works again once space returns"
    );
    acked.extend(after.acked());
    assert_eq!(
        consume(&broker.bootstrap, topic, 0),
        acked_below(&acked, 0, i64::MAX)
    );

    broker.kill9();
    let broker = BrokerProcess::restart(&data, &[]);
    assert_eq!(
        consume(&broker.bootstrap, topic, 0),
        acked_below(&acked, 0, i64::MAX)
    );
    broker.terminate();
}

fn cut(path: &Path, len: usize) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len as u64)
        .unwrap();
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x08;
    std::fs::write(path, bytes).unwrap();
}
