//! One segment: a `.log` file of whole record batches plus its sparse `.index` and
//! `.timeindex`, all named by the segment's base offset.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::batch::{self, RecordBatchHeader, HEADER_SIZE};
use super::config::LogConfig;
use super::error::LogError;
use super::fs;
use super::offset_index::{self, OffsetIndex};
use super::time_index::{self, TimeIndex};

pub(crate) const LOG_SUFFIX: &str = ".log";
pub(crate) const INDEX_SUFFIX: &str = ".index";
pub(crate) const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// Reads during recovery and scans go through a window this large, so a segment of small
/// batches costs a few large reads rather than two syscalls per batch.
const SCAN_CHUNK: usize = 1 << 20;

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

/// What a scan of a segment's log found.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Bytes cut off the end of the `.log`.
    pub(crate) truncated_bytes: u64,
    /// Why the scan stopped before the end, if it did.
    pub(crate) reason: Option<String>,
}

/// Outcome of reading from one segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Everything up to the segment's end was taken: the next segment may add more.
    SegmentEnd,
    /// Stopped by the byte budget or the upper bound.
    Done,
}

#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    log: File,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
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
        let index_path = dir.join(file_name(base_offset, INDEX_SUFFIX));
        let time_index_path = dir.join(file_name(base_offset, TIME_INDEX_SUFFIX));
        let index_missing = !fs::exists(&index_path) || !fs::exists(&time_index_path);
        let offset_index = OffsetIndex::open(&index_path, base_offset)?;
        let time_index = TimeIndex::open(&time_index_path, base_offset)?;
        let mut segment = Segment {
            base_offset,
            log_path,
            log,
            size,
            offset_index,
            time_index,
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
            fs::modified_ms(&self.log).unwrap_or(self.created_ms)
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
            || self.time_waited_for_roll(now_ms) > config.segment_ms
    }

    /// Rolling by time, as checked periodically.
    pub(crate) fn should_roll_by_time(&self, config: &LogConfig, now_ms: i64) -> bool {
        self.size > 0 && self.time_waited_for_roll(now_ms) > config.segment_ms
    }

    fn time_waited_for_roll(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.first_batch_timestamp.unwrap_or(self.created_ms))
    }

    /// Writes already validated batches (offsets assigned) in one write, then indexes
    /// them batch by batch.
    pub(crate) fn append(
        &mut self,
        batches: &[u8],
        index_interval_bytes: u64,
    ) -> Result<(), LogError> {
        fs::write_all_at(&self.log, &self.log_path, batches, self.size)?;
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
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += header.total_size() as u64;
        self.next_offset = Some(header.last_offset() + 1);
    }

    fn truncate_log(&mut self, size: u64) -> Result<(), LogError> {
        fs::set_len(&self.log, &self.log_path, size)?;
        self.size = size;
        Ok(())
    }

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
                window.slice(&self.log, &self.log_path, pos, HEADER_SIZE, self.size)?;
            let header = RecordBatchHeader::parse(header_bytes).expect("HEADER_SIZE bytes");
            let total = header.total_size() as u64;
            if total < HEADER_SIZE as u64 || total > remaining {
                reason = Some(format!(
                    "batchLength {} with {remaining} bytes left in the file",
                    header.batch_length
                ));
                break;
            }
            let bytes = window.slice(&self.log, &self.log_path, pos, total as usize, self.size)?;
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
                self.log_path.display()
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
            let bytes = window.slice(&self.log, &self.log_path, pos, HEADER_SIZE, self.size)?;
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

    fn header_at(&self, pos: u64) -> Result<RecordBatchHeader, LogError> {
        let mut buf = [0u8; HEADER_SIZE];
        fs::read_exact_at(&self.log, &self.log_path, &mut buf, pos)?;
        Ok(RecordBatchHeader::parse(&buf).expect("HEADER_SIZE bytes"))
    }

    /// Position and header of the first batch whose last offset is `>= offset`, or
    /// `None` if every batch of the segment ends before it.
    pub(crate) fn find_batch(
        &self,
        offset: i64,
    ) -> Result<Option<(u64, RecordBatchHeader)>, LogError> {
        let (_, start) = self.offset_index.lookup(offset);
        self.scan_from(u64::from(start), |h| h.last_offset() >= offset)
    }

    /// The header of the batch at `pos`, if a batch starts there.
    pub(crate) fn find_batch_at(&self, pos: u64) -> Result<Option<RecordBatchHeader>, LogError> {
        if self.size.saturating_sub(pos) < HEADER_SIZE as u64 {
            return Ok(None);
        }
        let header = self.header_at(pos)?;
        Ok((header.total_size() >= HEADER_SIZE).then_some(header))
    }

    /// Position and header of the first batch at or after `pos` satisfying `found`.
    fn scan_from(
        &self,
        mut pos: u64,
        found: impl Fn(&RecordBatchHeader) -> bool,
    ) -> Result<Option<(u64, RecordBatchHeader)>, LogError> {
        while self.size.saturating_sub(pos) >= HEADER_SIZE as u64 {
            let header = self.header_at(pos)?;
            if found(&header) {
                return Ok(Some((pos, header)));
            }
            let total = header.total_size() as u64;
            if total < HEADER_SIZE as u64 {
                break;
            }
            pos += total;
        }
        Ok(None)
    }

    /// Position and header of the first batch whose max timestamp is `>= timestamp`,
    /// starting from where the time index says.
    pub(crate) fn find_batch_by_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<(u64, RecordBatchHeader)>, LogError> {
        let (_, offset) = self.time_index.lookup(timestamp);
        let (_, start) = self.offset_index.lookup(offset);
        self.scan_from(u64::from(start), |h| h.max_timestamp >= timestamp)
    }

    /// Reads the whole batch at `pos`.
    pub(crate) fn read_batch(
        &self,
        pos: u64,
        header: &RecordBatchHeader,
    ) -> Result<Vec<u8>, LogError> {
        let mut buf = vec![0u8; header.total_size()];
        fs::read_exact_at(&self.log, &self.log_path, &mut buf, pos)?;
        Ok(buf)
    }

    /// Appends to `out` whole batches starting at `pos` (which must be a batch start),
    /// within `max_bytes` — but at least the first batch when `min_one` — and stopping
    /// before the first batch whose last offset reaches `upper_bound`.
    pub(crate) fn read_into(
        &self,
        pos: u64,
        max_bytes: usize,
        upper_bound: i64,
        min_one: bool,
        out: &mut Vec<u8>,
    ) -> Result<ReadEnd, LogError> {
        if self.size.saturating_sub(pos) < HEADER_SIZE as u64 {
            return Ok(ReadEnd::SegmentEnd);
        }
        let first = self.header_at(pos)?;
        let first_size = first.total_size();
        if first.last_offset() >= upper_bound || first_size < HEADER_SIZE {
            return Ok(ReadEnd::Done);
        }
        let budget = if min_one {
            max_bytes.max(first_size)
        } else {
            max_bytes
        };
        if first_size > budget {
            return Ok(ReadEnd::Done);
        }
        let available = usize::try_from(self.size - pos).unwrap_or(usize::MAX);
        let chunk = budget.min(available);
        let start = out.len();
        out.resize(start + chunk, 0);
        fs::read_exact_at(&self.log, &self.log_path, &mut out[start..], pos)?;
        let mut taken = 0;
        let mut end = ReadEnd::Done;
        while let Some(header) = RecordBatchHeader::parse(&out[start + taken..]) {
            let size = header.total_size();
            if size < HEADER_SIZE || taken + size > chunk || header.last_offset() >= upper_bound {
                break;
            }
            taken += size;
        }
        if taken == available && taken < budget {
            end = ReadEnd::SegmentEnd;
        }
        out.truncate(start + taken);
        Ok(end)
    }

    /// fsyncs the log and both indexes.
    pub(crate) fn flush(&self) -> Result<(), LogError> {
        fs::sync(&self.log, &self.log_path)?;
        self.offset_index.file().flush()?;
        self.time_index.file().flush()
    }

    /// Deletes the segment's files: renamed to `.deleted` first so that a crash part-way
    /// leaves only files that the next open recognises as garbage.
    pub(crate) fn delete(self) -> Result<(), LogError> {
        let paths = [
            self.log_path.clone(),
            self.offset_index.file().path().to_owned(),
            self.time_index.file().path().to_owned(),
        ];
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
