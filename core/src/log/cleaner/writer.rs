//! Writing one cleaned segment: `<base>.log.cleaned` with its `.index.cleaned` and
//! `.timeindex.cleaned`, indexed exactly as appends index a segment, so the owner can
//! swap the files in without rescanning them.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::log::batch::RecordBatchHeader;
use crate::log::error::LogError;
use crate::log::fs;
use crate::log::offset_index::{self, OffsetIndex};
use crate::log::segment::{file_name, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::log::time_index::{self, TimeIndex};

pub(super) const CLEANED_SUFFIX: &str = ".cleaned";
pub(super) const SWAP_SUFFIX: &str = ".swap";

/// The three file names of a segment, in the order they are renamed on a swap: the
/// `.log` first, so that an index renamed without its log never happens.
pub(super) fn segment_files(base_offset: i64) -> [String; 3] {
    [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX].map(|suffix| file_name(base_offset, suffix))
}

/// `name` with a stage suffix (`.cleaned`, `.swap`) appended.
pub(super) fn staged(dir: &Path, name: &str, stage: &str) -> PathBuf {
    dir.join(format!("{name}{stage}"))
}

/// Index entries to preallocate; the files grow when full and are trimmed at the end.
const INITIAL_INDEX_ENTRIES: u64 = 1024;

#[derive(Debug)]
pub(super) struct CleanedWriter {
    dir: PathBuf,
    base_offset: i64,
    log_path: PathBuf,
    log: File,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    index_interval_bytes: u64,
    bytes_since_last_index_entry: u64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
}

impl CleanedWriter {
    /// Creates empty `.cleaned` files for a segment at `base_offset`, replacing any left
    /// by an earlier, abandoned pass.
    pub(super) fn create(
        dir: &Path,
        base_offset: i64,
        index_interval_bytes: u64,
    ) -> Result<CleanedWriter, LogError> {
        let [log, index, time_index] = segment_files(base_offset);
        let paths = [log, index, time_index].map(|name| staged(dir, &name, CLEANED_SUFFIX));
        for path in &paths {
            fs::remove(path)?;
        }
        let [log_path, index_path, time_index_path] = paths;
        let log = fs::open_rw(&log_path)?;
        // These index files belong to this writer alone until the owner swaps them in,
        // which the mapping's safety argument in `index_file` relies on.
        let mut offset_index = OffsetIndex::open(&index_path, base_offset)?;
        let mut time_index = TimeIndex::open(&time_index_path, base_offset)?;
        offset_index
            .file_mut()
            .resize(INITIAL_INDEX_ENTRIES * offset_index::ENTRY_SIZE as u64)?;
        time_index
            .file_mut()
            .resize(INITIAL_INDEX_ENTRIES * time_index::ENTRY_SIZE as u64)?;
        Ok(CleanedWriter {
            dir: dir.to_owned(),
            base_offset,
            log_path,
            log,
            size: 0,
            offset_index,
            time_index,
            index_interval_bytes,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
        })
    }

    /// Appends one whole batch and indexes it with the append path's rule (an entry
    /// once more than `index.interval.bytes` were written since the previous one).
    pub(super) fn append(
        &mut self,
        header: &RecordBatchHeader,
        batch: &[u8],
    ) -> Result<(), LogError> {
        let position = u32::try_from(self.size).map_err(|_| {
            LogError::io(
                format!("writing {}", self.log_path.display()),
                std::io::Error::other("cleaned segment larger than 4 GiB"),
            )
        })?;
        fs::write_all_at(&self.log, &self.log_path, batch, self.size)?;
        self.size += batch.len() as u64;
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        if self.bytes_since_last_index_entry > self.index_interval_bytes {
            self.make_room()?;
            self.offset_index.append(header.last_offset(), position);
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += batch.len() as u64;
        Ok(())
    }

    fn make_room(&mut self) -> Result<(), LogError> {
        if self.offset_index.is_full() {
            let bytes = 2 * self.offset_index.file().capacity() * offset_index::ENTRY_SIZE;
            self.offset_index.file_mut().resize(bytes as u64)?;
        }
        if self.time_index.is_full() {
            let bytes = 2 * self.time_index.file().capacity() * time_index::ENTRY_SIZE;
            self.time_index.file_mut().resize(bytes as u64)?;
        }
        Ok(())
    }

    pub(super) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// Adds the final time index entry (as a roll does), trims the indexes and fsyncs
    /// all three files.
    pub(super) fn finish(mut self) -> Result<(), LogError> {
        self.make_room()?;
        if self.max_timestamp >= 0 {
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
        }
        self.offset_index.file_mut().trim()?;
        self.time_index.file_mut().trim()?;
        fs::sync(&self.log, &self.log_path)?;
        self.offset_index.file().flush()?;
        self.time_index.file().flush()
    }

    /// Removes the files: the group turned out unchanged, or the pass was abandoned.
    pub(super) fn discard(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        let base = self.base_offset;
        drop(self);
        remove_staged(&dir, base, CLEANED_SUFFIX)
    }
}

/// Removes a segment's files at `stage`, if present.
pub(super) fn remove_staged(dir: &Path, base_offset: i64, stage: &str) -> Result<(), LogError> {
    for name in segment_files(base_offset) {
        fs::remove(&staged(dir, &name, stage))?;
    }
    Ok(())
}
