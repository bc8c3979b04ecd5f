//! Log compaction: the latest value per key survives, tombstones live out
//! delete.retention.ms, offsets only ever increase, the log stays usable during a pass,
//! and a crash at any stage of the swap reopens to a consistent log.

mod log_common;

use std::collections::BTreeMap;

use bytes::Bytes;
use log_common::{files, partition_dir};
use weir_core::log::batch::record::RecordIter;
use weir_core::log::batch::{BatchIter, RecordBatchBuilder, HEADER_SIZE};
use weir_core::log::cleaner::{self, CleanerLimits};
use weir_core::log::compression::{self, Compression};
use weir_core::log::{Log, LogConfig};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

const DELETE_RETENTION_MS: i64 = 10_000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        retention_ms: -1,
        compact: true,
        delete_retention_ms: DELETE_RETENTION_MS,
        ..LogConfig::default()
    }
}

/// One batch of keyed records (a `None` value is a tombstone), compressed with `codec`.
fn keyed_batch(records: &[(String, Option<String>)], ts: i64, codec: Compression) -> Bytes {
    let mut builder = RecordBatchBuilder::new();
    for (key, value) in records {
        builder.push(
            ts,
            Some(key.as_bytes()),
            value.as_deref().map(str::as_bytes),
        );
    }
    let plain = builder.build();
    if codec == Compression::None {
        return plain;
    }
    let section = compression::compress(codec, &plain[HEADER_SIZE..]).unwrap();
    let mut out = plain[..HEADER_SIZE].to_vec();
    out[8..12].copy_from_slice(&((HEADER_SIZE - 12 + section.len()) as i32).to_be_bytes());
    out[21..23].copy_from_slice(&codec.id().to_be_bytes());
    out.extend_from_slice(&section);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

fn update(key: &str, value: Option<&str>) -> (String, Option<String>) {
    (key.to_owned(), value.map(str::to_owned))
}

/// Every record from offset 0 as (offset, key, value), checking that offsets strictly
/// increase across batches and records.
fn read_records(log: &Log) -> Vec<(i64, String, Option<String>)> {
    let mut out: Vec<(i64, String, Option<String>)> = Vec::new();
    let mut next = log.log_start_offset();
    let end = log.log_end_offset();
    while next < end {
        let bytes = log.read(next, 1 << 16, end).unwrap();
        let mut progressed = false;
        for batch in BatchIter::new(bytes) {
            let header = batch.header;
            let codec = Compression::from_attributes(header.attributes).unwrap();
            let section =
                compression::decompress(codec, &batch.bytes[HEADER_SIZE..], 1 << 24).unwrap();
            for record in RecordIter::new(Bytes::from(section), header.records_count) {
                let record = record.unwrap();
                let offset = header.base_offset + i64::from(record.offset_delta);
                assert!(
                    offset <= header.last_offset(),
                    "record beyond lastOffsetDelta"
                );
                if let Some((last, _, _)) = out.last() {
                    assert!(offset > *last, "offset {offset} after {last}");
                }
                let key = String::from_utf8(record.key.unwrap().to_vec()).unwrap();
                let value = record.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
                out.push((offset, key, value));
            }
            next = header.last_offset() + 1;
            progressed = true;
        }
        assert!(progressed, "no progress reading at {next}");
    }
    out
}

/// Appends `rounds` updates of `keys` keys, one batch per round, cycling codecs; then a
/// large batch so that everything before it is in inactive segments. Returns the
/// latest value of every key.
fn fill(log: &mut Log, keys: usize, rounds: usize, ts: i64) -> BTreeMap<String, Option<String>> {
    let mut latest = BTreeMap::new();
    for round in 0..rounds {
        let records: Vec<_> = (0..keys)
            .map(|k| update(&format!("key-{k:02}"), Some(&format!("value-{round}-{k}"))))
            .collect();
        for (k, v) in &records {
            latest.insert(k.clone(), v.clone());
        }
        log.append(keyed_batch(&records, ts, CODECS[round % CODECS.len()]), ts)
            .unwrap();
    }
    roll_with_filler(log, ts);
    latest
}

/// A batch larger than a segment: it rolls and sits alone in the new active segment.
fn roll_with_filler(log: &mut Log, ts: i64) {
    let filler = update("filler", Some(&"f".repeat(2048)));
    log.append(keyed_batch(&[filler], ts, Compression::None), ts)
        .unwrap();
}

/// The latest value per key as read (the filler left out).
fn latest_values(records: &[(i64, String, Option<String>)]) -> BTreeMap<String, Option<String>> {
    records
        .iter()
        .filter(|(_, k, _)| k != "filler")
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect()
}

fn assert_one_record_per_key(records: &[(i64, String, Option<String>)]) {
    let mut seen = BTreeMap::new();
    for (offset, key, _) in records {
        if let Some(earlier) = seen.insert(key.clone(), *offset) {
            panic!("key {key} at offsets {earlier} and {offset}");
        }
    }
}

#[test]
fn compaction_keeps_exactly_the_latest_value_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = Log::open(&dir, config(), 1_000).unwrap();
    let latest = fill(&mut log, 12, 40, 1_000);
    let segments_before = log.segment_count();
    let size_before = log.size_bytes();
    assert!(segments_before > 5, "{segments_before} segments");
    let before = read_records(&log);
    assert_eq!(latest_values(&before), latest);

    let stats = log.compact(2_000, false).unwrap().expect("a pass was due");
    assert_eq!(stats.keys, 12);
    assert_eq!(stats.records_removed, 12 * 39);
    let after = read_records(&log);
    assert_one_record_per_key(&after);
    assert_eq!(latest_values(&after), latest);
    assert!(
        log.size_bytes() < size_before / 4,
        "{} bytes",
        log.size_bytes()
    );
    assert_eq!(log.log_end_offset(), 12 * 40 + 1, "offsets never change");
    assert!(files(&dir, ".cleaned").is_empty() && files(&dir, ".swap").is_empty());

    // Nothing dirty: no pass is due, and a forced one changes nothing.
    assert!(log.compact(3_000, false).unwrap().is_none());
    let forced = log.compact(3_000, true).unwrap().unwrap();
    assert_eq!(forced.records_removed, 0);
    assert_eq!(read_records(&log), after);
    // Segments are grouped by their size before the pass: the small cleaned ones merge.
    assert!(
        log.segment_count() < segments_before / 2,
        "{}",
        log.segment_count()
    );

    // New updates for half the keys supersede the cleaned values after the next pass.
    let mut latest = latest;
    for round in 0..3 {
        let records: Vec<_> = (0..6)
            .map(|k| update(&format!("key-{k:02}"), Some(&format!("new-{round}-{k}"))))
            .collect();
        for (k, v) in &records {
            latest.insert(k.clone(), v.clone());
        }
        log.append(keyed_batch(&records, 4_000, Compression::Zstd), 4_000)
            .unwrap();
    }
    roll_with_filler(&mut log, 4_000);
    log.compact(5_000, true).unwrap().unwrap();
    let records = read_records(&log);
    assert_eq!(latest_values(&records), latest);
    let non_filler: Vec<_> = records
        .iter()
        .filter(|(_, k, _)| k != "filler")
        .cloned()
        .collect();
    assert_one_record_per_key(&non_filler);

    // The cleaned log survives a restart, clean or not.
    log.close().unwrap();
    let log = Log::open(&dir, config(), 6_000).unwrap();
    assert_eq!(read_records(&log), records);
    drop(log);
    let log = Log::open(&dir, config(), 6_000).unwrap();
    assert_eq!(read_records(&log), records);
}

#[test]
fn tombstones_stay_for_delete_retention_ms_then_go() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = Log::open(&dir, config(), 1_000).unwrap();
    for round in 0..5 {
        let records = vec![
            update("kept", Some(&format!("v{round}"))),
            update("deleted", Some(&format!("v{round}"))),
        ];
        log.append(keyed_batch(&records, 1_000, Compression::Lz4), 1_000)
            .unwrap();
    }
    log.append(
        keyed_batch(&[update("deleted", None)], 1_000, Compression::Gzip),
        1_000,
    )
    .unwrap();
    roll_with_filler(&mut log, 1_000);

    let t0 = 10_000;
    let stats = log.compact(t0, false).unwrap().unwrap();
    assert_eq!(stats.next_horizon_ms, Some(t0 + DELETE_RETENTION_MS));
    let records = read_records(&log);
    assert_one_record_per_key(&records);
    let latest = latest_values(&records);
    assert_eq!(latest["kept"].as_deref(), Some("v4"));
    assert_eq!(latest["deleted"], None, "the tombstone is kept");
    assert!(latest.contains_key("deleted"));

    // Just before the horizon it is still there.
    let stats = log
        .compact(t0 + DELETE_RETENTION_MS - 1, true)
        .unwrap()
        .unwrap();
    assert_eq!(stats.tombstones_removed, 0);
    assert!(latest_values(&read_records(&log)).contains_key("deleted"));

    // After it, it is gone, and so is every trace of the key.
    let stats = log
        .compact(t0 + DELETE_RETENTION_MS + 1, true)
        .unwrap()
        .unwrap();
    assert_eq!(stats.tombstones_removed, 1);
    assert_eq!(stats.next_horizon_ms, None);
    let records = read_records(&log);
    assert!(
        records.iter().all(|(_, k, _)| k != "deleted"),
        "{records:?}"
    );
    assert_eq!(latest_values(&records)["kept"].as_deref(), Some("v4"));
}

#[test]
fn appends_and_reads_go_on_while_a_pass_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = Log::open(&dir, config(), 1_000).unwrap();
    let mut latest = fill(&mut log, 20, 60, 1_000);
    let snapshot = log.cleanable_snapshot(2_000).unwrap().unwrap();
    assert!(snapshot.is_due(None));
    let pass = std::thread::spawn(move || {
        cleaner::clean(&snapshot, &CleanerLimits::default(), &|| false)
            .unwrap()
            .unwrap()
    });
    // The owner keeps appending and serving reads meanwhile.
    let mut round = 0;
    while !pass.is_finished() || round < 20 {
        let records = vec![update("key-00", Some(&format!("live-{round}")))];
        latest.insert("key-00".into(), Some(format!("live-{round}")));
        log.append(keyed_batch(&records, 2_000, Compression::Snappy), 2_000)
            .unwrap();
        assert!(!log.read(0, 4096, log.log_end_offset()).unwrap().is_empty());
        round += 1;
    }
    let cleaned = pass.join().unwrap();
    assert!(cleaned.segment_count() > 0);
    assert!(log.replace_segments(cleaned, 3_000).unwrap());
    let records = read_records(&log);
    assert_eq!(latest_values(&records), latest);
}

#[test]
fn a_pass_whose_segments_were_deleted_meanwhile_is_discarded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = Log::open(&dir, config(), 1_000).unwrap();
    fill(&mut log, 5, 30, 1_000);
    let snapshot = log.cleanable_snapshot(2_000).unwrap().unwrap();
    let cleaned = cleaner::clean(&snapshot, &CleanerLimits::default(), &|| false)
        .unwrap()
        .unwrap();
    assert!(!files(&dir, ".cleaned").is_empty());
    let second_base = snapshot.segments()[1].base_offset;
    log.delete_records_before(second_base).unwrap();
    let before = read_records(&log);
    assert!(!log.replace_segments(cleaned, 3_000).unwrap());
    assert!(files(&dir, ".cleaned").is_empty());
    assert_eq!(read_records(&log), before);
}

#[test]
fn a_stopped_pass_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = Log::open(&dir, config(), 1_000).unwrap();
    fill(&mut log, 5, 30, 1_000);
    let snapshot = log.cleanable_snapshot(2_000).unwrap().unwrap();
    let calls = std::cell::Cell::new(0);
    let stop_later = || {
        calls.set(calls.get() + 1);
        calls.get() > 40
    };
    assert!(
        cleaner::clean(&snapshot, &CleanerLimits::default(), &stop_later)
            .unwrap()
            .is_none()
    );
    assert!(files(&dir, ".cleaned").is_empty());
}

/// The stages of a swap a crash can interrupt, simulated by leaving files as the
/// swap protocol in `docs/on-disk-format.md` has them at that stage.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// `.cleaned` files written, nothing renamed.
    Cleaned,
    /// Renamed to `.swap`, no manifest: not committed.
    Swap,
    /// Manifest written (committed), old segments all still there.
    Committed,
    /// Committed, the first group's old segments deleted but its `.swap` not renamed.
    HalfSwapped,
    /// The swap finished.
    Done,
}

fn crash_at(stage: Stage) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = Log::open(&dir, config(), 1_000).unwrap();
    let latest = fill(&mut log, 8, 40, 1_000);
    log.flush().unwrap();
    let uncleaned = read_records(&log);
    let snapshot = log.cleanable_snapshot(2_000).unwrap().unwrap();
    let cleaned = cleaner::clean(&snapshot, &CleanerLimits::default(), &|| false)
        .unwrap()
        .unwrap();
    let ranges = cleaned.replaced_ranges();
    assert!(ranges.len() > 1, "{ranges:?}");
    if stage == Stage::Done {
        assert!(log.replace_segments(cleaned, 3_000).unwrap());
    } else {
        drop(cleaned);
    }
    drop(log); // a crash: no close

    let name = |base: i64, suffix: &str| format!("{base:020}{suffix}");
    if stage != Stage::Cleaned && stage != Stage::Done {
        for &(base, _) in &ranges {
            for suffix in [".log", ".index", ".timeindex"] {
                std::fs::rename(
                    dir.join(name(base, &format!("{suffix}.cleaned"))),
                    dir.join(name(base, &format!("{suffix}.swap"))),
                )
                .unwrap();
            }
        }
    }
    if matches!(stage, Stage::Committed | Stage::HalfSwapped) {
        let mut manifest = format!("0\n{}\n", ranges.len());
        for (base, end) in &ranges {
            manifest.push_str(&format!("{base} {end}\n"));
        }
        std::fs::write(dir.join("cleaner-swap"), manifest).unwrap();
    }
    if stage == Stage::HalfSwapped {
        let (base, end) = ranges[0];
        for entry in files(&dir, ".log") {
            let b: i64 = entry[..20].parse().unwrap();
            if b >= base && b < end {
                for suffix in [".log", ".index", ".timeindex"] {
                    let _ = std::fs::remove_file(dir.join(name(b, suffix)));
                }
            }
        }
    }

    let log = Log::open(&dir, config(), 4_000).unwrap();
    let records = read_records(&log);
    assert_eq!(latest_values(&records), latest, "{stage:?}");
    for suffix in [".cleaned", ".swap", ".deleted"] {
        assert!(
            files(&dir, suffix).is_empty(),
            "{stage:?} left {suffix} files"
        );
    }
    assert!(!dir.join("cleaner-swap").exists());
    match stage {
        Stage::Cleaned | Stage::Swap => assert_eq!(records, uncleaned, "{stage:?} rolls back"),
        Stage::Committed | Stage::HalfSwapped | Stage::Done => {
            let non_filler: Vec<_> = records
                .iter()
                .filter(|(_, k, _)| k != "filler")
                .cloned()
                .collect();
            assert_one_record_per_key(&non_filler);
        }
    }
    // And the recovered log still takes appends and compacts again.
    let mut log = log;
    let latest_before = latest_values(&read_records(&log));
    roll_with_filler(&mut log, 5_000);
    log.compact(6_000, true).unwrap();
    assert_eq!(latest_values(&read_records(&log)), latest_before);
}

#[test]
fn a_crash_with_only_cleaned_files_rolls_back() {
    crash_at(Stage::Cleaned);
}

#[test]
fn a_crash_before_the_swap_commits_rolls_back() {
    crash_at(Stage::Swap);
}

#[test]
fn a_crash_after_the_swap_commits_completes_it() {
    crash_at(Stage::Committed);
}

#[test]
fn a_crash_half_way_through_the_swap_completes_it() {
    crash_at(Stage::HalfSwapped);
}

#[test]
fn a_crash_after_the_swap_keeps_the_cleaned_log() {
    crash_at(Stage::Done);
}

#[test]
fn compact_is_a_no_op_for_delete_only_topics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig {
        compact: false,
        ..config()
    };
    let mut log = Log::open(&dir, config, 1_000).unwrap();
    fill(&mut log, 3, 20, 1_000);
    assert!(log.cleanable_snapshot(2_000).unwrap().is_none());
    assert!(log.compact(2_000, true).unwrap().is_none());
}

#[test]
fn min_compaction_lag_keeps_young_segments_dirty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let config = LogConfig {
        min_compaction_lag_ms: 5_000,
        ..config()
    };
    let mut log = Log::open(&dir, config, 1_000).unwrap();
    fill(&mut log, 4, 20, 1_000);
    assert!(
        log.cleanable_snapshot(3_000).unwrap().is_none(),
        "all too young"
    );
    let stats = log.compact(7_000, false).unwrap().unwrap();
    assert!(stats.records_removed > 0);
}

/// Power cut at every storage operation of a whole pass (clean, swap, checkpoint),
/// keeping only what was fsynced (`CrashableStorage`): the reopened log always holds
/// the latest value of every key, and only records that were there before, at their
/// offsets.
#[test]
fn a_power_cut_at_any_storage_operation_of_a_pass_keeps_the_latest_value_of_every_key() {
    use std::sync::Arc;
    use weir_core::log::storage::{self, CrashableStorage};

    let mut cut_at = 0u64;
    loop {
        let tmp = tempfile::tempdir().unwrap();
        let disk = Arc::new(CrashableStorage::new());
        let _guard = storage::install(tmp.path(), disk.clone());
        let dir = partition_dir(&tmp);
        let mut log = Log::open(&dir, config(), 1_000).unwrap();
        let latest = fill(&mut log, 6, 8, 1_000);
        log.flush().unwrap();
        let before = read_records(&log);
        disk.cut_power_after(Some(cut_at));
        let result = log.compact(2_000, true);
        let finished = !disk.power_is_cut();
        if finished {
            assert!(result.unwrap().is_some(), "the pass did something");
        }
        drop(log);
        disk.power_loss().unwrap();

        let log = Log::open(&dir, config(), 3_000).unwrap();
        let after = read_records(&log);
        assert_eq!(
            latest_values(&after),
            latest,
            "power cut after {cut_at} operations"
        );
        for record in &after {
            assert!(
                before.contains(record),
                "power cut after {cut_at} operations: {record:?} was not in the log"
            );
        }
        if finished {
            assert!(cut_at > 10, "the pass did some storage operations");
            break;
        }
        cut_at += 1;
    }
}
