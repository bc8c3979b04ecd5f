//! The file source against real files: a task is driven through the `Source` trait as
//! the runtime drives it, and restarted from the offsets it produced.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use weir_connect::config::{ConfigMap, ParsedConfig};
use weir_connect::{Data, ErrorDomain, Source, SourceContext, SourceRecord, Task};

/// Polls made before deciding that expected records are not coming.
const MAX_POLLS: usize = 400;

fn props(dir: &Path, extra: &[(&str, &str)]) -> ConfigMap {
    let mut props = ConfigMap::new();
    props.insert("topic".into(), "logs".into());
    props.insert("file.paths".into(), format!("{}/*.log", dir.display()));
    props.insert("poll.interval.ms".into(), "20".into());
    for (key, value) in extra {
        props.insert(key.to_string(), value.to_string());
    }
    props
}

fn parse(props: &ConfigMap) -> ParsedConfig {
    let plugins = weir_connectors::plugins();
    let plugin = plugins
        .find("file-source")
        .expect("the file source is registered");
    plugin.config_def().parse(props).expect("a valid config")
}

/// A task opened with `offsets` as its stored positions.
async fn start(props: &ConfigMap, offsets: &Offsets) -> Box<dyn Source> {
    let plugins = weir_connectors::plugins();
    let plugin = plugins.find("FileSource").unwrap();
    let Task::Source(mut source) = plugin.create_task(&parse(props)).unwrap() else {
        panic!("the file source makes source tasks");
    };
    let stored = offsets.0.values().cloned();
    source
        .open(SourceContext::new("files", 0, stored))
        .await
        .unwrap();
    source
}

/// The latest offset per partition, as the runtime stores them.
#[derive(Debug, Default, Clone)]
struct Offsets(BTreeMap<String, (Value, Value)>);

impl Offsets {
    fn after(records: &[SourceRecord]) -> Offsets {
        let mut offsets = Offsets::default();
        offsets.record(records);
        offsets
    }

    fn record(&mut self, records: &[SourceRecord]) {
        for r in records {
            self.0.insert(
                r.source_partition.to_string(),
                (r.source_partition.clone(), r.source_offset.clone()),
            );
        }
    }
}

/// Polls until `n` records came, and checks that no more are pending right after.
async fn poll_exactly(source: &mut Box<dyn Source>, n: usize) -> Vec<SourceRecord> {
    let mut records = poll_at_least(source, n).await;
    let extra = poll_at_least(source, 0).await;
    records.extend(extra);
    assert_eq!(
        records.len(),
        n,
        "expected {n} records, got {:?}",
        values(&records)
    );
    records
}

/// Polls until at least `n` records came (`n == 0`: a few polls' worth).
async fn poll_at_least(source: &mut Box<dyn Source>, n: usize) -> Vec<SourceRecord> {
    let mut records = Vec::new();
    let polls = if n == 0 { 5 } else { MAX_POLLS };
    for _ in 0..polls {
        let batch = source.poll().await.unwrap();
        assert!(batch.len() <= 1000, "a batch larger than batch.max.records");
        records.extend(batch);
        if n > 0 && records.len() >= n {
            return records;
        }
    }
    assert!(
        records.len() >= n,
        "expected {n} records after {polls} polls, got {:?}",
        values(&records)
    );
    records
}

fn values(records: &[SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r.record.value {
            Data::Json(Value::String(text)) => text.clone(),
            other => panic!("a value that is not a JSON string: {other:?}"),
        })
        .collect()
}

fn header(record: &SourceRecord, key: &str) -> String {
    let header = record.record.header(key).expect("the header is set");
    String::from_utf8(header.value.clone().unwrap().to_vec()).unwrap()
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn numbered(range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("line {i}\n")).collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

fn dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    (dir, path)
}

#[tokio::test]
async fn each_line_is_a_record_with_its_file_line_number_and_position() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    append(&path, "first\nsecond\r\n\nfourth\n");
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    let records = poll_exactly(&mut source, 4).await;
    assert_eq!(values(&records), ["first", "second", "", "fourth"]);
    let ino = fs::metadata(&path).unwrap().ino();
    let dev = fs::metadata(&path).unwrap().dev();
    let name = path.to_string_lossy().into_owned();
    for (record, (line, position)) in records.iter().zip([(1, 6), (2, 14), (3, 15), (4, 22)]) {
        assert_eq!(record.record.topic, "logs");
        assert_eq!(record.record.key, Data::Json(Value::String(name.clone())));
        assert_eq!(record.record.timestamp, None);
        assert_eq!(header(record, "file.name"), name);
        assert_eq!(header(record, "file.line"), line.to_string());
        assert_eq!(record.source_partition, json!({ "file": name }));
        assert_eq!(
            record.source_offset,
            json!({ "position": position, "line": line + 1, "inode": ino, "dev": dev })
        );
    }
    source.close().await.unwrap();
}

#[tokio::test]
async fn a_partial_line_waits_for_its_newline() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    append(&path, "one\ntw");
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    assert_eq!(values(&poll_exactly(&mut source, 1).await), ["one"]);
    append(&path, "o\nthr");
    let records = poll_exactly(&mut source, 1).await;
    assert_eq!(values(&records), ["two"]);
    assert_eq!(records[0].source_offset["position"], 8);
}

#[tokio::test]
async fn stack_traces_become_one_record_and_the_last_one_is_sent_after_the_timeout() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    let trace = "2024-05-01 ERROR request failed\n\
                 java.lang.IllegalStateException: boom\n\
                 \tat io.weir.A.run(A.java:10)\n\
                 \tat io.weir.B.main(B.java:3)\n\
                 2024-05-01 INFO recovered\n";
    append(&path, trace);
    let config = props(
        &dir,
        &[
            ("multiline.pattern", r"^\s"),
            ("multiline.timeout.ms", "50"),
        ],
    );
    let mut source = start(&config, &Offsets::default()).await;
    let records = poll_exactly(&mut source, 3).await;
    assert_eq!(
        values(&records),
        [
            "2024-05-01 ERROR request failed",
            "java.lang.IllegalStateException: boom\n\tat io.weir.A.run(A.java:10)\n\tat io.weir.B.main(B.java:3)",
            "2024-05-01 INFO recovered",
        ]
    );
    let lines: Vec<String> = records.iter().map(|r| header(r, "file.line")).collect();
    assert_eq!(lines, ["1", "2", "5"]);
    assert_eq!(records[1].source_offset["line"], 5);
    assert_eq!(records[2].source_offset["position"], trace.len());
}

#[tokio::test]
async fn negated_pattern_joins_every_line_not_starting_with_a_date() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    append(
        &path,
        "2024-05-01 ERROR failed\ncaused by: x\n  at y\n2024-05-01 INFO ok\n2024-05-01 INFO next\n",
    );
    let config = props(
        &dir,
        &[
            ("multiline.pattern", r"^\d{4}-"),
            ("multiline.negate", "true"),
            ("multiline.match", "after"),
            ("multiline.timeout.ms", "50"),
        ],
    );
    let mut source = start(&config, &Offsets::default()).await;
    let records = poll_exactly(&mut source, 3).await;
    assert_eq!(
        values(&records),
        [
            "2024-05-01 ERROR failed\ncaused by: x\n  at y",
            "2024-05-01 INFO ok",
            "2024-05-01 INFO next",
        ]
    );
}

#[tokio::test]
async fn a_pending_group_is_not_acknowledged_until_it_is_sent() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    append(&path, "a\n b\nc\n d\n");
    // A timeout far longer than the test: the last group stays pending.
    let config = props(
        &dir,
        &[
            ("multiline.pattern", r"^\s"),
            ("multiline.timeout.ms", "3600000"),
        ],
    );
    let mut source = start(&config, &Offsets::default()).await;
    let records = poll_exactly(&mut source, 1).await;
    assert_eq!(values(&records), ["a\n b"]);
    // A crash now re-reads the pending group from just after the sent one.
    drop(source);
    append(&path, "e\n");
    let mut source = start(&config, &Offsets::after(&records)).await;
    assert_eq!(values(&poll_exactly(&mut source, 1).await), ["c\n d"]);
}

#[tokio::test]
async fn a_group_stops_at_max_lines_and_the_rest_starts_another() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    append(&path, "head\n 1\n 2\n 3\n 4\n 5\nnext\n");
    let config = props(
        &dir,
        &[
            ("multiline.pattern", r"^\s"),
            ("multiline.max.lines", "3"),
            ("multiline.timeout.ms", "50"),
        ],
    );
    let mut source = start(&config, &Offsets::default()).await;
    let records = poll_exactly(&mut source, 3).await;
    assert_eq!(values(&records), ["head\n 1\n 2", " 3\n 4\n 5", "next"]);
}

#[tokio::test]
async fn a_line_longer_than_max_line_bytes_is_split_not_lost() {
    let (_guard, dir) = dir();
    let path = dir.join("app.log");
    append(&path, &format!("{}\nshort\n", "x".repeat(25)));
    let mut source = start(
        &props(&dir, &[("max.line.bytes", "10")]),
        &Offsets::default(),
    )
    .await;
    let records = poll_exactly(&mut source, 4).await;
    assert_eq!(
        values(&records),
        [
            "x".repeat(10),
            "x".repeat(10),
            "x".repeat(5),
            "short".into()
        ]
    );
    let lines: Vec<String> = records.iter().map(|r| header(r, "file.line")).collect();
    assert_eq!(lines, ["1", "1", "1", "2"]);
}

#[tokio::test]
async fn rename_rotation_loses_and_repeats_nothing() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    let rotated = dir.join("app.log.1");
    let config = props(
        &dir,
        &[("file.paths", &format!("{}/app.log*", dir.display()))],
    );
    append(&log, &numbered(0..100));
    let mut source = start(&config, &Offsets::default()).await;
    let mut records = poll_exactly(&mut source, 100).await;

    // Lines written just before the rotation, the rotation, a late write to the old
    // file through the writer's handle, and the first lines of the new file.
    append(&log, &numbered(100..150));
    let mut writer = OpenOptions::new().append(true).open(&log).unwrap();
    fs::rename(&log, &rotated).unwrap();
    writer.write_all(numbered(150..160).as_bytes()).unwrap();
    append(&log, &numbered(160..200));
    records.extend(poll_exactly(&mut source, 100).await);

    let mut got = values(&records);
    got.sort_by_key(|v| v[5..].parse::<usize>().unwrap());
    assert_eq!(got, expected(0..200));
    let from_new: Vec<_> = records
        .iter()
        .filter(|r| header(r, "file.name") == log.to_string_lossy())
        .filter(|r| r.source_offset["inode"] == fs::metadata(&log).unwrap().ino())
        .collect();
    assert_eq!(from_new.len(), 40);
    assert_eq!(header(from_new[0], "file.line"), "1");

    // A restart from the stored positions reads neither file again.
    drop(source);
    let mut source = start(&config, &Offsets::after(&records)).await;
    let again = poll_at_least(&mut source, 0).await;
    assert!(again.is_empty(), "read again: {:?}", values(&again));
}

#[tokio::test]
async fn a_restart_after_rotations_reads_no_rotated_file_again() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    let config = props(
        &dir,
        &[("file.paths", &format!("{}/app.log*", dir.display()))],
    );
    let mut source = start(&config, &Offsets::default()).await;
    let mut offsets = Offsets::default();
    // Three generations; each rotation renames every file while it is idle, so no
    // rotated file has a record under its current name.
    for generation in 0..3 {
        if generation == 2 {
            fs::rename(dir.join("app.log.1"), dir.join("app.log.2")).unwrap();
        }
        if generation >= 1 {
            fs::rename(&log, dir.join("app.log.1")).unwrap();
        }
        append(&log, &numbered(generation * 10..generation * 10 + 10));
        let records = poll_exactly(&mut source, 10).await;
        assert_eq!(
            values(&records),
            expected(generation * 10..generation * 10 + 10)
        );
        offsets.record(&records);
    }
    drop(source);
    let mut source = start(&config, &offsets).await;
    let again = poll_at_least(&mut source, 0).await;
    assert!(again.is_empty(), "read again: {:?}", values(&again));
}

#[tokio::test]
async fn a_file_rotated_out_of_the_globs_is_finished_before_the_new_one() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    append(&log, &numbered(0..10));
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    let mut records = poll_exactly(&mut source, 10).await;
    append(&log, &numbered(10..20));
    fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, &numbered(20..30));
    records.extend(poll_exactly(&mut source, 20).await);
    // Both files are one partition here: the old file's lines come first.
    assert_eq!(values(&records), expected(0..30));
}

#[tokio::test]
async fn a_deleted_file_is_read_to_its_end() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    append(&log, &numbered(0..50));
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    fs::remove_file(&log).unwrap();
    assert_eq!(
        values(&poll_exactly(&mut source, 50).await),
        expected(0..50)
    );
}

#[tokio::test]
async fn copy_truncate_starts_the_file_again() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    append(&log, &numbered(0..20));
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    poll_exactly(&mut source, 20).await;
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, "after 1\nafter 2\n");
    let records = poll_exactly(&mut source, 2).await;
    assert_eq!(values(&records), ["after 1", "after 2"]);
    assert_eq!(header(&records[0], "file.line"), "1");
    assert_eq!(records[1].source_offset["position"], 16);
}

#[tokio::test]
async fn a_restart_resumes_after_the_last_acknowledged_record() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    append(&log, &numbered(0..100));
    let config = props(&dir, &[]);
    let mut source = start(&config, &Offsets::default()).await;
    let records = poll_exactly(&mut source, 100).await;
    // The log acknowledged the first 60 records when the worker died.
    let acknowledged = Offsets::after(&records[..60]);
    drop(source);
    append(&log, &numbered(100..120));
    let mut source = start(&config, &acknowledged).await;
    let records = poll_exactly(&mut source, 60).await;
    assert_eq!(values(&records), expected(60..120));
    assert_eq!(header(&records[0], "file.line"), "61");
}

#[tokio::test]
async fn a_restart_follows_a_file_renamed_while_stopped() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    let config = props(
        &dir,
        &[("file.paths", &format!("{}/app.log*", dir.display()))],
    );
    append(&log, &numbered(0..30));
    let mut source = start(&config, &Offsets::default()).await;
    let records = poll_exactly(&mut source, 30).await;
    drop(source);
    append(&log, &numbered(30..40));
    fs::rename(&log, dir.join("app.log.1")).unwrap();
    append(&log, &numbered(40..45));
    let mut source = start(&config, &Offsets::after(&records)).await;
    let mut got = values(&poll_exactly(&mut source, 15).await);
    got.sort();
    assert_eq!(got, expected(30..45));
}

#[tokio::test]
async fn new_files_matching_the_glob_are_picked_up() {
    let (_guard, dir) = dir();
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    assert!(poll_at_least(&mut source, 0).await.is_empty());
    append(&dir.join("b.log"), "hello\n");
    append(&dir.join("ignored.txt"), "no\n");
    let records = poll_exactly(&mut source, 1).await;
    assert_eq!(values(&records), ["hello"]);
    assert_eq!(
        header(&records[0], "file.name"),
        dir.join("b.log").to_string_lossy()
    );
}

#[tokio::test]
async fn read_from_end_skips_existing_lines_and_keeps_counting() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    append(&log, &numbered(0..5));
    let mut source = start(&props(&dir, &[("read.from", "end")]), &Offsets::default()).await;
    assert!(poll_at_least(&mut source, 0).await.is_empty());
    append(&log, "new\n");
    let records = poll_exactly(&mut source, 1).await;
    assert_eq!(values(&records), ["new"]);
    assert_eq!(header(&records[0], "file.line"), "6");
}

#[tokio::test]
async fn batches_stay_within_the_limit_and_in_order() {
    let (_guard, dir) = dir();
    let log = dir.join("app.log");
    append(&log, &numbered(0..25_000));
    let mut source = start(&props(&dir, &[]), &Offsets::default()).await;
    let records = poll_exactly(&mut source, 25_000).await;
    assert_eq!(values(&records), expected(0..25_000));
}

#[test]
fn an_invalid_pattern_is_a_config_issue_and_no_task_starts() {
    let plugins = weir_connectors::plugins();
    let plugin = plugins
        .find("io.weir.connect.file.FileSourceConnector")
        .unwrap();
    let dir = Path::new("/var/log");
    let parsed = parse(&props(dir, &[("multiline.pattern", "^(unclosed")]));
    let issues = plugin.validate(&parsed);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "multiline.pattern");
    assert!(issues[0].message.contains("not a valid regular expression"));
    let err = plugin.create_task(&parsed).unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User);
}

#[test]
fn required_keys_are_reported() {
    let plugins = weir_connectors::plugins();
    let plugin = plugins.find("file-source").unwrap();
    let issues = plugin.config_def().parse(&ConfigMap::new()).unwrap_err();
    let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["topic", "file.paths"]);
}

#[tokio::test]
async fn a_poll_returns_at_most_the_connectors_batch_max_records() {
    let (_guard, dir) = dir();
    append(&dir.join("app.log"), &numbered(0..25));
    let plugins = weir_connectors::plugins();
    let plugin = plugins.find("file-source").unwrap();
    let Task::Source(mut source) = plugin.create_task(&parse(&props(&dir, &[]))).unwrap() else {
        panic!("the file source makes source tasks");
    };
    source
        .open(SourceContext::new("files", 0, []).with_batch_max_records(10))
        .await
        .unwrap();
    let mut records = Vec::new();
    while records.len() < 25 {
        let batch = source.poll().await.unwrap();
        assert!(batch.len() <= 10, "a poll returned {} records", batch.len());
        records.extend(batch);
    }
    assert_eq!(values(&records), expected(0..25));
}
