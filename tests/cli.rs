//! The `weir` binary's client commands against a broker process: what they print and
//! how they fail.

mod support;

use support::{ok, weir, BrokerProcess};

#[test]
fn cli_creates_produces_consumes_describes_alters_and_deletes_a_topic() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &["--set", "auto.create.topics.enable=false"]);
    let b = broker.bootstrap.as_str();

    let out = ok(
        b,
        &[
            "topics",
            "create",
            "cli-topic",
            "--partitions",
            "2",
            "--config",
            "retention.ms=3600000",
        ],
        None,
    );
    assert_eq!(out.trim(), "Created topic cli-topic.");

    // Creating it again fails with Kafka's error name, one line, exit 1.
    let again = weir(b, &["topics", "create", "cli-topic"], None);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("TOPIC_ALREADY_EXISTS"), "stderr: {stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one error line, got: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    ok(
        b,
        &["topics", "create", "cli-topic", "--if-not-exists"],
        None,
    );

    assert!(ok(b, &["topics", "list"], None)
        .lines()
        .any(|l| l == "cli-topic"));

    let produced = weir(
        b,
        &[
            "produce",
            "cli-topic",
            "--key-separator",
            ":",
            "--header",
            "src=cli",
            "--compression",
            "gzip",
        ],
        Some("k1:v1\nk2:v2:with colon\nk1:v3\n"),
    );
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );
    assert!(String::from_utf8_lossy(&produced.stderr).contains("3 records produced"));

    let out = ok(
        b,
        &[
            "consume",
            "cli-topic",
            "--from-beginning",
            "--max-messages",
            "3",
            "--timeout-ms",
            "20000",
            "--format",
            "%k=%v|%h",
        ],
        None,
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["k1=v1|src=cli", "k1=v3|src=cli", "k2=v2:with colon|src=cli"]
    );

    let out = ok(
        b,
        &[
            "consume",
            "cli-topic",
            "--from-beginning",
            "--max-messages",
            "3",
            "--timeout-ms",
            "20000",
            "--json",
        ],
        None,
    );
    let keys: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            assert_eq!(v["topic"], "cli-topic");
            assert_eq!(v["headers"][0]["key"], "src");
            v["key"].as_str().expect("string key").to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 3);

    // Only records after the end: none arrive, the idle timeout ends the command.
    assert_eq!(
        ok(b, &["consume", "cli-topic", "--timeout-ms", "1500"], None),
        ""
    );

    let out = ok(b, &["topics", "describe", "cli-topic"], None);
    assert!(
        out.contains("Topic: cli-topic\tPartitionCount: 2\tReplicationFactor: 1"),
        "{out}"
    );
    assert!(
        out.contains("retention.ms=3600000"),
        "configs are shown: {out}"
    );
    assert!(
        out.contains("Partition: 0\tLeader: 1\tReplicas: 1\tIsr: 1"),
        "{out}"
    );
    assert!(out.contains("Partition: 1\t"), "{out}");

    ok(
        b,
        &[
            "topics",
            "alter",
            "cli-topic",
            "--partitions",
            "3",
            "--config",
            "retention.ms=7200000",
        ],
        None,
    );
    let out = ok(b, &["topics", "describe", "cli-topic"], None);
    assert!(out.contains("PartitionCount: 3"), "{out}");
    assert!(out.contains("retention.ms=7200000"), "{out}");

    assert_eq!(
        ok(b, &["topics", "delete", "cli-topic"], None).trim(),
        "Deleted topic cli-topic."
    );
    let missing = weir(b, &["topics", "describe", "cli-topic"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("UNKNOWN_TOPIC_OR_PARTITION"));
}

#[test]
fn perf_tools_report_throughput_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &[]);
    let b = broker.bootstrap.as_str();
    ok(b, &["topics", "create", "perf", "--partitions", "2"], None);

    let produced = weir(
        b,
        &[
            "perf",
            "produce",
            "--topic",
            "perf",
            "--num-records",
            "20000",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--acks",
            "1",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&produced.stderr);
    assert!(produced.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("20000 records sent, ") && last.contains("ms 99.9th."),
        "final line: {last}"
    );

    let consumed = weir(
        b,
        &[
            "perf",
            "consume",
            "--topic",
            "perf",
            "--num-records",
            "20000",
            "--timeout-ms",
            "20000",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&consumed.stderr);
    assert!(consumed.status.success(), "{stderr}");
    assert!(stderr.contains("20000 records consumed"), "{stderr}");
}

#[test]
fn client_errors_are_one_line_with_exit_code_1() {
    let bad = weir("127.0.0.1:1", &["consume", "t", "--format", "%x"], None);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        stderr.trim(),
        "error: unknown format placeholder %x in \"%x\""
    );
}
