//! Producer state and transactions in the log: duplicates answered with their first
//! offsets across restarts (clean and crashed), sequence and epoch errors, markers,
//! the last stable offset and the aborted-transaction index, truncation.

use bytes::Bytes;
use weir_core::log::batch::control::{ControlType, EndTxnMarker};
use weir_core::log::batch::{BatchIter, RecordBatchBuilder};
use weir_core::log::{AbortedTxn, Log, LogConfig, LogError};

const NOW: i64 = 1_700_000_000_000;

fn batch(
    producer_id: i64,
    epoch: i16,
    sequence: i32,
    records: usize,
    transactional: bool,
) -> Bytes {
    let mut builder = RecordBatchBuilder::new().producer(producer_id, epoch, sequence);
    if transactional {
        builder = builder.transactional();
    }
    for i in 0..records {
        builder.push(NOW, Some(format!("k{i}").as_bytes()), Some(b"value"));
    }
    builder.build()
}

fn marker(control_type: ControlType) -> EndTxnMarker {
    EndTxnMarker {
        control_type,
        coordinator_epoch: 0,
    }
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        ..LogConfig::default()
    }
}

#[test]
fn a_retried_batch_gets_its_first_offsets_and_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(&dir.path().join("t-0"), LogConfig::default(), NOW).unwrap();
    let first = log.append(batch(7, 0, 0, 3, false), NOW).unwrap();
    let second = log.append(batch(7, 0, 3, 2, false), NOW).unwrap();
    let retry = log.append(batch(7, 0, 0, 3, false), NOW).unwrap();
    assert!(retry.duplicate && !first.duplicate);
    assert_eq!((retry.base_offset, retry.last_offset), (0, 2));
    assert_eq!(second.base_offset, 3);
    assert_eq!(log.log_end_offset(), 5, "nothing written for the retry");
    assert!(matches!(
        log.append(batch(7, 0, 9, 1, false), NOW),
        Err(LogError::OutOfOrderSequence {
            expected: 5,
            found: 9,
            ..
        })
    ));
    assert!(matches!(
        log.append(batch(7, -1, 5, 1, false), NOW),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    assert_eq!(log.log_end_offset(), 5, "refused batches leave no trace");
}

#[test]
fn retries_are_recognised_after_a_clean_restart_and_after_a_crash() {
    for crash in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-0");
        let mut log = Log::open(&path, small_segments(), NOW).unwrap();
        let mut sequence = 0;
        let mut offsets = Vec::new();
        // Enough batches to roll several segments (snapshots at each roll).
        for _ in 0..12 {
            offsets.push(log.append(batch(3, 0, sequence, 2, false), NOW).unwrap());
            sequence += 2;
        }
        assert!(log.segment_count() > 2);
        if crash {
            // Dropping without close: no clean-shutdown marker, no closing snapshot.
            drop(log);
        } else {
            log.close().unwrap();
        }
        let mut log = Log::open(&path, small_segments(), NOW).unwrap();
        let last = offsets.last().unwrap();
        let retry = log
            .append(batch(3, 0, sequence - 2, 2, false), NOW)
            .unwrap();
        assert!(retry.duplicate, "crash={crash}");
        assert_eq!(retry.base_offset, last.base_offset);
        let next = log.append(batch(3, 0, sequence, 2, false), NOW).unwrap();
        assert_eq!(next.base_offset, last.last_offset + 1, "crash={crash}");
        assert!(matches!(
            log.append(batch(3, 0, sequence + 5, 1, false), NOW),
            Err(LogError::OutOfOrderSequence { .. })
        ));
    }
}

#[test]
fn a_crash_retry_of_any_of_the_last_five_batches_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t-0");
    let mut log = Log::open(&path, LogConfig::default(), NOW).unwrap();
    for i in 0..5 {
        log.append(batch(1, 0, i, 1, false), NOW).unwrap();
    }
    drop(log);
    let mut log = Log::open(&path, LogConfig::default(), NOW).unwrap();
    for i in 0..5 {
        let retry = log.append(batch(1, 0, i, 1, false), NOW).unwrap();
        assert!(retry.duplicate);
        assert_eq!(retry.base_offset, i64::from(i));
    }
}

#[test]
fn open_transactions_hold_the_last_stable_offset_and_aborts_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t-0");
    let mut log = Log::open(&path, LogConfig::default(), NOW).unwrap();
    log.append(batch(-1, -1, -1, 2, false), NOW).unwrap(); // 0-1 plain
    log.append(batch(10, 0, 0, 2, true), NOW).unwrap(); // 2-3 txn A
    log.append(batch(11, 0, 0, 1, true), NOW).unwrap(); // 4 txn B
    assert_eq!(log.last_stable_offset(), 2);
    assert_eq!(log.log_end_offset(), 5);
    assert!(matches!(
        log.append(batch(10, 0, 2, 1, false), NOW),
        Err(LogError::InvalidTxnState { .. })
    ));
    let abort = log
        .append_marker(10, 0, marker(ControlType::Abort), NOW)
        .unwrap(); // 5
    assert_eq!(abort.base_offset, 5);
    assert_eq!(log.last_stable_offset(), 4, "B is still open");
    log.append_marker(11, 0, marker(ControlType::Commit), NOW)
        .unwrap(); // 6
    assert_eq!(log.last_stable_offset(), 7);
    let aborted = vec![AbortedTxn {
        producer_id: 10,
        first_offset: 2,
        last_offset: 5,
        last_stable_offset: 4,
    }];
    assert_eq!(log.aborted_transactions(0, 7), aborted);
    assert_eq!(
        log.aborted_transactions(6, 7),
        vec![],
        "ended before the range"
    );
    // A read up to the last stable offset stops before open transactions.
    log.append(batch(12, 0, 0, 1, true), NOW).unwrap(); // 7 txn C
    let read = log.read(0, 1 << 20, log.last_stable_offset()).unwrap();
    let last = BatchIter::new(read).last().unwrap();
    assert_eq!(last.header.last_offset(), 6);
    assert!(last.header.is_control());
    // A stale epoch cannot write a marker.
    log.append_marker(12, 1, marker(ControlType::Abort), NOW)
        .unwrap();
    assert!(matches!(
        log.append_marker(12, 0, marker(ControlType::Commit), NOW),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    log.close().unwrap();

    // Everything comes back after a restart: open transactions, the index.
    let log = Log::open(&path, LogConfig::default(), NOW).unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    assert_eq!(log.aborted_transactions(0, 3).len(), 1);
    assert_eq!(log.aborted_transactions(0, 10).len(), 2);
}

#[test]
fn an_open_transaction_survives_a_crash_and_a_rolled_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t-0");
    let mut log = Log::open(&path, small_segments(), NOW).unwrap();
    log.append(batch(20, 0, 0, 2, true), NOW).unwrap();
    for i in 0..10 {
        log.append(batch(21, 0, i * 2, 2, false), NOW).unwrap();
    }
    assert!(log.segment_count() > 2);
    drop(log);
    let mut log = Log::open(&path, small_segments(), NOW).unwrap();
    assert_eq!(log.last_stable_offset(), 0, "the transaction is still open");
    log.append_marker(20, 0, marker(ControlType::Abort), NOW)
        .unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    assert_eq!(log.aborted_transactions(0, 2)[0].first_offset, 0);
    drop(log);
    let log = Log::open(&path, small_segments(), NOW).unwrap();
    assert_eq!(
        log.aborted_transactions(0, 2).len(),
        1,
        "rebuilt by the replay"
    );
}

#[test]
fn truncation_forgets_the_batches_it_removes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(&dir.path().join("t-0"), LogConfig::default(), NOW).unwrap();
    log.append(batch(5, 0, 0, 2, false), NOW).unwrap();
    log.append(batch(5, 0, 2, 2, false), NOW).unwrap();
    log.truncate_to(2, NOW).unwrap();
    // The removed batch is no duplicate any more: it is appended again.
    let again = log.append(batch(5, 0, 2, 2, false), NOW).unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.base_offset, 2);
}

#[test]
fn clients_cannot_write_control_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::open(&dir.path().join("t-0"), LogConfig::default(), NOW).unwrap();
    let forged =
        weir_core::log::batch::control::build_marker(1, 0, marker(ControlType::Commit), NOW);
    assert!(matches!(
        log.append(forged, NOW),
        Err(LogError::InvalidRecord { .. })
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn snapshots_are_written_in_kafka_naming_and_damaged_ones_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t-0");
    let mut log = Log::open(&path, LogConfig::default(), NOW).unwrap();
    log.append(batch(9, 0, 0, 1, false), NOW).unwrap();
    log.close().unwrap();
    let snapshot = path.join("00000000000000000001.snapshot");
    assert!(snapshot.exists());
    // A damaged snapshot is deleted and the state rebuilt from the log.
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&snapshot, bytes).unwrap();
    let mut log = Log::open(&path, LogConfig::default(), NOW).unwrap();
    assert!(log.append(batch(9, 0, 0, 1, false), NOW).unwrap().duplicate);
}
