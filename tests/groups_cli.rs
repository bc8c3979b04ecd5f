//! `weir groups` against a broker process: listing, describing with lag, resetting
//! where a group resumes, and deleting it.

mod support;

use support::{ok, weir, BrokerProcess};

/// The committed offsets `groups describe` prints, by partition.
fn committed(describe: &str, topic: &str) -> Vec<(i32, i64, i64)> {
    describe
        .lines()
        .filter(|line| line.starts_with(topic))
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (
                cols[1].parse().expect("partition"),
                cols[2].parse().expect("current offset"),
                cols[4].parse().expect("lag"),
            )
        })
        .collect()
}

#[test]
fn reset_offsets_changes_where_a_group_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(dir.path(), &["--set", "group.initial.rebalance.delay.ms=0"]);
    let b = broker.bootstrap.as_str();
    ok(
        b,
        &["topics", "create", "ledger", "--partitions", "3"],
        None,
    );
    let lines: String = (0..30).map(|i| format!("k{i}:v{i}\n")).collect();
    ok(
        b,
        &["produce", "ledger", "--key-separator", ":"],
        Some(&lines),
    );

    let consumed = ok(
        b,
        &[
            "consume",
            "ledger",
            "--group",
            "auditors",
            "--from-beginning",
            "--max-messages",
            "30",
        ],
        None,
    );
    assert_eq!(consumed.lines().count(), 30, "{consumed}");

    let list = ok(b, &["groups", "list"], None);
    let row = list
        .lines()
        .find(|l| l.starts_with("auditors "))
        .unwrap_or_else(|| panic!("auditors missing from\n{list}"));
    assert!(row.contains("Empty"), "{row}");

    let describe = ok(b, &["groups", "describe", "auditors"], None);
    let before = committed(&describe, "ledger");
    assert_eq!(before.len(), 3, "{describe}");
    assert_eq!(before.iter().map(|p| p.1).sum::<i64>(), 30, "{describe}");
    assert!(
        before.iter().all(|p| p.2 == 0),
        "lag after reading everything: {describe}"
    );

    // Without --execute nothing changes.
    let plan = ok(
        b,
        &[
            "groups",
            "reset-offsets",
            "--group",
            "auditors",
            "--topic",
            "ledger",
            "--to-earliest",
        ],
        None,
    );
    assert_eq!(
        plan.lines().filter(|l| l.starts_with("ledger")).count(),
        3,
        "{plan}"
    );
    assert_eq!(
        committed(&ok(b, &["groups", "describe", "auditors"], None), "ledger"),
        before
    );

    ok(
        b,
        &[
            "groups",
            "reset-offsets",
            "--group",
            "auditors",
            "--topic",
            "ledger",
            "--to-offset",
            "1",
            "--execute",
        ],
        None,
    );
    let after = committed(&ok(b, &["groups", "describe", "auditors"], None), "ledger");
    assert!(after.iter().all(|p| p.1 == 1), "{after:?}");

    // The group resumes at offset 1 of each partition: 27 records remain.
    let resumed = ok(
        b,
        &[
            "consume",
            "ledger",
            "--group",
            "auditors",
            "--max-messages",
            "100",
            "--timeout-ms",
            "3000",
        ],
        None,
    );
    assert_eq!(resumed.lines().count(), 27, "{resumed}");

    let shifted = ok(
        b,
        &[
            "groups",
            "reset-offsets",
            "--group",
            "auditors",
            "--all-topics",
            "--shift-by",
            "-100",
            "--execute",
        ],
        None,
    );
    assert!(
        shifted
            .lines()
            .filter(|l| l.starts_with("ledger"))
            .all(|l| l.ends_with(" 0")),
        "{shifted}"
    );

    ok(b, &["groups", "delete", "auditors"], None);
    let list = ok(b, &["groups", "list"], None);
    assert!(!list.lines().any(|l| l.starts_with("auditors ")), "{list}");
    let missing = weir(b, &["groups", "describe", "auditors"], None);
    assert!(!missing.status.success());
}
