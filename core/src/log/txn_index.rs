//! The aborted-transaction index of a segment (`<base offset>.txnindex`), so a
//! read_committed fetch learns which transactions to drop without reading the log.
//! One entry is appended for each ABORT marker written to the segment. Kafka's format,
//! 34 bytes per entry, big-endian:
//!
//! ```text
//! version: i16 (0), producerId: i64, firstOffset: i64,
//! lastOffset: i64 (the marker), lastStableOffset: i64 (after the marker)
//! ```
//!
//! The file is created with the first entry, as Kafka does. Entries are few (one per
//! aborted transaction), so they are also kept in memory; a trailing partial entry
//! (a torn write) is ignored and overwritten.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::LogError;
use super::fs;

pub(crate) const TXN_INDEX_SUFFIX: &str = ".txnindex";
const ENTRY_SIZE: usize = 34;
const VERSION: i16 = 0;

/// An aborted transaction as a fetch response reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut out = [0u8; ENTRY_SIZE];
        out[0..2].copy_from_slice(&VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        if i16::from_be_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// The entries of a `.txnindex` file's bytes, up to the first that does not parse
/// (or a partial trailing one).
pub(crate) fn decode_entries(bytes: &[u8]) -> Vec<AbortedTxn> {
    bytes
        .chunks_exact(ENTRY_SIZE)
        .map_while(AbortedTxn::decode)
        .collect()
}

#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    file: Option<File>,
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// Loads the index if the file exists. Entries that do not parse end it.
    pub(crate) fn open(path: &Path) -> Result<TxnIndex, LogError> {
        let mut entries = Vec::new();
        let mut file = None;
        if fs::exists(path) {
            entries = decode_entries(&fs::read(path)?.unwrap_or_default());
            file = Some(fs::open_rw(path)?);
        }
        let mut index = TxnIndex {
            path: path.to_owned(),
            file,
            entries,
        };
        if let Some(file) = &index.file {
            let len = fs::len(file, &index.path)?;
            if len != (index.entries.len() * ENTRY_SIZE) as u64 {
                index.rewrite()?;
            }
        }
        Ok(index)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    pub(crate) fn append(&mut self, entry: AbortedTxn) -> Result<(), LogError> {
        if self.file.is_none() {
            self.file = Some(fs::open_rw(&self.path)?);
        }
        let file = self.file.as_ref().expect("opened above");
        let at = (self.entries.len() * ENTRY_SIZE) as u64;
        fs::write_all_at(file, &self.path, &entry.encode(), at)?;
        self.entries.push(entry);
        Ok(())
    }

    /// Drops the entries of markers at or beyond `offset`.
    pub(crate) fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        let keep = self
            .entries
            .iter()
            .take_while(|e| e.last_offset < offset)
            .count();
        if keep == self.entries.len() {
            return Ok(());
        }
        self.entries.truncate(keep);
        self.rewrite()
    }

    fn rewrite(&mut self) -> Result<(), LogError> {
        if let Some(file) = &self.file {
            fs::set_len(file, &self.path, (self.entries.len() * ENTRY_SIZE) as u64)?;
        }
        Ok(())
    }

    pub(crate) fn flush(&self) -> Result<(), LogError> {
        match &self.file {
            Some(file) => fs::sync(file, &self.path),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: 1,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        }
    }

    #[test]
    fn entries_survive_reopen_truncation_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut index = TxnIndex::open(&path).unwrap();
        assert!(!path.exists(), "created lazily");
        index.append(txn(0, 5)).unwrap();
        index.append(txn(6, 9)).unwrap();
        index.append(txn(3, 12)).unwrap();
        drop(index);
        let mut bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 3 * ENTRY_SIZE);
        bytes.extend_from_slice(&[0, 0, 1]);
        std::fs::write(&path, &bytes).unwrap();
        let mut index = TxnIndex::open(&path).unwrap();
        assert_eq!(index.entries().len(), 3);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            3 * ENTRY_SIZE as u64
        );
        index.truncate_to(9).unwrap();
        assert_eq!(index.entries(), &[txn(0, 5)]);
        index.append(txn(7, 8)).unwrap();
        drop(index);
        assert_eq!(
            TxnIndex::open(&path).unwrap().entries(),
            &[txn(0, 5), txn(7, 8)]
        );
    }
}
