//! Appending and reading: offsets assignment, the fetch rules, rolling and indexes.

mod log_common;

use bytes::Bytes;
use log_common::*;
use weir_core::log::batch::{compute_crc, RecordBatchBuilder};
use weir_core::log::{LogConfig, LogError, TimestampType};

#[test]
fn append_then_read_returns_the_same_bytes_with_offsets_assigned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    let produced = [batch(3, 100), batch(1, 200), batch(5, 300)];
    let mut expected_base = 0;
    for b in &produced {
        let info = log.append(b.clone(), 5_000).unwrap();
        assert_eq!(info.base_offset, expected_base);
        let n = headers(b)[0].records_count as i64;
        assert_eq!(info.last_offset, expected_base + n - 1);
        assert_eq!(info.record_count, n);
        assert_eq!(info.log_append_time, -1);
        expected_base += n;
    }
    assert_eq!(log.log_end_offset(), 9);
    let fetched = log.read(0, 1 << 20, log.log_end_offset()).unwrap();
    let hs = headers(&fetched);
    assert_eq!(
        hs.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        [0, 3, 4]
    );
    // Apart from the base offset, every byte is as produced: the CRC still holds.
    let mut pos = 0;
    for b in &produced {
        assert_eq!(&fetched[pos + 8..pos + b.len()], &b[8..]);
        let stored_crc = u32::from_be_bytes(fetched[pos + 17..pos + 21].try_into().unwrap());
        assert_eq!(compute_crc(&fetched[pos..pos + b.len()]), stored_crc);
        pos += b.len();
    }
    assert_eq!(pos, fetched.len());
}

#[test]
fn one_append_with_several_batches_gets_consecutive_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    log.append(batch(2, 1), 1).unwrap();
    let info = log
        .append(concat(&[batch(3, 10), batch(4, 20), batch(1, 30)]), 1)
        .unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.record_count),
        (2, 9, 8)
    );
    assert_eq!(info.max_timestamp, 30);
    let hs = read_all(&log, 0);
    assert_eq!(
        hs.iter()
            .map(|h| (h.base_offset, h.last_offset()))
            .collect::<Vec<_>>(),
        [(0, 1), (2, 4), (5, 8), (9, 9)]
    );
}

#[test]
fn read_starts_with_the_batch_containing_the_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    log.append(concat(&[batch(5, 1), batch(5, 2)]), 1).unwrap();
    for offset in 5..10 {
        let hs = headers(&log.read(offset, 1 << 20, 10).unwrap());
        assert_eq!(hs[0].base_offset, 5, "offset {offset}");
    }
    assert_eq!(
        headers(&log.read(4, 1 << 20, 10).unwrap())[0].base_offset,
        0
    );
}

#[test]
fn read_returns_at_least_one_whole_batch_and_otherwise_respects_max_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    let b = batch_with(&[1, 2, 3], 500, 0);
    let size = b.len();
    log.append(concat(&[b.clone(), b.clone(), b.clone()]), 1)
        .unwrap();
    let end = log.log_end_offset();
    assert_eq!(log.read(0, 1, end).unwrap().len(), size);
    assert_eq!(log.read(0, 0, end).unwrap().len(), size);
    assert_eq!(log.read(0, size * 2 - 1, end).unwrap().len(), size);
    assert_eq!(log.read(0, size * 2, end).unwrap().len(), size * 2);
    assert_eq!(log.read(0, usize::MAX, end).unwrap().len(), size * 3);
}

#[test]
fn read_never_returns_batches_at_or_beyond_the_upper_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    log.append(concat(&[batch(2, 1), batch(2, 2), batch(2, 3)]), 1)
        .unwrap();
    let ends = |hw| {
        headers(&log.read(0, 1 << 20, hw).unwrap())
            .iter()
            .map(|h| h.last_offset())
            .collect::<Vec<_>>()
    };
    assert_eq!(ends(0), Vec::<i64>::new());
    assert_eq!(
        ends(1),
        Vec::<i64>::new(),
        "a batch straddling the bound is withheld"
    );
    assert_eq!(ends(2), [1]);
    assert_eq!(ends(4), [1, 3]);
    assert_eq!(ends(6), [1, 3, 5]);
    // Even the at-least-one rule stops at the bound.
    assert!(log.read(2, 0, 2).unwrap().is_empty());
}

#[test]
fn reads_outside_the_log_are_out_of_range_and_the_end_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    assert!(log.read(0, 100, 0).unwrap().is_empty());
    log.append(batch(3, 1), 1).unwrap();
    assert!(log.read(3, 100, 3).unwrap().is_empty());
    assert!(matches!(
        log.read(4, 100, 3),
        Err(LogError::OffsetOutOfRange {
            requested: 4,
            start: 0,
            end: 3
        })
    ));
    assert!(matches!(
        log.read(-1, 100, 3),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn segments_roll_by_size_are_named_by_base_offset_and_read_across() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(4, 7);
    let cfg = LogConfig {
        segment_bytes: (b.len() * 3) as u64,
        ..config()
    };
    let mut log = open(&dir, cfg);
    for _ in 0..10 {
        log.append(b.clone(), 1).unwrap();
    }
    assert_eq!(log.segment_count(), 4);
    assert_eq!(
        files(&dir, ".log"),
        [
            "00000000000000000000.log",
            "00000000000000000012.log",
            "00000000000000000024.log",
            "00000000000000000036.log"
        ]
    );
    assert_eq!(files(&dir, ".index").len(), 4);
    assert_eq!(files(&dir, ".timeindex").len(), 4);
    assert_eq!(log.size_bytes(), (b.len() * 10) as u64);
    // One read crosses segment boundaries when the budget allows.
    let all = log.read(0, 1 << 20, 40).unwrap();
    assert_eq!(headers(&all).len(), 10);
    // Reads starting in any segment work.
    for offset in [0, 11, 12, 13, 30, 39] {
        let first = headers(&log.read(offset, 1, 40).unwrap())[0];
        assert_eq!(first.base_offset, offset / 4 * 4);
    }
    // Rolled segments' indexes are trimmed, the active one is preallocated.
    let len = |name: &str| std::fs::metadata(dir.join(name)).unwrap().len();
    assert_eq!(len("00000000000000000000.index"), 0);
    assert_eq!(len("00000000000000000036.index"), 10 * 1024 * 1024);
}

#[test]
fn index_entries_are_sparse_by_index_interval_bytes_and_point_at_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch_with(&[1, 2], 100, 0);
    let cfg = LogConfig {
        index_interval_bytes: (b.len() * 3) as u64,
        ..config()
    };
    let mut log = open(&dir, cfg);
    for _ in 0..40 {
        log.append(b.clone(), 1).unwrap();
    }
    log.close().unwrap();
    let entries = offset_index_entries(&dir.join("00000000000000000000.index"));
    // An entry when more than 3 batches' bytes have gone by: every 4th batch.
    assert_eq!(entries.len(), 9);
    for (i, &(relative, position)) in entries.iter().enumerate() {
        let batch_no = 4 * (i as u32 + 1);
        assert_eq!(position, batch_no * b.len() as u32);
        assert_eq!(
            relative,
            batch_no * 2 + 1,
            "entry holds the batch's last offset"
        );
    }
    let log = open(&dir, config());
    for offset in 0..80 {
        let first = headers(&log.read(offset, 1, 80).unwrap())[0];
        assert_eq!(first.base_offset, offset / 2 * 2);
    }
}

#[test]
fn a_full_index_rolls_the_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        index_interval_bytes: 0,
        segment_index_bytes: 8 * 4,
        ..config()
    };
    let mut log = open(&partition_dir(&tmp), cfg);
    for _ in 0..20 {
        log.append(batch(1, 1), 1).unwrap();
    }
    assert!(log.segment_count() > 1);
    assert_eq!(read_all(&log, 0).len(), 20);
}

#[test]
fn rejected_appends_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, config());
    log.append(batch(2, 1), 1).unwrap();
    let good = batch(3, 5);

    let mut crc = good.to_vec();
    let last = crc.len() - 1;
    crc[last] ^= 0x40;
    let mut magic1 = good.to_vec();
    magic1[16] = 1;
    let mut magic7 = good.to_vec();
    magic7[16] = 7;
    let mut long = good.to_vec();
    long[8..12].copy_from_slice(&(good.len() as i32).to_be_bytes());
    let mut short = good.to_vec();
    short[8..12].copy_from_slice(&30i32.to_be_bytes());
    let truncated = good.slice(..good.len() - 3);

    type Expect = fn(&LogError) -> bool;
    let cases: Vec<(&str, Bytes, Expect)> = vec![
        ("crc", crc.into(), |e| {
            matches!(e, LogError::CorruptRecord { .. })
        }),
        ("magic 1", magic1.into(), |e| {
            matches!(e, LogError::UnsupportedMagic { magic: 1 })
        }),
        ("magic 7", magic7.into(), |e| {
            matches!(e, LogError::CorruptRecord { .. })
        }),
        ("batchLength too long", long.into(), |e| {
            matches!(e, LogError::CorruptRecord { .. })
        }),
        ("batchLength too short", short.into(), |e| {
            matches!(e, LogError::CorruptRecord { .. })
        }),
        ("truncated", truncated.clone(), |e| {
            matches!(e, LogError::CorruptRecord { .. })
        }),
        (
            "good then truncated",
            concat(&[good.clone(), truncated]),
            |e| matches!(e, LogError::CorruptRecord { position, .. } if *position > 0),
        ),
        ("empty", Bytes::new(), |e| {
            matches!(e, LogError::CorruptRecord { .. })
        }),
        (
            "good then garbage",
            concat(&[good.clone(), Bytes::from_static(&[0; 5])]),
            |e| matches!(e, LogError::CorruptRecord { .. }),
        ),
    ];
    let size = log.size_bytes();
    for (name, bytes, expected) in cases {
        let err = log.append(bytes, 1).unwrap_err();
        assert!(expected(&err), "{name}: {err}");
        assert!(!err.is_storage_error());
        assert_eq!(log.log_end_offset(), 2, "{name}");
        assert_eq!(log.size_bytes(), size, "{name}");
    }
    let big = batch_with(&[1], 2_000, 0);
    let mut small_limit = log_common::config();
    small_limit.max_message_bytes = big.len() as u64 - 1;
    log.update_config(small_limit);
    assert!(matches!(
        log.append(big, 1),
        Err(LogError::RecordTooLarge { .. })
    ));
    drop(log);
    let log = open(&dir, config());
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.size_bytes(), size);
}

#[test]
fn log_append_time_rewrites_max_timestamp_and_keeps_the_crc_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..config()
    };
    let mut log = open(&partition_dir(&tmp), cfg);
    let info = log
        .append(
            concat(&[batch_with(&[10, 20], 5, 0), batch(1, 30)]),
            777_000,
        )
        .unwrap();
    assert_eq!(info.log_append_time, 777_000);
    assert_eq!(info.max_timestamp, 777_000);
    let fetched = log.read(0, 1 << 20, 3).unwrap();
    for b in weir_core::log::batch::BatchIter::new(fetched) {
        assert_eq!(b.header.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(b.header.max_timestamp, 777_000);
        assert_eq!(b.header.crc, compute_crc(&b.bytes));
    }
    assert_eq!(log.max_timestamp(), Some((777_000, 0)));
    assert_eq!(
        log.offset_for_timestamp(500_000).unwrap(),
        Some((0, 777_000))
    );
}

#[test]
fn compressed_batches_are_stored_and_served_as_produced() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    // Attributes say zstd; the log never looks inside.
    let b = batch_with(&[1, 2, 3], 8, 4);
    log.append(b.clone(), 1).unwrap();
    let fetched = log.read(0, 1 << 20, 3).unwrap();
    assert_eq!(&fetched[8..], &b[8..]);
    assert_eq!(headers(&fetched)[0].compression(), 4);
}

#[test]
fn builder_and_independent_encoder_agree() {
    let mut builder = RecordBatchBuilder::new();
    for (i, ts) in [5i64, 9, 7].iter().enumerate() {
        let key = format!("k{i}");
        builder.push(*ts, Some(key.as_bytes()), Some(b"vvv"));
    }
    let built = builder.build();
    let mut expected = batch_with(&[5, 9, 7], 3, 0).to_vec();
    // Only the leader epoch differs: the builder leaves it unset (-1).
    expected[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    let crc = compute_crc(&expected);
    expected[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(&built[..], &expected[..]);
}

#[test]
fn flush_messages_advances_the_recovery_point_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let cfg = LogConfig {
        flush_messages: 3,
        ..config()
    };
    let mut log = open(&dir, cfg);
    let checkpoint =
        || std::fs::read_to_string(dir.join("recovery-point-offset-checkpoint")).unwrap();
    assert_eq!(checkpoint(), "0\n1\norders 0 0\n");
    log.append(batch(2, 1), 1).unwrap();
    assert_eq!(checkpoint(), "0\n1\norders 0 0\n");
    log.append(batch(2, 1), 1).unwrap();
    assert_eq!(checkpoint(), "0\n1\norders 0 4\n");
    let mut by_time = log_common::config();
    by_time.flush_ms = 100;
    log.update_config(by_time);
    log.append(batch(1, 1), 50).unwrap();
    assert_eq!(checkpoint(), "0\n1\norders 0 4\n");
    log.append(batch(1, 1), 1_200).unwrap();
    assert_eq!(checkpoint(), "0\n1\norders 0 6\n");
}

#[test]
fn segment_ms_rolls_a_non_empty_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1_000,
        ..config()
    };
    let mut log = open(&partition_dir(&tmp), cfg);
    log.maybe_roll(10_000).unwrap();
    assert_eq!(log.segment_count(), 1, "an empty segment is not rolled");
    log.append(batch(1, 5_000), 5_000).unwrap();
    log.maybe_roll(5_900).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.maybe_roll(6_001).unwrap();
    assert_eq!(log.segment_count(), 2);
    // Appends roll too, judged by the first batch's timestamp.
    log.append(batch(1, 6_100), 6_100).unwrap();
    log.append(batch(1, 7_200), 7_200).unwrap();
    assert_eq!(log.segment_count(), 3);
}

#[test]
fn reads_across_segments_keep_the_upper_bound_and_the_byte_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let b = batch(2, 1);
    let cfg = LogConfig {
        segment_bytes: b.len() as u64,
        ..config()
    };
    let mut log = open(&partition_dir(&tmp), cfg);
    for _ in 0..6 {
        log.append(b.clone(), 1).unwrap();
    }
    assert_eq!(log.segment_count(), 6);
    let bases = |max_bytes, hw| {
        headers(&log.read(1, max_bytes, hw).unwrap())
            .iter()
            .map(|h| h.base_offset)
            .collect::<Vec<_>>()
    };
    assert_eq!(bases(usize::MAX, 12), [0, 2, 4, 6, 8, 10]);
    assert_eq!(bases(usize::MAX, 7), [0, 2, 4]);
    assert_eq!(bases(b.len() * 2, 12), [0, 2]);
    assert_eq!(bases(b.len() * 2 + 1, 12), [0, 2]);
    assert_eq!(bases(0, 12), [0]);
}

#[test]
fn replaying_old_data_rolls_by_the_data_time_not_the_wall_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1_000,
        ..config()
    };
    let mut log = open(&partition_dir(&tmp), cfg);
    let now = 1_000_000_000;
    for ts in [100, 400, 900, 1_150, 1_900, 2_200] {
        log.append(batch(1, ts), now).unwrap();
    }
    // Segments start at the batches timestamped 100, 1_150 (1_050 ms after 100) and
    // 2_200 (1_050 ms after 1_150), although the wall clock is far ahead of all of them.
    assert_eq!(log.segment_count(), 3);
}

#[test]
fn a_leader_append_stamps_the_leader_epoch_without_touching_the_crc() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&partition_dir(&tmp), config());
    let produced = concat(&[batch(2, 1), batch(3, 2)]);
    log.append_with_leader_epoch(produced.clone(), 7, 1)
        .unwrap();
    log.append(batch(1, 3), 1).unwrap();
    let fetched = log.read(0, 1 << 20, 6).unwrap();
    let batches: Vec<_> = weir_core::log::batch::BatchIter::new(fetched).collect();
    assert_eq!(
        batches
            .iter()
            .map(|b| b.header.partition_leader_epoch)
            .collect::<Vec<_>>(),
        [7, 7, 0]
    );
    for b in &batches {
        assert_eq!(b.header.crc, compute_crc(&b.bytes));
    }
}
