//! Reopening: clean close, crashes with torn or corrupt tails, damaged indexes, leftovers.

mod log_common;

use std::fs::OpenOptions;
use std::path::Path;

use log_common::*;
use weir_core::log::{Log, LogConfig};

fn cut(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

const SEGMENT_0: &str = "00000000000000000000.log";

#[test]
fn reopen_after_close_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let cfg = LogConfig {
        segment_bytes: 2_000,
        index_interval_bytes: 300,
        ..config()
    };
    let mut log = open(&dir, cfg.clone());
    for i in 0..50 {
        log.append(batch(3, 1_000 + i), 1).unwrap();
    }
    let before = log.read(0, usize::MAX, 150).unwrap();
    let segments = log.segment_count();
    log.close().unwrap();
    assert!(dir.join("clean-shutdown").exists());
    let log = open(&dir, cfg);
    assert!(
        !dir.join("clean-shutdown").exists(),
        "the marker is consumed by open"
    );
    assert_eq!(log.log_end_offset(), 150);
    assert_eq!(log.segment_count(), segments);
    assert_eq!(log.read(0, usize::MAX, 150).unwrap(), before);
    assert_eq!(log.max_timestamp(), Some((1_049, 147)));
    assert_eq!(log.offset_for_timestamp(1_020).unwrap(), Some((60, 1_020)));
}

#[test]
fn a_torn_tail_is_truncated_to_the_last_whole_batch() {
    let b = batch_with(&[1, 2, 3, 4], 20, 0);
    // Cut inside the last batch's offset/length, its header, and its records.
    for keep in [1, 8, 11, 12, 16, 20, 40, 60, 61, 62, 70, b.len() - 1] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition_dir(&tmp);
        let mut log = open(&dir, config());
        for _ in 0..5 {
            log.append(b.clone(), 1).unwrap();
        }
        drop(log); // crash: no flush, no clean-shutdown marker
        cut(&dir.join(SEGMENT_0), (4 * b.len() + keep) as u64);
        let mut log = open(&dir, config());
        assert_eq!(log.log_end_offset(), 16, "cut at {keep}");
        assert_eq!(log.size_bytes(), 4 * b.len() as u64, "cut at {keep}");
        assert_eq!(read_all(&log, 0).len(), 4);
        let info = log.append(b.clone(), 1).unwrap();
        assert_eq!(info.base_offset, 16);
        assert_eq!(read_all(&log, 0).len(), 5);
    }
}

#[test]
fn a_bit_flip_in_the_last_batch_truncates_it() {
    let b = batch(4, 9);
    for at in [16, 17, 25, 40, 58, 61, b.len() - 1] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition_dir(&tmp);
        let mut log = open(&dir, config());
        for _ in 0..3 {
            log.append(b.clone(), 1).unwrap();
        }
        drop(log);
        flip(&dir.join(SEGMENT_0), 2 * b.len() + at);
        let log = open(&dir, config());
        assert_eq!(log.log_end_offset(), 8, "flip at {at}");
        assert_eq!(read_all(&log, 0).len(), 2);
    }
}

#[test]
fn corruption_in_an_unflushed_segment_drops_every_later_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(2, 9);
    let cfg = LogConfig {
        segment_bytes: (b.len() * 2) as u64,
        ..config()
    };
    let mut log = open(&dir, cfg.clone());
    for _ in 0..6 {
        log.append(b.clone(), 1).unwrap();
    }
    assert_eq!(log.segment_count(), 3);
    drop(log);
    // Pretend nothing was ever flushed.
    std::fs::remove_file(dir.join("recovery-point-offset-checkpoint")).unwrap();
    flip(&dir.join("00000000000000000004.log"), b.len() + 30);
    let log = open(&dir, cfg);
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.segment_count(), 2);
    assert_eq!(files(&dir, ".log").len(), 2);
    assert_eq!(files(&dir, ".index").len(), 2);
}

#[test]
fn flushed_segments_are_not_rescanned_but_the_active_one_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(2, 9);
    let cfg = LogConfig {
        segment_bytes: (b.len() * 2) as u64,
        ..config()
    };
    let mut log = open(&dir, cfg.clone());
    for _ in 0..5 {
        log.append(b.clone(), 1).unwrap();
    }
    drop(log); // rolls flushed segments 0 and 4; segment 8 is unflushed
               // A flipped bit in a flushed segment's records is not noticed (its indexes are sane);
               // a torn tail of the active segment is.
    flip(&dir.join(SEGMENT_0), b.len() + 70);
    cut(&dir.join("00000000000000000008.log"), 10);
    let log = open(&dir, cfg);
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(log.segment_count(), 3);
    assert_eq!(read_all(&log, 0).len(), 4);
}

#[test]
fn missing_or_garbage_indexes_are_rebuilt_and_lookups_stay_right() {
    let cfg = LogConfig {
        index_interval_bytes: 200,
        segment_bytes: 2_500,
        ..config()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, cfg.clone());
    for i in 0..60 {
        log.append(batch_with(&[10 * i, 10 * i + 5], 30, 0), 1)
            .unwrap();
    }
    log.close().unwrap();
    let indexes = files(&dir, ".index");
    let time_indexes = files(&dir, ".timeindex");
    assert!(indexes.len() >= 3);
    let original: Vec<Vec<u8>> = indexes
        .iter()
        .chain(&time_indexes)
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();

    let check = |log: &Log| {
        for offset in 0..120 {
            let first = headers(&log.read(offset, 1, 120).unwrap())[0];
            assert_eq!(first.base_offset, offset / 2 * 2);
        }
        assert_eq!(log.offset_for_timestamp(301).unwrap(), Some((61, 305)));
        assert_eq!(log.offset_for_timestamp(300).unwrap(), Some((60, 300)));
        assert_eq!(log.max_timestamp(), Some((595, 119)));
    };

    // Deleted.
    std::fs::remove_file(dir.join(&indexes[0])).unwrap();
    std::fs::remove_file(dir.join(&time_indexes[1])).unwrap();
    let log = open(&dir, cfg.clone());
    check(&log);
    log.close().unwrap();
    let rebuilt: Vec<Vec<u8>> = indexes
        .iter()
        .chain(&time_indexes)
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    assert_eq!(
        rebuilt, original,
        "rebuilt indexes are identical to the originals"
    );

    // Garbage: ragged length, decreasing entries, positions beyond the log.
    std::fs::write(dir.join(&indexes[0]), [7u8; 13]).unwrap();
    std::fs::write(dir.join(&indexes[1]), [0xffu8; 16]).unwrap();
    std::fs::write(dir.join(&time_indexes[0]), [0x01u8; 24]).unwrap();
    std::fs::write(dir.join(&time_indexes[1]), []).unwrap();
    let log = open(&dir, cfg);
    check(&log);
}

#[test]
fn leftover_files_of_interrupted_operations_are_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, config());
    log.append(batch(2, 1), 1).unwrap();
    log.close().unwrap();
    for name in [
        "recovery-point-offset-checkpoint.tmp",
        "00000000000000000007.log.deleted",
        "00000000000000000007.index.cleaned",
        "00000000000000000000.log.swap",
        "00000000000000000099.index",
    ] {
        std::fs::write(dir.join(name), b"junk").unwrap();
    }
    let log = open(&dir, config());
    assert_eq!(log.log_end_offset(), 2);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "00000000000000000000.index",
            "00000000000000000000.log",
            "00000000000000000000.timeindex",
            // The producer state snapshot written at close, named by the log end.
            "00000000000000000002.snapshot",
            "log-start-offset-checkpoint",
            "recovery-point-offset-checkpoint",
        ]
    );
}

#[test]
fn a_swap_file_without_its_original_is_completed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, config());
    log.append(batch(2, 1), 1).unwrap();
    log.close().unwrap();
    std::fs::rename(dir.join(SEGMENT_0), dir.join(format!("{SEGMENT_0}.swap"))).unwrap();
    let log = open(&dir, config());
    assert_eq!(log.log_end_offset(), 2);
    assert!(dir.join(SEGMENT_0).exists());
}

#[test]
fn a_crash_after_a_clean_reopen_is_still_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(2, 1);
    let mut log = open(&dir, config());
    log.append(b.clone(), 1).unwrap();
    log.close().unwrap();
    let mut log = open(&dir, config());
    log.append(b.clone(), 1).unwrap();
    drop(log);
    cut(&dir.join(SEGMENT_0), (b.len() + 30) as u64);
    let log = open(&dir, config());
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn a_directory_of_only_garbage_opens_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(SEGMENT_0), vec![0xabu8; 500]).unwrap();
    let mut log = open(&dir, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    assert_eq!(log.size_bytes(), 0);
    log.append(batch(1, 1), 1).unwrap();
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn reopening_an_unclosed_log_without_damage_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let cfg = LogConfig {
        segment_bytes: 1_000,
        index_interval_bytes: 100,
        ..config()
    };
    let mut log = open(&dir, cfg.clone());
    for i in 0..30 {
        log.append(batch(2, i), 1).unwrap();
    }
    let before = log.read(0, usize::MAX, 60).unwrap();
    drop(log);
    let log = Log::open(&dir, cfg, 2).unwrap();
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(log.read(0, usize::MAX, 60).unwrap(), before);
}

#[test]
fn a_log_that_ends_before_its_start_after_recovery_restarts_empty_at_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(2, 1);
    let mut log = open(&dir, config());
    for _ in 0..5 {
        log.append(b.clone(), 1).unwrap();
    }
    log.delete_records_before(10).unwrap();
    drop(log);
    std::fs::remove_file(dir.join("recovery-point-offset-checkpoint")).unwrap();
    cut(&dir.join(SEGMENT_0), (b.len() * 2 + 5) as u64);
    let mut log = open(&dir, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
    assert_eq!(files(&dir, ".log"), ["00000000000000000010.log"]);
    assert_eq!(log.append(b, 1).unwrap().base_offset, 10);
}

#[test]
fn truncate_to_removes_batches_at_and_beyond_the_offset_and_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(2, 1);
    let cfg = LogConfig {
        segment_bytes: (b.len() * 3) as u64,
        index_interval_bytes: 0,
        ..config()
    };
    let mut log = open(&dir, cfg.clone());
    for i in 0..10 {
        log.append(batch(2, 100 + i), 1).unwrap();
    }
    assert_eq!(log.segment_count(), 4);
    log.flush().unwrap();
    log.truncate_to(30, 1).unwrap();
    assert_eq!(log.log_end_offset(), 20, "no-op beyond the end");
    // Offset 9 is inside the batch 8..=9: that batch goes too.
    log.truncate_to(9, 1).unwrap();
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(log.segment_count(), 2);
    assert_eq!(files(&dir, ".log").len(), 2);
    assert_eq!(log.max_timestamp(), Some((103, 6)));
    assert_eq!(log.offset_for_timestamp(104).unwrap(), None);
    assert_eq!(
        std::fs::read_to_string(dir.join("recovery-point-offset-checkpoint")).unwrap(),
        "0\n1\norders 0 8\n"
    );
    assert_eq!(log.append(batch(2, 500), 1).unwrap().base_offset, 8);
    assert_eq!(read_all(&log, 0).len(), 5);
    drop(log);
    let mut log = open(&dir, cfg.clone());
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(log.max_timestamp(), Some((500, 8)));
    // Truncating to a segment's base offset empties that segment.
    log.truncate_to(6, 1).unwrap();
    assert_eq!((log.segment_count(), log.log_end_offset()), (2, 6));
    log.delete_records_before(4).unwrap();
    log.truncate_to(2, 1).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 2));
    assert_eq!(files(&dir, ".log"), ["00000000000000000002.log"]);
    log.close().unwrap();
    let log = open(&dir, cfg);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (2, 2));
}
