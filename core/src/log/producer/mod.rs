//! Per-partition producer state (Kafka's `ProducerStateManager`): which idempotent and
//! transactional producers have written here, their epochs and last sequences, and
//! which transactions are open. It decides whether a batch is the next in its
//! producer's sequence, a retry of one already appended (answered with the original
//! offsets), or out of order; and it gives the last stable offset, below which every
//! transaction is decided.
//!
//! The state is rebuilt at open from the newest `.snapshot` file and a replay of the
//! batch headers after it (`snapshot`), so neither a restart nor a SIGKILL lets a
//! retried batch in twice. Snapshots are written when a segment rolls and at close.

mod entry;
pub(crate) mod snapshot;

use std::collections::{BTreeMap, HashMap};

pub(crate) use entry::increment_sequence;
pub use entry::{BatchMetadata, ProducerEntry};

use super::batch::control::EndTxnMarker;
use super::batch::RecordBatchHeader;
use super::error::LogError;

/// A transaction ended on this partition, as the aborted-transaction index records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    pub aborted: bool,
}

/// What the producer check says about one client batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Append it.
    Append,
    /// A retry of a batch already in the log, at these offsets: answer with them.
    Duplicate(BatchMetadata),
}

/// The state of every producer of one partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions by first offset: the first is the last stable offset.
    ongoing: BTreeMap<i64, i64>,
}

/// The changes an append will make, computed before it is written and applied only
/// after the write succeeded.
#[derive(Debug, Default)]
pub(crate) struct PendingAppend {
    updated: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    pub(crate) fn producers(&self) -> impl Iterator<Item = &ProducerEntry> {
        self.producers.values()
    }

    #[cfg(test)]
    pub(crate) fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// The first offset of the oldest open transaction; `None` when none is open (the
    /// last stable offset is then the high watermark).
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Checks a client batch that would be appended at `first_offset..=last_offset`,
    /// seeing the effects of the append's earlier batches in `pending`. Kafka's rules:
    /// an older epoch is fenced; a new epoch must start at sequence 0; within an epoch
    /// the batch must follow the last sequence (a producer this partition knows nothing
    /// of — new, expired or deleted by retention — may start anywhere); a producer with
    /// an open transaction may only write transactionally.
    ///
    /// A coordinator's write (`check_sequence` false: transactional offset commits,
    /// which carry no sequence) is checked for its epoch only.
    pub(crate) fn check_batch(
        &self,
        header: &RecordBatchHeader,
        first_offset: i64,
        last_offset: i64,
        check_sequence: bool,
        pending: &mut PendingAppend,
    ) -> Result<Verdict, LogError> {
        let producer_id = header.producer_id;
        if producer_id < 0 {
            if header.is_transactional() {
                return Err(LogError::InvalidTxnState {
                    producer_id,
                    reason: "a transactional batch needs a producer id".into(),
                });
            }
            return Ok(Verdict::Append);
        }
        let epoch = header.producer_epoch;
        let first_sequence = header.base_sequence;
        let last_sequence = increment_sequence(first_sequence, header.last_offset_delta);
        let current = pending
            .updated
            .get(&producer_id)
            .or_else(|| self.producers.get(&producer_id));
        let mut entry = current
            .cloned()
            .unwrap_or_else(|| ProducerEntry::new(producer_id));
        if check_sequence {
            if let Some(duplicate) = entry.find_duplicate(epoch, first_sequence, last_sequence) {
                return Ok(Verdict::Duplicate(duplicate));
            }
        }
        if epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: entry.epoch,
            });
        }
        if !check_sequence {
            // Sequences are the producer's; a coordinator's write has none.
            entry.maybe_update_epoch(epoch);
            entry.last_timestamp = header.max_timestamp;
        } else if epoch != entry.epoch {
            // A bumped epoch restarts sequences; a producer seen with no epoch yet
            // (only markers, or nothing) may start anywhere.
            if first_sequence != 0 && entry.epoch >= 0 {
                return Err(LogError::OutOfOrderSequence {
                    producer_id,
                    expected: 0,
                    found: first_sequence,
                });
            }
        } else {
            // Within an epoch sequences continue, across transactions too; an epoch
            // known only from a marker starts at 0.
            let expected = increment_sequence(entry.last_sequence(), 1);
            if first_sequence != expected {
                return Err(LogError::OutOfOrderSequence {
                    producer_id,
                    expected,
                    found: first_sequence,
                });
            }
        }
        if header.is_transactional() {
            entry.current_txn_first_offset.get_or_insert(first_offset);
        } else if entry.current_txn_first_offset.is_some() {
            return Err(LogError::InvalidTxnState {
                producer_id,
                reason: "a non-transactional batch while the producer's transaction is open".into(),
            });
        }
        if check_sequence {
            entry.add_batch(
                epoch,
                BatchMetadata {
                    first_sequence,
                    last_sequence,
                    first_offset,
                    last_offset,
                    timestamp: header.max_timestamp,
                },
            );
        }
        pending.updated.insert(producer_id, entry);
        Ok(Verdict::Append)
    }

    /// Checks a transaction marker the coordinator is about to write: the producer's
    /// epoch and the coordinator's must not have moved past the marker's.
    pub(crate) fn check_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        marker: EndTxnMarker,
    ) -> Result<(), LogError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id,
                epoch,
                current: entry.epoch,
            });
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(LogError::CoordinatorFenced {
                producer_id,
                coordinator_epoch: marker.coordinator_epoch,
                current: entry.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Applies the checked changes of an append that is now in the log.
    pub(crate) fn apply(&mut self, pending: PendingAppend) {
        for (producer_id, entry) in pending.updated {
            if let Some(first) = entry.current_txn_first_offset {
                self.ongoing.insert(first, producer_id);
            }
            self.producers.insert(producer_id, entry);
        }
    }

    /// Replays a stored batch (recovery, truncation): no checks, the log is the truth.
    /// Returns the transaction a marker completed.
    pub(crate) fn replay(
        &mut self,
        header: &RecordBatchHeader,
        marker: Option<EndTxnMarker>,
    ) -> Option<CompletedTxn> {
        if header.producer_id < 0 {
            return None;
        }
        if header.is_control() {
            let marker = marker?;
            return self.apply_marker(
                header.producer_id,
                header.producer_epoch,
                marker,
                header.base_offset,
                header.max_timestamp,
            );
        }
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry::new(header.producer_id));
        if header.base_sequence < 0 {
            // A coordinator's write (transactional offsets) carries no sequence.
            entry.maybe_update_epoch(header.producer_epoch);
            entry.last_timestamp = header.max_timestamp;
        } else {
            entry.add_batch(
                header.producer_epoch,
                BatchMetadata {
                    first_sequence: header.base_sequence,
                    last_sequence: increment_sequence(
                        header.base_sequence,
                        header.last_offset_delta,
                    ),
                    first_offset: header.base_offset,
                    last_offset: header.last_offset(),
                    timestamp: header.max_timestamp,
                },
            );
        }
        if header.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(header.base_offset);
            self.ongoing.insert(header.base_offset, header.producer_id);
        }
        None
    }

    /// Records a marker appended at `offset`; returns the transaction it ended, if the
    /// producer had one open here.
    pub(crate) fn apply_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        marker: EndTxnMarker,
        offset: i64,
        timestamp: i64,
    ) -> Option<CompletedTxn> {
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::new(producer_id));
        entry.maybe_update_epoch(epoch);
        entry.coordinator_epoch = marker.coordinator_epoch;
        entry.last_timestamp = timestamp;
        let first_offset = entry.current_txn_first_offset.take()?;
        self.ongoing.remove(&first_offset);
        Some(CompletedTxn {
            producer_id,
            first_offset,
            last_offset: offset,
            aborted: !marker.control_type.is_commit(),
        })
    }

    /// Forgets producers with no open transaction whose last write is older than
    /// `producer.id.expiration.ms`. Returns how many.
    pub(crate) fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, entry| {
            entry.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(entry.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Loads a snapshot's entries, replacing the current state.
    pub(crate) fn restore(&mut self, entries: Vec<ProducerEntry>) {
        self.producers.clear();
        self.ongoing.clear();
        for entry in entries {
            if let Some(first) = entry.current_txn_first_offset {
                self.ongoing.insert(first, entry.producer_id);
            }
            self.producers.insert(entry.producer_id, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::control::ControlType;
    use crate::log::batch::RecordBatchBuilder;

    fn header(producer_id: i64, epoch: i16, sequence: i32, records: i32) -> RecordBatchHeader {
        let mut builder = RecordBatchBuilder::new().producer(producer_id, epoch, sequence);
        for _ in 0..records {
            builder.push(1, None, Some(b"v"));
        }
        RecordBatchHeader::parse(&builder.build()).unwrap()
    }

    fn append(
        state: &mut ProducerStateManager,
        header: &RecordBatchHeader,
        at: i64,
    ) -> Result<Verdict, LogError> {
        let mut pending = PendingAppend::default();
        let verdict = state.check_batch(
            header,
            at,
            at + i64::from(header.last_offset_delta),
            true,
            &mut pending,
        )?;
        state.apply(pending);
        Ok(verdict)
    }

    #[test]
    fn sequences_must_follow_and_retries_get_their_first_offsets() {
        let mut state = ProducerStateManager::default();
        assert!(matches!(
            append(&mut state, &header(7, 0, 0, 3), 0),
            Ok(Verdict::Append)
        ));
        assert!(matches!(
            append(&mut state, &header(7, 0, 3, 2), 3),
            Ok(Verdict::Append)
        ));
        match append(&mut state, &header(7, 0, 0, 3), 5) {
            Ok(Verdict::Duplicate(batch)) => {
                assert_eq!((batch.first_offset, batch.last_offset), (0, 2))
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
        assert!(matches!(
            append(&mut state, &header(7, 0, 9, 1), 5),
            Err(LogError::OutOfOrderSequence {
                expected: 5,
                found: 9,
                ..
            })
        ));
        assert!(matches!(
            append(&mut state, &header(7, 0, 5, 1), 5),
            Ok(Verdict::Append)
        ));
    }

    #[test]
    fn an_older_epoch_is_fenced_and_a_new_one_starts_at_zero() {
        let mut state = ProducerStateManager::default();
        append(&mut state, &header(7, 2, 0, 1), 0).unwrap();
        assert!(matches!(
            append(&mut state, &header(7, 1, 1, 1), 1),
            Err(LogError::InvalidProducerEpoch {
                epoch: 1,
                current: 2,
                ..
            })
        ));
        assert!(matches!(
            append(&mut state, &header(7, 3, 4, 1), 1),
            Err(LogError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert!(matches!(
            append(&mut state, &header(7, 3, 0, 1), 1),
            Ok(Verdict::Append)
        ));
    }

    #[test]
    fn an_unknown_producer_may_start_at_any_sequence() {
        let mut state = ProducerStateManager::default();
        assert!(matches!(
            append(&mut state, &header(9, 0, 40, 1), 0),
            Ok(Verdict::Append)
        ));
        assert_eq!(state.get(9).unwrap().last_sequence(), 40);
    }

    #[test]
    fn nothing_changes_until_the_append_is_applied() {
        let state = ProducerStateManager::default();
        let mut pending = PendingAppend::default();
        state
            .check_batch(&header(7, 0, 0, 1), 0, 0, true, &mut pending)
            .unwrap();
        // The second batch of the same append sees the first.
        assert!(state
            .check_batch(&header(7, 0, 2, 1), 1, 1, true, &mut pending)
            .is_err());
        assert!(state.get(7).is_none());
    }

    fn transactional(producer_id: i64, epoch: i16, sequence: i32) -> RecordBatchHeader {
        let mut bytes = RecordBatchBuilder::new().producer(producer_id, epoch, sequence);
        bytes.push(1, None, Some(b"v"));
        let mut bytes = bytes.build().to_vec();
        let attributes = i16::from_be_bytes([bytes[21], bytes[22]]) | 0x10;
        bytes[21..23].copy_from_slice(&attributes.to_be_bytes());
        RecordBatchHeader::parse(&bytes).unwrap()
    }

    #[test]
    fn open_transactions_hold_the_last_stable_offset_until_their_marker() {
        let mut state = ProducerStateManager::default();
        append(&mut state, &transactional(1, 0, 0), 10).unwrap();
        append(&mut state, &transactional(2, 0, 0), 11).unwrap();
        append(&mut state, &transactional(1, 0, 1), 12).unwrap();
        assert_eq!(state.first_unstable_offset(), Some(10));
        assert!(matches!(
            append(&mut state, &header(1, 0, 2, 1), 13),
            Err(LogError::InvalidTxnState { .. })
        ));
        let marker = |control_type| EndTxnMarker {
            control_type,
            coordinator_epoch: 0,
        };
        let done = state.apply_marker(1, 0, marker(ControlType::Abort), 13, 5);
        assert_eq!(
            done,
            Some(CompletedTxn {
                producer_id: 1,
                first_offset: 10,
                last_offset: 13,
                aborted: true
            })
        );
        assert_eq!(state.first_unstable_offset(), Some(11));
        let done = state.apply_marker(2, 0, marker(ControlType::Commit), 14, 5);
        assert!(!done.unwrap().aborted);
        assert_eq!(state.first_unstable_offset(), None);
        // A marker for a producer with nothing open ends nothing.
        assert_eq!(
            state.apply_marker(2, 0, marker(ControlType::Commit), 15, 5),
            None
        );
        assert!(state
            .check_marker(2, -1, marker(ControlType::Abort))
            .is_err());
    }

    #[test]
    fn a_coordinators_write_is_checked_for_its_epoch_only() {
        let mut state = ProducerStateManager::default();
        append(&mut state, &header(4, 1, 0, 1), 0).unwrap();
        let offsets = transactional(4, 1, -1);
        let mut pending = PendingAppend::default();
        let verdict = state.check_batch(&offsets, 1, 1, false, &mut pending);
        assert!(matches!(verdict, Ok(Verdict::Append)));
        state.apply(pending);
        assert_eq!(state.first_unstable_offset(), Some(1));
        let mut pending = PendingAppend::default();
        assert!(matches!(
            state.check_batch(&transactional(4, 0, -1), 2, 2, false, &mut pending),
            Err(LogError::InvalidProducerEpoch { .. })
        ));
    }

    #[test]
    fn expiration_keeps_producers_with_open_transactions() {
        let mut state = ProducerStateManager::default();
        append(&mut state, &header(1, 0, 0, 1), 0).unwrap();
        append(&mut state, &transactional(2, 0, 0), 1).unwrap();
        assert_eq!(state.remove_expired(1_000_000, 1_000), 1);
        assert!(state.get(1).is_none() && state.get(2).is_some());
    }
}
