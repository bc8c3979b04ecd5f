//! What a partition remembers of one producer: its epoch, its last few batches (to
//! answer a retried batch with the offsets it was first given) and its open
//! transaction.

use std::collections::VecDeque;

/// Batches remembered per producer: a producer has at most five requests in flight
/// per connection (`max.in.flight.requests.per.connection` ≤ 5 with idempotence), so
/// any batch it may retry is among its last five. Kafka's `NUM_BATCHES_TO_RETAIN`.
pub(crate) const BATCHES_RETAINED: usize = 5;

/// Sequence numbers wrap from `i32::MAX` to 0.
pub(crate) fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Sequence numbers wrap from 0 back to `i32::MAX`.
pub(crate) fn decrement_sequence(sequence: i32, decrement: i32) -> i32 {
    if sequence < decrement {
        i32::MAX - (decrement - sequence) + 1
    } else {
        sequence - decrement
    }
}

/// One appended batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The batch's max timestamp.
    pub timestamp: i64,
}

/// A producer's state on one partition (Kafka's `ProducerStateEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_id: i64,
    /// -1 until a batch or marker of the producer has been seen.
    pub epoch: i16,
    /// The last batches of the current epoch, oldest first.
    pub(crate) batches: VecDeque<BatchMetadata>,
    /// Epoch of the transaction coordinator that wrote the producer's last marker.
    pub coordinator_epoch: i32,
    /// Max timestamp of the producer's last batch or marker; expiration counts from it.
    pub last_timestamp: i64,
    /// First offset of the producer's open transaction on this partition.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    pub(crate) fn new(producer_id: i64) -> ProducerEntry {
        ProducerEntry {
            producer_id,
            epoch: -1,
            batches: VecDeque::with_capacity(BATCHES_RETAINED),
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: None,
        }
    }

    /// Sequence of the last record appended, -1 if none is remembered.
    pub fn last_sequence(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_sequence)
    }

    pub fn last_batch(&self) -> Option<&BatchMetadata> {
        self.batches.back()
    }

    /// A new epoch forgets the old epoch's batches: their sequences start again at 0.
    pub(crate) fn maybe_update_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
    }

    pub(crate) fn add_batch(&mut self, epoch: i16, batch: BatchMetadata) {
        self.maybe_update_epoch(epoch);
        if self.batches.len() == BATCHES_RETAINED {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp = batch.timestamp;
    }

    /// The remembered batch with exactly this epoch and sequence range: a retry.
    pub(crate) fn find_duplicate(
        &self,
        epoch: i16,
        first_sequence: i32,
        last_sequence: i32,
    ) -> Option<BatchMetadata> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_sequence == first_sequence && b.last_sequence == last_sequence)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
        assert_eq!(decrement_sequence(8, 3), 5);
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut entry = ProducerEntry::new(1);
        for i in 0..7 {
            entry.add_batch(
                0,
                BatchMetadata {
                    first_sequence: i * 10,
                    last_sequence: i * 10 + 9,
                    first_offset: i64::from(i) * 10,
                    last_offset: i64::from(i) * 10 + 9,
                    timestamp: 0,
                },
            );
        }
        assert_eq!(entry.batches.len(), BATCHES_RETAINED);
        assert!(entry.find_duplicate(0, 10, 19).is_none());
        assert_eq!(entry.find_duplicate(0, 20, 29).unwrap().first_offset, 20);
        assert!(entry.find_duplicate(1, 20, 29).is_none());
        entry.maybe_update_epoch(1);
        assert_eq!(entry.last_sequence(), -1);
    }
}
