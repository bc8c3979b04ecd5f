//! Just enough of the v2 record format to find a record's offset and timestamp inside an
//! uncompressed batch (ListOffsets by timestamp and MAX_TIMESTAMP want record-level
//! answers). The append and fetch paths never come here.
//!
//! A record is: length (zigzag varint), attributes (i8), timestampDelta (zigzag varlong),
//! offsetDelta (zigzag varint), key length + key, value length + value, header count +
//! headers. Only the first four fields are read here.

use super::{RecordBatchHeader, HEADER_SIZE};
use crate::log::config::TimestampType;

/// Reads a zigzag-encoded varint of at most `max_bytes` bytes; `None` if truncated or
/// too long.
pub(crate) fn read_varlong(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for i in 0..max_bytes {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    None
}

/// Appends `value` as a zigzag varint.
pub(crate) fn write_varlong(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

/// Offset and timestamp of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPosition {
    /// The record's absolute offset.
    pub offset: i64,
    /// The record's timestamp (the batch's maxTimestamp for LogAppendTime batches).
    pub timestamp: i64,
}

/// Iterates over the (offset, timestamp) of each record of an **uncompressed** batch.
/// Stops at the first malformed record.
#[derive(Debug)]
pub struct RecordPositions<'a> {
    batch: &'a [u8],
    header: RecordBatchHeader,
    pos: usize,
    remaining: i32,
}

impl<'a> RecordPositions<'a> {
    /// `None` if the batch is compressed or shorter than a header.
    pub fn new(batch: &'a [u8]) -> Option<RecordPositions<'a>> {
        let header = RecordBatchHeader::parse(batch)?;
        if header.compression() != 0 {
            return None;
        }
        Some(RecordPositions {
            batch: &batch[..header.total_size().min(batch.len())],
            header,
            pos: HEADER_SIZE,
            remaining: header.records_count,
        })
    }
}

impl Iterator for RecordPositions<'_> {
    type Item = RecordPosition;

    fn next(&mut self) -> Option<RecordPosition> {
        if self.remaining <= 0 {
            return None;
        }
        self.remaining -= 1;
        let start = self.pos;
        let mut pos = start;
        let length = usize::try_from(read_varlong(self.batch, &mut pos, 5)?).ok()?;
        let end = pos.checked_add(length)?;
        if end > self.batch.len() {
            self.remaining = 0;
            return None;
        }
        pos += 1; // attributes
        let timestamp_delta = read_varlong(self.batch, &mut pos, 10)?;
        let offset_delta = read_varlong(self.batch, &mut pos, 5)?;
        if pos > end {
            self.remaining = 0;
            return None;
        }
        self.pos = end;
        let timestamp = match self.header.timestamp_type() {
            TimestampType::LogAppendTime => self.header.max_timestamp,
            TimestampType::CreateTime => self.header.base_timestamp.wrapping_add(timestamp_delta),
        };
        Some(RecordPosition {
            offset: self.header.base_offset.wrapping_add(offset_delta),
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::RecordBatchBuilder;

    #[test]
    fn varints_round_trip() {
        for v in [
            0,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            let mut pos = 0;
            assert_eq!(read_varlong(&out, &mut pos, 10), Some(v));
            assert_eq!(pos, out.len());
        }
        let mut pos = 0;
        assert_eq!(read_varlong(&[0x80, 0x80], &mut pos, 10), None);
    }

    #[test]
    fn positions_follow_records() {
        let mut b = RecordBatchBuilder::new();
        b.push(500, None, Some(b"a"));
        b.push(400, Some(b"key"), Some(b"bb"));
        b.push(700, Some(b"k"), None);
        let bytes = b.build();
        let got: Vec<_> = RecordPositions::new(&bytes).unwrap().collect();
        let want: Vec<_> = [(0, 500), (1, 400), (2, 700)]
            .iter()
            .map(|&(offset, timestamp)| RecordPosition { offset, timestamp })
            .collect();
        assert_eq!(got, want);
    }
}
