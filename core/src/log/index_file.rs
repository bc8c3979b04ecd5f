//! A memory-mapped file of fixed-size entries: the storage shared by the offset and time
//! indexes. The active segment's index is preallocated (so appends never grow the file)
//! and trimmed to its used size when the segment stops being active, as Kafka does.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use super::error::LogError;
use super::fs;

#[derive(Debug)]
pub(crate) struct IndexFile {
    path: PathBuf,
    file: File,
    /// `None` when the file is empty: a zero-length mapping is not portable.
    mmap: Option<MmapMut>,
    entry_size: usize,
    entries: usize,
    /// The file length was not a whole number of entries when opened.
    ragged: bool,
}

/// Maps `len` bytes of `file` read-write.
#[allow(unsafe_code)]
fn map(file: &File, len: usize) -> io::Result<MmapMut> {
    // SAFETY: memmap2 is unsafe because another process (or this one) could truncate or
    // rewrite the file while it is mapped. Index files live in a partition directory
    // owned by this broker process and by one `Log` in it; the only code that changes
    // their length (`IndexFile::resize`) drops the mapping first, and all access to the
    // mapping goes through bounds-checked slices of at most `len` bytes.
    unsafe { MmapOptions::new().len(len).map_mut(file) }
}

impl IndexFile {
    /// Opens or creates `path`, treating every whole entry in the file as used.
    pub(crate) fn open(path: &Path, entry_size: usize) -> Result<IndexFile, LogError> {
        let file = fs::open_rw(path)?;
        let len = fs::len(&file, path)?;
        let mut index = IndexFile {
            path: path.to_owned(),
            file,
            mmap: None,
            entry_size,
            entries: (len / entry_size as u64) as usize,
            ragged: len % entry_size as u64 != 0,
        };
        index.remap(len)?;
        Ok(index)
    }

    fn remap(&mut self, len: u64) -> Result<(), LogError> {
        self.mmap = None;
        if len > 0 {
            let len = usize::try_from(len).map_err(|_| {
                LogError::io(
                    format!("mapping {}", self.path.display()),
                    io::Error::other("index larger than the address space"),
                )
            })?;
            let mmap = map(&self.file, len)
                .map_err(|e| LogError::io(format!("mapping {}", self.path.display()), e))?;
            self.mmap = Some(mmap);
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn is_ragged(&self) -> bool {
        self.ragged
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// Entries that fit in the file as currently sized.
    pub(crate) fn capacity(&self) -> usize {
        self.mmap.as_ref().map_or(0, |m| m.len() / self.entry_size)
    }

    pub(crate) fn entry(&self, i: usize) -> &[u8] {
        let mmap = self
            .mmap
            .as_ref()
            .expect("entry index within a mapped file");
        &mmap[i * self.entry_size..(i + 1) * self.entry_size]
    }

    /// Appends an entry; the caller checks capacity first.
    ///
    /// The entry is written with `pwrite`, not through the mapping (the page cache
    /// keeps both coherent): the preallocated file is sparse, and a store into a hole
    /// on a full disk raises SIGBUS and kills the broker, where a write fails with
    /// `ENOSPC`. An entry that cannot be written is skipped; the index is sparse anyway,
    /// so lookups stay correct and only scan further.
    pub(crate) fn push(&mut self, entry: &[u8]) {
        debug_assert_eq!(entry.len(), self.entry_size);
        assert!(self.entries < self.capacity(), "push into a full index");
        let at = (self.entries * self.entry_size) as u64;
        match fs::write_all_at(&self.file, &self.path, entry, at) {
            Ok(()) => self.entries += 1,
            Err(error) => tracing::warn!(%error, "skipping an index entry"),
        }
    }

    /// Forgets every entry (before a rebuild).
    pub(crate) fn clear(&mut self) {
        self.entries = 0;
        self.ragged = false;
    }

    /// Resizes the file to `bytes` rounded down to whole entries, never below the used
    /// size. The mapping is dropped before the file changes length.
    pub(crate) fn resize(&mut self, bytes: u64) -> Result<(), LogError> {
        let entry = self.entry_size as u64;
        let len = (bytes / entry * entry).max(self.entries as u64 * entry);
        let current = self.mmap.as_ref().map_or(0, |m| m.len() as u64);
        if len == current && !self.ragged {
            return Ok(());
        }
        self.mmap = None;
        fs::set_len(&self.file, &self.path, len)?;
        self.ragged = false;
        self.remap(len)
    }

    /// Shrinks the file to the entries in use.
    pub(crate) fn trim(&mut self) -> Result<(), LogError> {
        self.resize((self.entries * self.entry_size) as u64)
    }

    /// Writes dirty pages and the file's metadata to disk.
    pub(crate) fn flush(&self) -> Result<(), LogError> {
        if let Some(mmap) = &self.mmap {
            mmap.flush()
                .map_err(|e| LogError::io(format!("msync of {}", self.path.display()), e))?;
        }
        fs::sync(&self.file, &self.path)
    }
}
