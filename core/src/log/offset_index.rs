//! The sparse offset index (`.index`): maps an offset to the byte position of a batch at
//! or before it in the segment's `.log`.
//!
//! Entry (8 bytes): relative offset `u32` big-endian (offset − segment base offset), then
//! physical position `u32` big-endian. Entries are strictly increasing in both fields.
//! As in Kafka, an entry's offset is the *last* offset of the batch starting at its
//! position, so a lookup must scan forward from the position to the first batch whose
//! last offset is at least the target.

use std::path::Path;

use super::error::LogError;
use super::index_file::IndexFile;

pub(crate) const ENTRY_SIZE: usize = 8;

#[derive(Debug)]
pub(crate) struct OffsetIndex {
    file: IndexFile,
    base_offset: i64,
}

impl OffsetIndex {
    pub(crate) fn open(path: &Path, base_offset: i64) -> Result<OffsetIndex, LogError> {
        Ok(OffsetIndex {
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

    fn entry(&self, i: usize) -> (i64, u32) {
        let e = self.file.entry(i);
        let relative = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let position = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
        (self.base_offset + i64::from(relative), position)
    }

    pub(crate) fn last_entry(&self) -> Option<(i64, u32)> {
        self.file.entries().checked_sub(1).map(|i| self.entry(i))
    }

    pub(crate) fn is_full(&self) -> bool {
        self.file.entries() >= self.file.capacity()
    }

    /// The entry with the largest offset `<= target`, or (base offset, 0).
    pub(crate) fn lookup(&self, target: i64) -> (i64, u32) {
        // First entry whose offset exceeds the target; the answer is the one before it.
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
            .map_or((self.base_offset, 0), |i| self.entry(i))
    }

    /// Adds an entry if `offset` is beyond the last one; the caller checks `is_full`.
    pub(crate) fn append(&mut self, offset: i64, position: u32) {
        if self.last_entry().is_some_and(|(last, _)| offset <= last) {
            return;
        }
        let relative =
            u32::try_from(offset - self.base_offset).expect("offset within segment range");
        let mut entry = [0u8; ENTRY_SIZE];
        entry[..4].copy_from_slice(&relative.to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.file.push(&entry);
    }

    /// Kafka's sanity check plus a bit more: whole entries, both fields strictly
    /// increasing, and the last position inside the log.
    pub(crate) fn sanity_check(&self, log_size: u64) -> Result<(), String> {
        if self.file.is_ragged() {
            return Err("size is not a multiple of 8".into());
        }
        let mut previous: Option<(i64, u32)> = None;
        for i in 0..self.file.entries() {
            let (offset, position) = self.entry(i);
            if let Some((po, pp)) = previous {
                if offset <= po || position <= pp {
                    return Err(format!(
                        "entry {i} ({offset}, {position}) does not increase"
                    ));
                }
            }
            if u64::from(position) >= log_size {
                return Err(format!(
                    "entry {i} points at byte {position}, beyond the log's {log_size} bytes"
                ));
            }
            previous = Some((offset, position));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_floor_entry_and_survives_trim_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut index = OffsetIndex::open(&path, 100).unwrap();
        index.file_mut().resize(80).unwrap();
        assert_eq!(index.file().capacity(), 10);
        assert_eq!(index.lookup(150), (100, 0));
        index.append(110, 4096);
        index.append(120, 8192);
        index.append(120, 9000); // not increasing: ignored
        index.append(135, 12288);
        assert_eq!(index.lookup(105), (100, 0));
        assert_eq!(index.lookup(110), (110, 4096));
        assert_eq!(index.lookup(134), (120, 8192));
        assert_eq!(index.lookup(1_000), (135, 12288));
        index.file_mut().trim().unwrap();
        drop(index);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24);
        let index = OffsetIndex::open(&path, 100).unwrap();
        assert_eq!(index.lookup(125), (120, 8192));
        assert!(index.sanity_check(20_000).is_ok());
        assert!(index.sanity_check(10_000).is_err());
    }

    #[test]
    fn zero_filled_preallocation_fails_the_sanity_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        std::fs::write(&path, [0u8; 64]).unwrap();
        let index = OffsetIndex::open(&path, 0).unwrap();
        assert!(index.sanity_check(1_000).is_err());
        std::fs::write(&path, [0u8; 13]).unwrap();
        let index = OffsetIndex::open(&path, 0).unwrap();
        assert!(index.sanity_check(1_000).is_err());
    }
}
