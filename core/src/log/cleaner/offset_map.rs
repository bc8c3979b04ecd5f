//! The offset map: each key of the dirty range and the offset of its latest record.
//!
//! Kafka's `SkimpyOffsetMap` stores a 16-byte MD5 of each key in a fixed buffer
//! (`log.cleaner.dedupe.buffer.size`) and accepts the small chance that two keys
//! collide, which would drop a live record. Weir stores whole keys instead: no
//! collision can ever lose data, at the price of memory proportional to the key bytes.
//! The map therefore counts what it holds and the cleaner stops adding segments once
//! [`OffsetMap::memory_bytes`] passes its budget (the rest of the dirty range waits for
//! the next pass), as Kafka does when its buffer fills.

use std::collections::HashMap;

/// Approximate per-entry overhead of the hash map (box pointer and length, offset,
/// control byte and load-factor slack).
const ENTRY_OVERHEAD: usize = 48;

#[derive(Debug, Default)]
pub(super) struct OffsetMap {
    latest: HashMap<Box<[u8]>, i64>,
    memory: usize,
}

impl OffsetMap {
    /// Records that `key` was written at `offset`; offsets only ever move forward.
    pub(super) fn insert(&mut self, key: &[u8], offset: i64) {
        if let Some(latest) = self.latest.get_mut(key) {
            *latest = (*latest).max(offset);
            return;
        }
        self.memory += key.len() + ENTRY_OVERHEAD;
        self.latest.insert(key.into(), offset);
    }

    /// The offset of the latest record with `key` in the dirty range.
    pub(super) fn latest(&self, key: &[u8]) -> Option<i64> {
        self.latest.get(key).copied()
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.memory
    }

    pub(super) fn len(&self) -> usize {
        self.latest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_and_counts_memory() {
        let mut map = OffsetMap::default();
        map.insert(b"a", 5);
        map.insert(b"a", 3);
        map.insert(b"bb", 4);
        assert_eq!(map.latest(b"a"), Some(5));
        assert_eq!(map.latest(b"bb"), Some(4));
        assert_eq!(map.latest(b"c"), None);
        assert_eq!(map.len(), 2);
        assert_eq!(map.memory_bytes(), 3 + 2 * ENTRY_OVERHEAD);
    }
}
