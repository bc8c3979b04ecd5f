//! Rescanning a segment's log at open: validating every batch, rebuilding the indexes,
//! truncating a torn tail; and the cheaper checks for segments that need none of that.

use std::fs::File;
use std::path::Path;

use super::Segment;
use crate::log::batch::{self, RecordBatchHeader, HEADER_SIZE};
use crate::log::config::LogConfig;
use crate::log::error::LogError;
use crate::log::fs;

/// Reads during recovery and scans go through a window this large, so a segment of small
/// batches costs a few large reads rather than two syscalls per batch.
const SCAN_CHUNK: usize = 1 << 20;

/// What a scan of a segment's log found.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Bytes cut off the end of the `.log`.
    pub(crate) truncated_bytes: u64,
    /// Why the scan stopped before the end, if it did.
    pub(crate) reason: Option<String>,
}

impl Segment {
    /// Rescans the whole log, checking every batch's header and CRC, rebuilding both
    /// indexes, and truncating the log at the first torn or corrupt batch. Leaves the
    /// indexes sized for appends; the caller trims them if the segment is not active.
    pub(crate) fn recover(&mut self, config: &LogConfig) -> Result<Recovered, LogError> {
        self.make_active(config)?;
        self.offset_index.file_mut().clear();
        self.time_index.file_mut().clear();
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.first_batch_timestamp = None;
        self.bytes_since_last_index_entry = 0;
        self.next_offset = Some(self.base_offset);
        self.index_missing = false;

        let mut window = Window::default();
        let mut pos = 0u64;
        let mut reason = None;
        while pos < self.size {
            let remaining = self.size - pos;
            if remaining < HEADER_SIZE as u64 {
                reason = Some(format!(
                    "{remaining} trailing bytes, less than a batch header"
                ));
                break;
            }
            let header_bytes =
                window.slice(&self.log.file, &self.log.path, pos, HEADER_SIZE, self.size)?;
            let header = RecordBatchHeader::parse(header_bytes).expect("HEADER_SIZE bytes");
            let total = header.total_size() as u64;
            if total < HEADER_SIZE as u64 || total > remaining {
                reason = Some(format!(
                    "batchLength {} with {remaining} bytes left in the file",
                    header.batch_length
                ));
                break;
            }
            let bytes = window.slice(
                &self.log.file,
                &self.log.path,
                pos,
                total as usize,
                self.size,
            )?;
            let header = match batch::check_stored(bytes) {
                Ok(header) => header,
                Err(why) => {
                    reason = Some(why);
                    break;
                }
            };
            let expected = self.next_offset.unwrap_or(self.base_offset);
            if header.base_offset < expected
                || header.last_offset() - self.base_offset > i64::from(u32::MAX)
            {
                reason = Some(format!(
                    "batch offsets {}..={} out of order (expected at least {expected})",
                    header.base_offset,
                    header.last_offset()
                ));
                break;
            }
            self.index_batch(&header, pos, config.index_interval_bytes);
            pos += total;
        }
        let truncated_bytes = self.size - pos;
        if truncated_bytes > 0 {
            self.truncate_log(pos)?;
        }
        Ok(Recovered {
            truncated_bytes,
            reason,
        })
    }

    /// Cheap checks of indexes loaded from disk; `Err` says why they must be rebuilt.
    pub(crate) fn sanity_check(&self, next_segment_base: Option<i64>) -> Result<(), String> {
        if self.index_missing {
            return Err(format!(
                "index files of {} missing",
                self.log.path.display()
            ));
        }
        // A closed segment's time index always ends with its max timestamp.
        if self.size > 0 && self.time_index.file().entries() == 0 {
            return Err(format!(
                "{} is empty",
                self.time_index.file().path().display()
            ));
        }
        self.offset_index
            .sanity_check(self.size)
            .map_err(|e| format!("{}: {e}", self.offset_index.file().path().display()))?;
        self.time_index
            .sanity_check(next_segment_base)
            .map_err(|e| format!("{}: {e}", self.time_index.file().path().display()))
    }

    /// For a segment opened without recovery: finds the offset after its last batch by
    /// scanning headers from the last offset index entry, and the first batch's
    /// timestamp. Headers only: data below the recovery point was fsynced.
    pub(crate) fn load_tail(&mut self) -> Result<(), LogError> {
        let mut pos = self
            .offset_index
            .last_entry()
            .map_or(0, |(_, p)| u64::from(p));
        let mut next = self.base_offset;
        let mut window = Window::default();
        let start = pos;
        while self.size - pos >= HEADER_SIZE as u64 {
            let bytes =
                window.slice(&self.log.file, &self.log.path, pos, HEADER_SIZE, self.size)?;
            let header = RecordBatchHeader::parse(bytes).expect("HEADER_SIZE bytes");
            let total = header.total_size() as u64;
            if total < HEADER_SIZE as u64 || total > self.size - pos {
                break;
            }
            next = header.last_offset() + 1;
            pos += total;
        }
        self.next_offset = Some(next);
        self.bytes_since_last_index_entry = self.size - start;
        if self.size >= HEADER_SIZE as u64 {
            let first = self.header_at(0)?;
            self.first_batch_timestamp = Some(first.max_timestamp);
        }
        Ok(())
    }
}

/// A read-ahead window over a file for sequential scans.
#[derive(Debug, Default)]
struct Window {
    start: u64,
    buf: Vec<u8>,
}

impl Window {
    /// `len` bytes at `pos`; the caller guarantees `pos + len <= file_size`.
    fn slice(
        &mut self,
        file: &File,
        path: &Path,
        pos: u64,
        len: usize,
        file_size: u64,
    ) -> Result<&[u8], LogError> {
        let end = self.start + self.buf.len() as u64;
        if pos < self.start || pos + len as u64 > end {
            let want = len
                .max(SCAN_CHUNK)
                .min(usize::try_from(file_size - pos).unwrap_or(usize::MAX));
            self.buf.resize(want, 0);
            fs::read_exact_at(file, path, &mut self.buf, pos)?;
            self.start = pos;
        }
        let at = (pos - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }
}
