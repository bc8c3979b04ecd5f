//! Finding batches in a segment and cutting fetch regions: positional reads of batch
//! headers, guided by the indexes.

use std::sync::Arc;

use super::Segment;
use crate::log::batch::{RecordBatchHeader, HEADER_SIZE};
use crate::log::error::LogError;
use crate::log::fetched::{FetchedRecords, FileRegion};
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
        fs::read_exact_at(&self.log.file, &self.log.path, &mut buf, pos)?;
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
        fs::read_exact_at(&self.log.file, &self.log.path, &mut buf, pos)?;
        Ok(buf)
    }

    /// Adds to `out` the region of whole batches starting at `pos` (a batch start whose
    /// header is `first`), within `max_bytes` — but at least the first batch when
    /// `min_one` (KIP-74) — and stopping before the first batch whose last offset
    /// reaches `upper_bound`. Only batch headers are read; the batches themselves stay
    /// in the file for the connection to send.
    pub(crate) fn read_region(
        &self,
        pos: u64,
        first: &RecordBatchHeader,
        max_bytes: usize,
        upper_bound: i64,
        min_one: bool,
        out: &mut FetchedRecords,
    ) -> Result<ReadEnd, LogError> {
        let first_size = first.total_size();
        if first.last_offset() >= upper_bound || first_size < HEADER_SIZE {
            return Ok(ReadEnd::Done);
        }
        let budget = if min_one {
            max_bytes.max(first_size)
        } else {
            max_bytes
        };
        let mut headers = HeaderScan::default();
        let mut header = *first;
        let mut taken = 0u64;
        let end = loop {
            let size = header.total_size();
            let at = pos + taken;
            if size < HEADER_SIZE
                || at + size as u64 > self.size
                || taken + size as u64 > budget as u64
                || header.last_offset() >= upper_bound
            {
                break ReadEnd::Done;
            }
            taken += size as u64;
            let next = pos + taken;
            let left = self.size - next;
            if left == 0 {
                // Everything up to the segment's end was taken: the next segment may
                // add more, if the budget has room.
                break if taken < budget as u64 {
                    ReadEnd::SegmentEnd
                } else {
                    ReadEnd::Done
                };
            }
            if left < HEADER_SIZE as u64 || taken + HEADER_SIZE as u64 > budget as u64 {
                break ReadEnd::Done;
            }
            header = headers.header_at(self, next, size)?;
        };
        if taken > 0 {
            out.push(FileRegion::new(Arc::clone(&self.log), pos, taken as usize));
        }
        Ok(end)
    }
}

/// Reading only the headers of a run of batches. Large batches get one header-sized
/// read each; small ones share reads of a page, so a segment of tiny batches costs a
/// read per page of them rather than a syscall per batch.
#[derive(Default)]
struct HeaderScan {
    window: Vec<u8>,
    start: u64,
}

/// Bytes read at once while the batches are small.
const HEADER_WINDOW: usize = 4096;

impl HeaderScan {
    /// The header at `pos`, the batch before it being `previous_size` bytes long.
    fn header_at(
        &mut self,
        segment: &Segment,
        pos: u64,
        previous_size: usize,
    ) -> Result<RecordBatchHeader, LogError> {
        let end = self.start + self.window.len() as u64;
        if pos < self.start || pos + HEADER_SIZE as u64 > end {
            if previous_size >= HEADER_WINDOW / 4 {
                return segment.header_at(pos);
            }
            let want = usize::try_from(segment.size - pos)
                .unwrap_or(usize::MAX)
                .min(HEADER_WINDOW);
            self.window.resize(want, 0);
            fs::read_exact_at(&segment.log.file, &segment.log.path, &mut self.window, pos)?;
            self.start = pos;
        }
        let at = (pos - self.start) as usize;
        Ok(RecordBatchHeader::parse(&self.window[at..]).expect("HEADER_SIZE bytes"))
    }
}
