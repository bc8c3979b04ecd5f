//! ListOffsets support: offset_for_timestamp and max_timestamp.

mod log_common;

use log_common::*;
use weir_core::log::LogConfig;

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after_it_across_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let cfg = LogConfig {
        segment_bytes: 600,
        index_interval_bytes: 100,
        ..config()
    };
    let mut log = open(&dir, cfg.clone());
    // Batch i holds records at 100i + 10, 100i + 50 (and out of order: 100i + 30).
    for i in 0..20 {
        log.append(
            batch_with(&[100 * i + 10, 100 * i + 50, 100 * i + 30], 5, 0),
            1,
        )
        .unwrap();
    }
    assert!(log.segment_count() > 3);
    let check = |log: &weir_core::log::Log| {
        assert_eq!(log.offset_for_timestamp(i64::MIN).unwrap(), Some((0, 10)));
        assert_eq!(log.offset_for_timestamp(10).unwrap(), Some((0, 10)));
        assert_eq!(log.offset_for_timestamp(11).unwrap(), Some((1, 50)));
        assert_eq!(log.offset_for_timestamp(51).unwrap(), Some((3, 110)));
        assert_eq!(log.offset_for_timestamp(1_025).unwrap(), Some((31, 1_050)));
        assert_eq!(log.offset_for_timestamp(1_950).unwrap(), Some((58, 1_950)));
        assert_eq!(log.offset_for_timestamp(1_951).unwrap(), None);
        assert_eq!(log.max_timestamp(), Some((1_950, 58)));
    };
    check(&log);
    log.close().unwrap();
    let log = open(&dir, cfg);
    check(&log);
}

#[test]
fn max_timestamp_is_the_first_record_carrying_the_largest_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        ..config()
    };
    let mut log = open(&partition_dir(&tmp), cfg);
    assert_eq!(log.max_timestamp(), None);
    log.append(batch_with(&[5, 900, 7], 5, 0), 1).unwrap();
    log.append(batch_with(&[1, 2], 5, 0), 1).unwrap();
    log.append(batch_with(&[900, 3], 5, 0), 1).unwrap();
    assert!(log.segment_count() > 1);
    assert_eq!(log.max_timestamp(), Some((900, 1)));
    log.append(batch_with(&[1, 2, 3, 901], 5, 0), 1).unwrap();
    assert_eq!(log.max_timestamp(), Some((901, 10)));
}

#[test]
fn compressed_batches_answer_with_their_first_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    log.append(batch_with(&[10, 20], 5, 0), 1).unwrap();
    // gzip attribute; contents opaque.
    log.append(batch_with(&[30, 50, 40], 5, 1), 1).unwrap();
    assert_eq!(log.offset_for_timestamp(45).unwrap(), Some((2, 50)));
    assert_eq!(log.max_timestamp(), Some((50, 2)));
}
