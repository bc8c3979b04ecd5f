//! Time-based retention removes old segments and advances the log start offset.

mod support;

use std::path::Path;

use rdkafka::admin::{AlterConfig, ResourceSpecifier};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use support::{
    admin, admin_options, block_on, client_config, create_topic, wait_until, watermarks,
    BrokerProcess, WAIT,
};

fn segment_files(dir: &Path, topic: &str, partition: i32) -> usize {
    let partition_dir = dir.join(format!("{topic}-{partition}"));
    std::fs::read_dir(&partition_dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", partition_dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .count()
}

#[test]
fn retention_removes_old_segments_and_advances_the_low_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(
        dir.path(),
        &["--set", "log.retention.check.interval.ms=200"],
    );
    let topic = "retained";
    create_topic(
        &broker.bootstrap,
        topic,
        1,
        &[("segment.bytes", "2048"), ("retention.ms", "-1")],
    );
    let producer: BaseProducer = client_config(&broker.bootstrap)
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .expect("create producer");
    // One record per request, so batches are small and segments roll often.
    for i in 0..60 {
        producer
            .send(BaseRecord::<(), _>::to(topic).payload(&format!("{i:04}{}", "x".repeat(200))))
            .unwrap_or_else(|(err, _)| panic!("send {i} failed: {err}"));
        producer.flush(WAIT).expect("acknowledged");
    }
    let segments_before = segment_files(dir.path(), topic, 0);
    assert!(
        segments_before > 2,
        "2 KiB segments roll several times for 60 × 200 bytes (found {segments_before})"
    );
    let (low, high) = watermarks(&broker.bootstrap, topic, 1)[&0];
    assert_eq!(
        (low, high),
        (0, 60),
        "nothing expires while retention.ms=-1"
    );

    // Now make everything but the active segment old enough to go.
    let admin = admin(&broker.bootstrap);
    let alter = AlterConfig::new(ResourceSpecifier::Topic(topic))
        .set("segment.bytes", "2048")
        .set("retention.ms", "1000");
    let results = block_on(admin.alter_configs([&alter], &admin_options())).expect("AlterConfigs");
    assert!(
        results.iter().all(Result::is_ok),
        "AlterConfigs retention.ms=1000 failed: {results:?}"
    );

    wait_until("retention to advance the low watermark", || {
        watermarks(&broker.bootstrap, topic, 1)[&0].0 > 0
    });
    wait_until("retention to delete old segment files", || {
        segment_files(dir.path(), topic, 0) < segments_before
    });
    let (low, high) = watermarks(&broker.bootstrap, topic, 1)[&0];
    assert_eq!(high, 60, "retention never moves the high watermark");
    assert!(
        low > 0 && low <= high,
        "low watermark {low} advanced, within the log"
    );
}
