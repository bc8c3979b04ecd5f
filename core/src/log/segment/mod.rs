//! One segment: a `.log` file of whole record batches plus its sparse `.index` and
//! `.timeindex`, all named by the segment's base offset. Reading is in `read`,
//! rescanning and checking at open in `rebuild`.

mod read;
mod rebuild;

pub(crate) use read::ReadEnd;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::RecordBatchHeader;
use super::config::LogConfig;
use super::error::LogError;
use super::fetched::SegmentFile;
use super::fs;
use super::offset_index::{self, OffsetIndex};
use super::time_index::{self, TimeIndex};
use super::txn_index::{AbortedTxn, TxnIndex, TXN_INDEX_SUFFIX};

pub(crate) const LOG_SUFFIX: &str = ".log";
pub(crate) const INDEX_SUFFIX: &str = ".index";
pub(crate) const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// `00000000000000000042.log`: the base offset zero-padded to 20 digits, so that names
/// sort in offset order.
pub(crate) fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// The base offset of a segment file name with `suffix`, if it is one.
pub(crate) fn parse_file_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Index files are sized in whole entries and always leave room for a couple of entries,
/// however small `segment.index.bytes` is set, so an empty segment never counts as full.
fn index_bytes(config: &LogConfig, entry_size: usize) -> u64 {
    config.segment_index_bytes.max(4 * entry_size as u64)
}

#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    /// The `.log` file; fetched regions share it, so a segment deleted while a fetch
    /// is being sent stays readable until the fetch is done with it.
    log: Arc<SegmentFile>,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    /// Aborted transactions whose markers are in this segment.
    txn_index: TxnIndex,
    bytes_since_last_index_entry: u64,
    /// Largest batch max timestamp, -1 if none yet.
    max_timestamp: i64,
    /// Last offset of the first batch holding `max_timestamp`.
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch: what `segment.ms` counts from, as in Kafka.
    first_batch_timestamp: Option<i64>,
    created_ms: i64,
    /// Offset after the last batch, when known (always for the active segment).
    next_offset: Option<i64>,
    /// An index file did not exist when the segment was opened.
    index_missing: bool,
}

impl Segment {
    /// Opens an existing segment (or creates empty files) without reading its log. The
    /// max timestamp comes from the time index's last entry, which roll and close make
    /// exact.
    pub(crate) fn open(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Segment, LogError> {
        let log_path = dir.join(file_name(base_offset, LOG_SUFFIX));
        let log = fs::open_rw(&log_path)?;
        let size = fs::len(&log, &log_path)?;
        let log = Arc::new(SegmentFile::new(log, log_path));
        let index_path = dir.join(file_name(base_offset, INDEX_SUFFIX));
        let time_index_path = dir.join(file_name(base_offset, TIME_INDEX_SUFFIX));
        let index_missing = !fs::exists(&index_path) || !fs::exists(&time_index_path);
        let offset_index = OffsetIndex::open(&index_path, base_offset)?;
        let time_index = TimeIndex::open(&time_index_path, base_offset)?;
        let txn_index = TxnIndex::open(&dir.join(file_name(base_offset, TXN_INDEX_SUFFIX)))?;
        let mut segment = Segment {
            base_offset,
            log,
            size,
            offset_index,
            time_index,
            txn_index,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            created_ms: now_ms,
            next_offset: (size == 0).then_some(base_offset),
            index_missing,
        };
        segment.load_max_timestamp();
        Ok(segment)
    }

    /// Creates a new, empty, active segment. Files left over at this base offset lie
    /// beyond the log end, so they are emptied.
    pub(crate) fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let mut segment = Segment::open(dir, base_offset, now_ms)?;
        if segment.size > 0 || segment.offset_index.file().entries() > 0 {
            segment.truncate_log(0)?;
            segment.offset_index.file_mut().clear();
            segment.time_index.file_mut().clear();
            segment.txn_index.truncate_to(i64::MIN)?;
            segment.max_timestamp = -1;
            segment.offset_of_max_timestamp = base_offset;
        }
        segment.make_active(config)?;
        Ok(segment)
    }

    fn load_max_timestamp(&mut self) {
        if let Some((timestamp, offset)) = self.time_index.last_entry() {
            self.max_timestamp = timestamp;
            self.offset_of_max_timestamp = offset;
        }
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn next_offset(&self) -> Option<i64> {
        self.next_offset
    }

    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub(crate) fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }

    /// The segment's largest timestamp for retention: its max timestamp, or the file's
    /// modification time when no batch carries one (Kafka's rule).
    pub(crate) fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            self.max_timestamp
        } else {
            fs::modified_ms(&self.log.file).unwrap_or(self.created_ms)
        }
    }

    /// Preallocates the indexes for appends.
    pub(crate) fn make_active(&mut self, config: &LogConfig) -> Result<(), LogError> {
        self.offset_index
            .file_mut()
            .resize(index_bytes(config, offset_index::ENTRY_SIZE))?;
        self.time_index
            .file_mut()
            .resize(index_bytes(config, time_index::ENTRY_SIZE))
    }

    /// Called when a newer segment takes over: records the final max timestamp in the
    /// time index (it always has room for it) and trims both indexes.
    pub(crate) fn make_inactive(&mut self) -> Result<(), LogError> {
        if self.max_timestamp >= 0 {
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
        }
        self.offset_index.file_mut().trim()?;
        self.time_index.file_mut().trim()
    }

    /// Kafka's roll conditions for an append of `incoming` bytes ending at `last_offset`.
    /// An empty segment is never rolled: the new one would have the same name.
    pub(crate) fn should_roll(
        &self,
        config: &LogConfig,
        incoming: usize,
        last_offset: i64,
        max_timestamp: i64,
        now_ms: i64,
    ) -> bool {
        if self.size == 0 {
            return false;
        }
        let new_size = self.size + incoming as u64;
        new_size > config.segment_bytes
            // Index positions are u32.
            || new_size > u64::from(u32::MAX)
            // Kafka keeps relative offsets within i32 even though they are stored as u32.
            || last_offset - self.base_offset > i64::from(i32::MAX)
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || self.time_waited_for_roll(now_ms, max_timestamp) > config.segment_ms
    }

    /// Rolling by time, as checked periodically.
    pub(crate) fn should_roll_by_time(&self, config: &LogConfig, now_ms: i64) -> bool {
        self.size > 0 && self.time_waited_for_roll(now_ms, now_ms) > config.segment_ms
    }

    /// Kafka's `timeWaitedForRoll`: the incoming batch's timestamp minus the first
    /// batch's, so replaying old data rolls by the data's own time; wall-clock time since
    /// creation when the segment's first batch has no timestamp.
    fn time_waited_for_roll(&self, now_ms: i64, message_timestamp: i64) -> i64 {
        match self.first_batch_timestamp {
            Some(first) if first >= 0 => message_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// Writes already validated batches (offsets assigned) in one write, then indexes
    /// them batch by batch.
    pub(crate) fn append(
        &mut self,
        batches: &[u8],
        index_interval_bytes: u64,
    ) -> Result<(), LogError> {
        if let Err(error) = fs::write_all_at(&self.log.file, &self.log.path, batches, self.size) {
            // A write that failed part-way (ENOSPC, EIO) may have left a prefix of the
            // batches after the last good one. Cut it off so the file again ends with a
            // whole batch; if even that fails, the next append overwrites it and
            // recovery at the next start truncates whatever is left.
            if let Err(truncate) = fs::set_len(&self.log.file, &self.log.path, self.size) {
                tracing::warn!(error = %truncate, "cannot truncate a failed append away");
            }
            return Err(error);
        }
        let mut pos = 0;
        while let Some(header) = RecordBatchHeader::parse(&batches[pos..]) {
            let position = self.size + pos as u64;
            self.index_batch(&header, position, index_interval_bytes);
            pos += header.total_size();
        }
        self.size += batches.len() as u64;
        Ok(())
    }

    /// Kafka's rule: an entry for a batch when more than `index.interval.bytes` were
    /// appended since the previous entry.
    fn index_batch(&mut self, header: &RecordBatchHeader, position: u64, interval: u64) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        self.first_batch_timestamp
            .get_or_insert(header.max_timestamp);
        if self.bytes_since_last_index_entry > interval {
            if !self.offset_index.is_full() {
                self.offset_index
                    .append(header.last_offset(), position as u32);
            }
            // The time index's last free slot is kept for the entry written on roll.
            if !self.time_index.is_full() {
                self.time_index
                    .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            }
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += header.total_size() as u64;
        self.next_offset = Some(header.last_offset() + 1);
    }

    fn truncate_log(&mut self, size: u64) -> Result<(), LogError> {
        fs::set_len(&self.log.file, &self.log.path, size)?;
        self.size = size;
        Ok(())
    }

    /// Removes every batch whose last offset is `>= offset` (a batch straddling it goes
    /// whole) and rebuilds the indexes from what is left. Returns the new next offset.
    /// The rescan costs a read of the segment; truncation is rare (leader changes).
    pub(crate) fn truncate_to(&mut self, offset: i64, config: &LogConfig) -> Result<i64, LogError> {
        if let Some((pos, _)) = self.find_batch(offset)? {
            self.truncate_log(pos)?;
        }
        self.txn_index.truncate_to(offset)?;
        self.recover(config)?;
        Ok(self.next_offset.unwrap_or(self.base_offset))
    }

    /// fsyncs the log and both indexes.
    pub(crate) fn flush(&self) -> Result<(), LogError> {
        fs::sync(&self.log.file, &self.log.path)?;
        self.offset_index.file().flush()?;
        self.time_index.file().flush()?;
        self.txn_index.flush()
    }

    /// The aborted-transaction index.
    pub(crate) fn aborted_txns(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }

    /// Records an aborted transaction whose marker was just appended here.
    pub(crate) fn append_aborted_txn(&mut self, txn: AbortedTxn) -> Result<(), LogError> {
        self.txn_index.append(txn)
    }

    /// Drops the aborted-transaction entries of markers at or beyond `offset` (their
    /// markers are replayed again).
    pub(crate) fn truncate_aborted_txns(&mut self, offset: i64) -> Result<(), LogError> {
        self.txn_index.truncate_to(offset)
    }

    /// Adds the aborted transactions of `txns` to the index, fsynced (compaction merges
    /// later segments' entries into the first of a group before it deletes them).
    pub(crate) fn absorb_aborted_txns(&mut self, txns: &[AbortedTxn]) -> Result<(), LogError> {
        for txn in txns {
            if !self.txn_index.entries().contains(txn) {
                self.txn_index.append(*txn)?;
            }
        }
        self.txn_index.flush()
    }

    /// Deletes the segment's files: renamed to `.deleted` first so that a crash part-way
    /// leaves only files that the next open recognises as garbage.
    pub(crate) fn delete(self) -> Result<(), LogError> {
        self.delete_files(true)
    }

    /// [`Segment::delete`] that leaves the `.txnindex` in place, for a compacted
    /// segment that replaces this one under the same base offset and inherits it.
    pub(crate) fn delete_keeping_txn_index(self) -> Result<(), LogError> {
        self.delete_files(false)
    }

    fn delete_files(self, with_txn_index: bool) -> Result<(), LogError> {
        let mut paths = vec![
            self.log.path.clone(),
            self.offset_index.file().path().to_owned(),
            self.time_index.file().path().to_owned(),
        ];
        if with_txn_index {
            paths.push(self.txn_index.path().to_owned());
        }
        drop(self);
        let mut deleted = Vec::with_capacity(paths.len());
        for path in &paths {
            let mut name = path.as_os_str().to_owned();
            name.push(".deleted");
            let target = PathBuf::from(name);
            if fs::exists(path) {
                fs::rename(path, &target)?;
            }
            deleted.push(target);
        }
        for path in &deleted {
            fs::remove(path)?;
        }
        Ok(())
    }
}
