//! Fault injection under the log: files cut at every byte, flipped bits, damaged
//! indexes and checkpoints, power cuts at every storage operation (through
//! `CrashableStorage`), a full disk and failing fsyncs.

mod log_common;

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use log_common::*;
use weir_core::log::storage::{self, CrashableStorage};
use weir_core::log::{Log, LogConfig};

const SEGMENT_0: &str = "00000000000000000000.log";
const INDEX_0: &str = "00000000000000000000.index";
const TIME_INDEX_0: &str = "00000000000000000000.timeindex";

fn cut(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Small indexes with frequent entries, so every file kind has content to damage.
fn small_config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 100,
        segment_index_bytes: 4096,
        ..config()
    }
}

/// Batches of different sizes and record counts, with increasing timestamps.
fn varied_batches(n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| {
            let ts: Vec<i64> = (0..1 + i % 4)
                .map(|j| 1_000 + (i * 10 + j) as i64)
                .collect();
            batch_with(&ts, 5 + (i * 7) % 40, 0)
        })
        .collect()
}

/// `batch` as stored at `base_offset` by a plain append (only baseOffset changes).
fn stored(batch: &Bytes, base_offset: i64) -> Vec<u8> {
    let mut bytes = batch.to_vec();
    bytes[..8].copy_from_slice(&base_offset.to_be_bytes());
    bytes
}

/// Everything in the log, from its start, as stored.
fn contents(log: &Log) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next = log.log_start_offset();
    while next < log.log_end_offset() {
        let bytes = log.read(next, 1 << 20, log.log_end_offset()).unwrap();
        let hs = headers(&bytes);
        assert!(!hs.is_empty(), "no progress at {next}");
        // The log start may fall inside a batch (DeleteRecords); after that, every
        // batch starts where the previous one ended.
        if next == log.log_start_offset() {
            assert!(hs[0].base_offset <= next && next <= hs[0].last_offset());
        } else {
            assert_eq!(hs[0].base_offset, next, "offsets are contiguous at {next}");
        }
        for pair in hs.windows(2) {
            assert_eq!(pair[1].base_offset, pair[0].last_offset() + 1, "contiguous");
        }
        next = hs.last().unwrap().last_offset() + 1;
        out.extend_from_slice(&bytes);
    }
    out
}

/// Asserts that every offset of the log is served by the batch that holds it.
fn assert_lookups(log: &Log) {
    for offset in log.log_start_offset()..log.log_end_offset() {
        let bytes = log.read(offset, 1, log.log_end_offset()).unwrap();
        let h = &headers(&bytes)[0];
        assert!(
            h.base_offset <= offset && offset <= h.last_offset(),
            "offset {offset} read batch {}..={}",
            h.base_offset,
            h.last_offset()
        );
    }
}

#[test]
fn a_segment_cut_at_any_byte_recovers_exactly_the_whole_batches_before_the_cut() {
    let batches = varied_batches(8);
    let template = tempfile::tempdir().unwrap();
    let dir = partition_dir(&template);
    let mut log = open(&dir, small_config());
    // (end position in the file, log end offset after the batch)
    let mut ends = vec![(0u64, 0i64)];
    let mut expected = Vec::new();
    for b in &batches {
        let info = log.append(b.clone(), 1).unwrap();
        expected.extend(stored(b, info.base_offset));
        ends.push((expected.len() as u64, info.last_offset + 1));
    }
    drop(log); // a crash: no flush, no marker
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let total = expected.len() as u64;
    // Every byte of the last two batches (header, records, CRC), and around every
    // batch boundary before them.
    let last_two = ends[ends.len() - 3].0;
    let mut cuts: Vec<u64> = (last_two..=total).collect();
    for &(pos, _) in &ends[..ends.len() - 2] {
        cuts.extend([
            pos.saturating_sub(1),
            pos,
            pos + 1,
            pos + 12,
            pos + 30,
            pos + 61,
        ]);
    }
    cuts.sort_unstable();
    cuts.dedup();
    for keep in cuts.into_iter().filter(|&k| k <= total) {
        let tmp = tempfile::tempdir().unwrap();
        // Simulated fsyncs: a thousand reopens would otherwise wait on the disk.
        let _guard = storage::install(tmp.path(), Arc::new(CrashableStorage::new()));
        let dir = partition_dir(&tmp);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        cut(&dir.join(SEGMENT_0), keep);
        let &(valid, end) = ends.iter().rev().find(|(pos, _)| *pos <= keep).unwrap();
        let mut log = open(&dir, small_config());
        assert_eq!(log.log_end_offset(), end, "cut at byte {keep}");
        assert_eq!(log.size_bytes(), valid, "cut at byte {keep}");
        assert_eq!(contents(&log), expected[..valid as usize], "cut at {keep}");
        assert_lookups(&log);
        // The log goes on from there, and a clean reopen keeps it all.
        let info = log.append(batches[0].clone(), 2).unwrap();
        assert_eq!(info.base_offset, end);
        log.close().unwrap();
        let log = open(&dir, small_config());
        assert_eq!(log.log_end_offset(), info.last_offset + 1, "cut at {keep}");
        assert_lookups(&log);
    }
}

#[test]
fn a_flipped_bit_in_a_batch_truncates_the_log_at_that_batch() {
    let batches = varied_batches(6);
    let victim = 3;
    for flip_at in 8..batches[victim].len() {
        // partitionLeaderEpoch (bytes 12..16) lies outside the CRC, as does baseOffset
        // (0..8); see docs/on-disk-format.md.
        if (12..16).contains(&flip_at) {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let _guard = storage::install(tmp.path(), Arc::new(CrashableStorage::new()));
        let dir = partition_dir(&tmp);
        let mut log = open(&dir, small_config());
        let mut expected = Vec::new();
        let mut victim_base = (0, 0);
        for (i, b) in batches.iter().enumerate() {
            let info = log.append(b.clone(), 1).unwrap();
            if i == victim {
                victim_base = (expected.len(), info.base_offset);
            }
            expected.extend(stored(b, info.base_offset));
        }
        drop(log);
        let path = dir.join(SEGMENT_0);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[victim_base.0 + flip_at] ^= 0x04;
        std::fs::write(&path, bytes).unwrap();
        let log = open(&dir, small_config());
        assert_eq!(log.log_end_offset(), victim_base.1, "flip at {flip_at}");
        assert_eq!(
            contents(&log),
            expected[..victim_base.0],
            "flip at {flip_at}"
        );
        assert_lookups(&log);
    }
}

/// A closed multi-segment log, its contents, and its answers to timestamp lookups.
fn closed_log(dir: &Path) -> (Vec<u8>, Vec<Option<(i64, i64)>>) {
    let cfg = LogConfig {
        segment_bytes: 600,
        ..small_config()
    };
    let mut log = open(dir, cfg);
    for b in varied_batches(20) {
        log.append(b, 1).unwrap();
    }
    assert!(log.segment_count() >= 3);
    let data = contents(&log);
    let times = (990..1_200)
        .step_by(7)
        .map(|t| log.offset_for_timestamp(t).unwrap())
        .collect();
    log.close().unwrap();
    (data, times)
}

fn assert_same_log(dir: &Path, data: &[u8], times: &[Option<(i64, i64)>], what: &str) {
    let log = open(
        dir,
        LogConfig {
            segment_bytes: 600,
            ..small_config()
        },
    );
    assert_eq!(contents(&log), data, "{what}");
    assert_lookups(&log);
    let found: Vec<_> = (990..1_200)
        .step_by(7)
        .map(|t| log.offset_for_timestamp(t).unwrap())
        .collect();
    assert_eq!(found, times, "{what}: timestamp lookups");
}

#[test]
fn damaged_or_missing_indexes_are_rebuilt_after_a_clean_or_unclean_shutdown() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 7] = [
        ("offset index deleted", |d| {
            std::fs::remove_file(d.join(INDEX_0)).unwrap()
        }),
        ("time index deleted", |d| {
            std::fs::remove_file(d.join(TIME_INDEX_0)).unwrap()
        }),
        ("offset index cut inside an entry", |d| {
            let len = std::fs::metadata(d.join(INDEX_0)).unwrap().len();
            cut(&d.join(INDEX_0), len - 3)
        }),
        ("time index cut inside an entry", |d| {
            let len = std::fs::metadata(d.join(TIME_INDEX_0)).unwrap().len();
            cut(&d.join(TIME_INDEX_0), len - 5)
        }),
        ("offset index emptied", |d| cut(&d.join(INDEX_0), 0)),
        ("offset index overwritten with garbage", |d| {
            let len = std::fs::metadata(d.join(INDEX_0)).unwrap().len() as usize;
            std::fs::write(d.join(INDEX_0), vec![0xA5; len]).unwrap()
        }),
        ("time index overwritten with garbage", |d| {
            let len = std::fs::metadata(d.join(TIME_INDEX_0)).unwrap().len() as usize;
            std::fs::write(d.join(TIME_INDEX_0), vec![0x5A; len]).unwrap()
        }),
    ];
    for (what, damage) in damages {
        for clean in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = partition_dir(&tmp);
            let (data, times) = closed_log(&dir);
            if !clean {
                std::fs::remove_file(dir.join("clean-shutdown")).unwrap();
            }
            damage(&dir);
            assert_same_log(&dir, &data, &times, &format!("{what}, clean={clean}"));
        }
    }
}

#[test]
fn damaged_or_missing_checkpoints_fall_back_to_recovering_everything() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 6] = [
        ("recovery point deleted", |d| {
            std::fs::remove_file(d.join("recovery-point-offset-checkpoint")).unwrap()
        }),
        ("recovery point garbage", |d| {
            std::fs::write(d.join("recovery-point-offset-checkpoint"), b"\x00\xffjunk").unwrap()
        }),
        ("recovery point cut", |d| {
            cut(&d.join("recovery-point-offset-checkpoint"), 5)
        }),
        ("log start deleted", |d| {
            let _ = std::fs::remove_file(d.join("log-start-offset-checkpoint"));
        }),
        ("log start garbage", |d| {
            std::fs::write(d.join("log-start-offset-checkpoint"), b"0\n1\norders 0 x\n").unwrap()
        }),
        ("leftover checkpoint temporary files", |d| {
            std::fs::write(d.join("recovery-point-offset-checkpoint.tmp"), b"0\n1\n").unwrap();
            std::fs::write(d.join("log-start-offset-checkpoint.tmp"), b"0").unwrap();
        }),
    ];
    for (what, damage) in damages {
        for clean in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = partition_dir(&tmp);
            let (data, times) = closed_log(&dir);
            if !clean {
                std::fs::remove_file(dir.join("clean-shutdown")).unwrap();
            }
            damage(&dir);
            assert_same_log(&dir, &data, &times, &format!("{what}, clean={clean}"));
            assert!(files(&dir, ".tmp").is_empty(), "{what}");
        }
    }
    // Without a recovery point every segment is rescanned, so damage in an old segment
    // is found and everything after it dropped.
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    closed_log(&dir);
    std::fs::remove_file(dir.join("clean-shutdown")).unwrap();
    std::fs::write(dir.join("recovery-point-offset-checkpoint"), b"garbage").unwrap();
    let path = dir.join(SEGMENT_0);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 2;
    bytes[at] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let log = open(&dir, small_config());
    assert_eq!(log.segment_count(), 1, "later segments dropped");
    contents(&log);
    assert_lookups(&log);
}

/// One step of a workload, with what the log answered.
#[derive(Debug)]
struct Acked {
    base_offset: i64,
    bytes: Vec<u8>,
}

/// Appends `batches` until one fails; returns what was acknowledged and the batch in
/// flight when the failure came, if any.
fn append_until_failure(log: &mut Log, batches: &[Bytes]) -> (Vec<Acked>, Option<Bytes>) {
    let mut acked = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        if i == batches.len() / 2 {
            let start = log.log_end_offset() / 3;
            if log.delete_records_before(start).is_err() {
                return (acked, None);
            }
        }
        match log.append(b.clone(), 1) {
            Ok(info) => acked.push(Acked {
                base_offset: info.base_offset,
                bytes: stored(b, info.base_offset),
            }),
            Err(e) => {
                assert!(e.is_storage_error(), "{e}");
                return (acked, Some(b.clone()));
            }
        }
    }
    (acked, None)
}

#[test]
fn with_flush_messages_1_a_power_cut_at_any_storage_operation_loses_nothing_acknowledged() {
    let cfg = LogConfig {
        flush_messages: 1,
        segment_bytes: 400,
        ..small_config()
    };
    let batches = varied_batches(12);
    let mut cut_at = 0u64;
    loop {
        let tmp = tempfile::tempdir().unwrap();
        let disk = Arc::new(CrashableStorage::new());
        let _guard = storage::install(tmp.path(), disk.clone());
        let dir = partition_dir(&tmp);
        let mut log = open(&dir, cfg.clone());
        disk.cut_power_after(Some(cut_at));
        let (acked, in_flight) = append_until_failure(&mut log, &batches);
        let finished = !disk.power_is_cut();
        drop(log);
        disk.power_loss().unwrap();

        let mut log = open(&dir, cfg.clone());
        let what = format!("power cut after {cut_at} storage operations");
        let data = contents(&log);
        let start = log.log_start_offset();
        for a in acked.iter().filter(|a| a.base_offset >= start) {
            let bytes = log.read(a.base_offset, 1, log.log_end_offset()).unwrap();
            assert_eq!(
                &bytes[..a.bytes.len()],
                &a.bytes[..],
                "{what}: acknowledged batch at {} is intact",
                a.base_offset
            );
        }
        let acked_end = acked.last().map_or(0, |a| {
            a.base_offset + headers(&Bytes::from(a.bytes.clone()))[0].last_offset_delta as i64 + 1
        });
        assert!(log.log_end_offset() >= acked_end, "{what}");
        if log.log_end_offset() > acked_end {
            // Only the append in flight may have made it, whole and unacknowledged.
            let b = in_flight.unwrap_or_else(|| panic!("{what}: records nobody appended"));
            let tail = log.read(acked_end, 1, log.log_end_offset()).unwrap();
            assert_eq!(&tail[..], &stored(&b, acked_end)[..], "{what}");
        }
        assert!(!data.is_empty() || acked_end <= start, "{what}");
        // And the log takes appends again.
        let info = log.append(batches[0].clone(), 2).unwrap();
        assert_eq!(info.base_offset, log.log_end_offset() - 1, "{what}");
        if finished {
            assert!(cut_at > 50, "the workload did some storage operations");
            break;
        }
        cut_at += 1;
    }
}

#[test]
fn without_fsync_a_power_cut_leaves_a_prefix_of_what_was_appended() {
    let cfg = LogConfig {
        segment_bytes: 700,
        ..small_config()
    };
    let batches = varied_batches(24);
    for cut_at in (0..200).step_by(3) {
        let tmp = tempfile::tempdir().unwrap();
        let disk = Arc::new(CrashableStorage::new());
        let _guard = storage::install(tmp.path(), disk.clone());
        let dir = partition_dir(&tmp);
        let mut log = open(&dir, cfg.clone());
        disk.cut_power_after(Some(cut_at));
        let (acked, _) = append_until_failure(&mut log, &batches);
        drop(log);
        disk.power_loss().unwrap();
        let log = open(&dir, cfg.clone());
        // Rolled segments were fsynced; the rest may be gone, but what is there is
        // exactly what was appended at those offsets, contiguous.
        contents(&log);
        for a in &acked {
            if a.base_offset >= log.log_start_offset() && a.base_offset < log.log_end_offset() {
                let bytes = log.read(a.base_offset, 1, log.log_end_offset()).unwrap();
                assert_eq!(&bytes[..a.bytes.len()], &a.bytes[..], "cut at {cut_at}");
            }
        }
        assert_lookups(&log);
    }
}

#[test]
fn a_full_disk_fails_the_append_leaves_the_log_as_it_was_and_recovers_when_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Arc::new(CrashableStorage::new());
    let _guard = storage::install(tmp.path(), disk.clone());
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, small_config());
    let batches = varied_batches(10);
    for b in &batches[..5] {
        log.append(b.clone(), 1).unwrap();
    }
    let before = contents(&log);
    let end = log.log_end_offset();
    // Room for half a batch: the write goes part-way, then ENOSPC.
    disk.set_space_left(Some(batches[5].len() as u64 / 2));
    for _ in 0..3 {
        let err = log.append(batches[5].clone(), 1).unwrap_err();
        assert!(err.is_storage_error(), "{err}");
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("No space left"), "{source}");
        assert_eq!(log.log_end_offset(), end);
        assert_eq!(
            std::fs::metadata(dir.join(SEGMENT_0)).unwrap().len(),
            before.len() as u64,
            "the partial write was cut off"
        );
    }
    assert_eq!(contents(&log), before, "reads still work");
    disk.set_space_left(None);
    let mut expected = before;
    for b in &batches[5..] {
        let info = log.append(b.clone(), 1).unwrap();
        expected.extend(stored(b, info.base_offset));
    }
    assert_eq!(contents(&log), expected);
    drop(log); // unclean
    let log = open(&dir, small_config());
    assert_eq!(contents(&log), expected);
    assert_lookups(&log);
}

#[test]
fn a_failed_fsync_fails_the_append_and_does_not_serve_it() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Arc::new(CrashableStorage::new());
    let _guard = storage::install(tmp.path(), disk.clone());
    let dir = partition_dir(&tmp);
    let cfg = LogConfig {
        flush_messages: 1,
        ..small_config()
    };
    let mut log = open(&dir, cfg.clone());
    let batches = varied_batches(6);
    let mut expected = Vec::new();
    for b in &batches[..3] {
        let info = log.append(b.clone(), 1).unwrap();
        expected.extend(stored(b, info.base_offset));
    }
    let end = log.log_end_offset();
    disk.set_fail_syncs(true);
    let err = log.append(batches[3].clone(), 1).unwrap_err();
    assert!(err.is_storage_error(), "{err}");
    assert_eq!(log.log_end_offset(), end, "the failed append is not served");
    assert_eq!(contents(&log), expected);
    disk.set_fail_syncs(false);
    for b in &batches[3..] {
        let info = log.append(b.clone(), 1).unwrap();
        expected.extend(stored(b, info.base_offset));
    }
    drop(log);
    disk.power_loss().unwrap();
    let log = open(&dir, cfg);
    assert_eq!(contents(&log), expected, "everything acknowledged survives");
}
