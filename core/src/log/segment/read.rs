//! Finding and reading batches in a segment: positional reads, guided by the indexes.

use super::Segment;
use crate::log::batch::{RecordBatchHeader, HEADER_SIZE};
use crate::log::error::LogError;
use crate::log::fs;

/// Outcome of reading from one segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Everything up to the segment's end was taken: the next segment may add more.
    SegmentEnd,
    /// Stopped by the byte budget or the upper bound.
    Done,
}

impl Segment {
    pub(super) fn header_at(&self, pos: u64) -> Result<RecordBatchHeader, LogError> {
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

    /// Calls `f` with the position and header of every batch, in order.
    pub(crate) fn for_each_batch(
        &self,
        mut f: impl FnMut(u64, &RecordBatchHeader),
    ) -> Result<(), LogError> {
        let mut pos = 0u64;
        while self.size.saturating_sub(pos) >= HEADER_SIZE as u64 {
            let header = self.header_at(pos)?;
            let total = header.total_size() as u64;
            if total < HEADER_SIZE as u64 || pos + total > self.size {
                break;
            }
            f(pos, &header);
            pos += total;
        }
        Ok(())
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
}
