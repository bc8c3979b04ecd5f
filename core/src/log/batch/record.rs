//! Whole v2 records: parsing an (already decompressed) records section into keys,
//! values and headers, and encoding records back. Only the log cleaner needs this; the
//! produce and fetch paths keep records opaque.
//!
//! Record layout (Kafka's `DefaultRecord`), varints zigzag-encoded:
//!
//! ```text
//! length: varint            bytes after this field
//! attributes: i8            unused, 0
//! timestampDelta: varlong   from the batch's baseTimestamp
//! offsetDelta: varint       from the batch's baseOffset
//! keyLength: varint, key    -1 for a null key
//! valueLength: varint, value -1 for a null value (a tombstone)
//! headerCount: varint, then per header:
//!     headerKeyLength: varint, headerKey (UTF-8, never null)
//!     headerValueLength: varint, headerValue (-1 for null)
//! ```
//!
//! Parsing is bounded: every length is checked against the bytes that remain in the
//! record before it is used, and nothing is allocated from a count; key, value and
//! header fields are zero-copy slices of the section.

use bytes::Bytes;

use super::records::{read_varlong, write_varlong};
use super::{compute_crc, RecordBatchHeader, CRC_AT, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2};

/// Bytes a varint (i32) may take.
const VARINT_MAX: usize = 5;
/// Bytes a varlong (i64) may take.
const VARLONG_MAX: usize = 10;

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// The header's key (UTF-8 by contract; not checked).
    pub key: Bytes,
    /// The header's value, `None` when null.
    pub value: Option<Bytes>,
}

/// One record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Record attributes (unused by Kafka, carried through).
    pub attributes: i8,
    /// Timestamp minus the batch's baseTimestamp.
    pub timestamp_delta: i64,
    /// Offset minus the batch's baseOffset.
    pub offset_delta: i32,
    /// The key, `None` when null.
    pub key: Option<Bytes>,
    /// The value, `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<RecordHeader>,
}

/// Why a records section could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed record {index} at byte {position} of the records section: {reason}")]
pub struct RecordError {
    /// Index of the record within the batch.
    pub index: i32,
    /// Where the record starts.
    pub position: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Iterates over the records of an uncompressed (or decompressed) records section,
/// expecting exactly `count` records filling it. After the first error it stops.
#[derive(Debug, Clone)]
pub struct RecordIter {
    section: Bytes,
    pos: usize,
    index: i32,
    count: i32,
    failed: bool,
}

impl RecordIter {
    /// Iterates over `count` records in `section` (the bytes after the batch header,
    /// decompressed).
    pub fn new(section: Bytes, count: i32) -> RecordIter {
        RecordIter {
            section,
            pos: 0,
            index: 0,
            count,
            failed: false,
        }
    }

    fn parse_one(&self) -> Result<(Record, usize), &'static str> {
        let buf = &self.section[..];
        let mut pos = self.pos;
        let length = read_varlong(buf, &mut pos, VARINT_MAX).ok_or("truncated length")?;
        let length = usize::try_from(length).map_err(|_| "negative length")?;
        if length > buf.len() - pos {
            return Err("length runs past the end of the section");
        }
        let end = pos + length;
        let body = &buf[..end];
        let attributes = *body.get(pos).ok_or("truncated attributes")? as i8;
        pos += 1;
        let timestamp_delta =
            read_varlong(body, &mut pos, VARLONG_MAX).ok_or("truncated timestampDelta")?;
        let offset_delta = read_varlong(body, &mut pos, VARINT_MAX)
            .and_then(|d| i32::try_from(d).ok())
            .ok_or("bad offsetDelta")?;
        let key = self.nullable(body, &mut pos)?;
        let value = self.nullable(body, &mut pos)?;
        let header_count = read_varlong(body, &mut pos, VARINT_MAX).ok_or("bad headerCount")?;
        // Each header takes at least two bytes: a bound checked before looping.
        let header_count = usize::try_from(header_count)
            .ok()
            .filter(|&n| n <= (end - pos) / 2)
            .ok_or("headerCount exceeds the record")?;
        let mut headers = Vec::with_capacity(header_count);
        for _ in 0..header_count {
            let key = self.nullable(body, &mut pos)?.ok_or("null header key")?;
            let value = self.nullable(body, &mut pos)?;
            headers.push(RecordHeader { key, value });
        }
        if pos != end {
            return Err("record length disagrees with its fields");
        }
        let record = Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        };
        Ok((record, end))
    }

    /// A length-prefixed field within `body` (-1 is null), as a slice of the section.
    fn nullable(&self, body: &[u8], pos: &mut usize) -> Result<Option<Bytes>, &'static str> {
        let len = read_varlong(body, pos, VARINT_MAX).ok_or("truncated field length")?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| "negative field length")?;
        if len > body.len() - *pos {
            return Err("field runs past the end of the record");
        }
        let field = self.section.slice(*pos..*pos + len);
        *pos += len;
        Ok(Some(field))
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let fail = |this: &mut RecordIter, reason| {
            this.failed = true;
            Some(Err(RecordError {
                index: this.index,
                position: this.pos,
                reason,
            }))
        };
        if self.index >= self.count {
            if self.pos != self.section.len() {
                return fail(self, "bytes left after the last record");
            }
            return None;
        }
        if self.pos >= self.section.len() {
            return fail(self, "fewer records than recordsCount");
        }
        match self.parse_one() {
            Ok((record, end)) => {
                self.pos = end;
                self.index += 1;
                Some(Ok(record))
            }
            Err(reason) => fail(self, reason),
        }
    }
}

/// Appends `record` to `out` in the v2 format, with the given deltas in place of its
/// own.
pub fn encode_record(out: &mut Vec<u8>, record: &Record, timestamp_delta: i64, offset_delta: i32) {
    let mut body = Vec::with_capacity(
        16 + record.key.as_ref().map_or(0, Bytes::len)
            + record.value.as_ref().map_or(0, Bytes::len),
    );
    body.push(record.attributes as u8);
    write_varlong(&mut body, timestamp_delta);
    write_varlong(&mut body, i64::from(offset_delta));
    write_nullable(&mut body, record.key.as_deref());
    write_nullable(&mut body, record.value.as_deref());
    write_varlong(&mut body, record.headers.len() as i64);
    for header in &record.headers {
        write_nullable(&mut body, Some(&header.key));
        write_nullable(&mut body, header.value.as_deref());
    }
    write_varlong(out, body.len() as i64);
    out.extend_from_slice(&body);
}

/// Encodes a whole batch: `header`'s fields (its batchLength and crc are ignored and
/// computed) followed by `section`, the records as they are to be stored (compressed when
/// the attributes say so).
pub(crate) fn encode_batch(header: &RecordBatchHeader, section: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_SIZE + section.len());
    out.extend_from_slice(&header.base_offset.to_be_bytes());
    let batch_length = (HEADER_SIZE - LOG_OVERHEAD + section.len()) as i32;
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, filled below
    out.extend_from_slice(&header.attributes.to_be_bytes());
    out.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&header.base_timestamp.to_be_bytes());
    out.extend_from_slice(&header.max_timestamp.to_be_bytes());
    out.extend_from_slice(&header.producer_id.to_be_bytes());
    out.extend_from_slice(&header.producer_epoch.to_be_bytes());
    out.extend_from_slice(&header.base_sequence.to_be_bytes());
    out.extend_from_slice(&header.records_count.to_be_bytes());
    debug_assert_eq!(out.len(), HEADER_SIZE);
    out.extend_from_slice(section);
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

fn write_nullable(out: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        Some(bytes) => {
            write_varlong(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
        None => write_varlong(out, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{check_stored, RecordBatchBuilder};

    fn record(delta: i32, key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> Record {
        Record {
            attributes: 0,
            timestamp_delta: i64::from(delta) * 10 - 5,
            offset_delta: delta,
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
            headers: vec![
                RecordHeader {
                    key: Bytes::from_static(b"h"),
                    value: Some(Bytes::from_static(b"v")),
                },
                RecordHeader {
                    key: Bytes::from_static(b"n"),
                    value: None,
                },
            ],
        }
    }

    #[test]
    fn records_round_trip_with_headers_and_nulls() {
        let records = [
            record(0, Some(b"k"), Some(b"value")),
            record(3, None, Some(b"")),
            record(7, Some(b"gone"), None),
        ];
        let mut section = Vec::new();
        for r in &records {
            encode_record(&mut section, r, r.timestamp_delta, r.offset_delta);
        }
        let parsed: Vec<Record> = RecordIter::new(Bytes::from(section), 3)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed, records);
    }

    #[test]
    fn builder_batches_parse() {
        let mut b = RecordBatchBuilder::new();
        b.push(5, Some(b"a"), Some(b"1"));
        b.push(6, Some(b"b"), None);
        let batch = b.build();
        let got: Vec<Record> = RecordIter::new(batch.slice(HEADER_SIZE..), 2)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got[0].key.as_deref(), Some(&b"a"[..]));
        assert_eq!(got[1].value, None);
        assert_eq!((got[1].offset_delta, got[1].timestamp_delta), (1, 1));

        let header = RecordBatchHeader::parse(&batch).unwrap();
        let again = encode_batch(&header, &batch[HEADER_SIZE..]);
        assert_eq!(&again[..], &batch[..]);
        assert!(check_stored(&again).is_ok());
    }

    #[test]
    fn count_mismatches_are_errors() {
        let mut section = Vec::new();
        let r = record(0, Some(b"k"), Some(b"v"));
        encode_record(&mut section, &r, 0, 0);
        let section = Bytes::from(section);
        let two: Vec<_> = RecordIter::new(section.clone(), 2).collect();
        assert!(two[0].is_ok() && two[1].is_err() && two.len() == 2);
        let zero: Vec<_> = RecordIter::new(section, 0).collect();
        assert!(zero.len() == 1 && zero[0].is_err());
    }

    /// Random damage yields errors, never panics or huge allocations.
    #[test]
    fn hostile_sections_never_panic() {
        let mut section = Vec::new();
        for i in 0..4 {
            encode_record(&mut section, &record(i, Some(b"key"), Some(b"val")), 0, i);
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            let mut buf = section.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % buf.len() as u64) as usize;
                buf[at] = (seed >> 8) as u8;
            }
            let _ = RecordIter::new(Bytes::from(buf), (seed % 6) as i32).count();
        }
    }
}
