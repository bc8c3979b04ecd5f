//! The sparse time index (`.timeindex`): maps a timestamp to an offset from which to scan
//! for the first batch whose max timestamp reaches it.
//!
//! Entry (12 bytes): timestamp `i64` big-endian, then relative offset `u32` big-endian.
//! Timestamps are strictly increasing (an entry is only added when the segment's max
//! timestamp so far has grown), offsets non-decreasing. Each entry's offset is the last
//! offset of the batch that holds the max timestamp so far. When a segment stops being
//! active a final entry records its max timestamp, so the last entry tells a closed
//! segment's largest timestamp without reading its log.

use std::path::Path;

use super::error::LogError;
use super::index_file::IndexFile;

pub(crate) const ENTRY_SIZE: usize = 12;

#[derive(Debug)]
pub(crate) struct TimeIndex {
    file: IndexFile,
    base_offset: i64,
}

impl TimeIndex {
    pub(crate) fn open(path: &Path, base_offset: i64) -> Result<TimeIndex, LogError> {
        Ok(TimeIndex {
            file: IndexFile::open(path, ENTRY_SIZE)?,
            base_offset,
        })
    }

    pub(crate) fn file(&self) -> &IndexFile {
        &self.file
    }

    pub(crate) fn file_mut(&mut self) -> &mut IndexFile {
        &mut self.file
    }

    fn entry(&self, i: usize) -> (i64, i64) {
        let e = self.file.entry(i);
        let timestamp = i64::from_be_bytes(e[..8].try_into().expect("8 bytes"));
        let relative = u32::from_be_bytes(e[8..].try_into().expect("4 bytes"));
        (timestamp, self.base_offset + i64::from(relative))
    }

    pub(crate) fn last_entry(&self) -> Option<(i64, i64)> {
        self.file.entries().checked_sub(1).map(|i| self.entry(i))
    }

    /// One slot stays free for the entry written when the segment is rolled.
    pub(crate) fn is_full(&self) -> bool {
        self.file.entries() + 1 >= self.file.capacity()
    }

    /// The entry with the largest timestamp `<= target`, or (-1, base offset).
    pub(crate) fn lookup(&self, target: i64) -> (i64, i64) {
        let (mut lo, mut hi) = (0, self.file.entries());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid).0 <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
            .map_or((-1, self.base_offset), |i| self.entry(i))
    }

    /// Adds an entry if `timestamp` is beyond the last one and there is room.
    pub(crate) fn maybe_append(&mut self, timestamp: i64, offset: i64) {
        if self.last_entry().is_some_and(|(last, _)| timestamp <= last)
            || self.file.entries() >= self.file.capacity()
        {
            return;
        }
        let relative =
            u32::try_from(offset - self.base_offset).expect("offset within segment range");
        let mut entry = [0u8; ENTRY_SIZE];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&relative.to_be_bytes());
        self.file.push(&entry);
    }

    /// Whole entries, timestamps strictly and offsets weakly increasing, offsets below
    /// `next_offset_bound` (the next segment's base, if known).
    pub(crate) fn sanity_check(&self, next_offset_bound: Option<i64>) -> Result<(), String> {
        if self.file.is_ragged() {
            return Err("size is not a multiple of 12".into());
        }
        let mut previous: Option<(i64, i64)> = None;
        for i in 0..self.file.entries() {
            let (timestamp, offset) = self.entry(i);
            if let Some((pt, po)) = previous {
                if timestamp <= pt || offset < po {
                    return Err(format!(
                        "entry {i} ({timestamp}, {offset}) does not increase"
                    ));
                }
            }
            if next_offset_bound.is_some_and(|bound| offset >= bound) {
                return Err(format!(
                    "entry {i} points at offset {offset}, beyond the segment"
                ));
            }
            previous = Some((timestamp, offset));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_only_for_growing_timestamps_and_floor_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let mut index = TimeIndex::open(&path, 50).unwrap();
        index.file_mut().resize(12 * 4).unwrap();
        index.maybe_append(1_000, 55);
        index.maybe_append(900, 60); // older: ignored
        index.maybe_append(2_000, 70);
        assert!(!index.is_full());
        index.maybe_append(3_000, 80);
        assert!(index.is_full());
        assert_eq!(index.lookup(999), (-1, 50));
        assert_eq!(index.lookup(1_500), (1_000, 55));
        assert_eq!(index.lookup(5_000), (3_000, 80));
        assert_eq!(index.last_entry(), Some((3_000, 80)));
        assert!(index.sanity_check(Some(100)).is_ok());
        assert!(index.sanity_check(Some(80)).is_err());
    }
}
