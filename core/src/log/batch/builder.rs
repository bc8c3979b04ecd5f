//! Encodes uncompressed magic-v2 batches: for tests, tools, and the broker's own writes
//! (group offsets, transaction markers) later.

use bytes::Bytes;

use super::records::write_varlong;
use super::{
    compute_crc, ATTRIBUTES_AT, BATCH_LENGTH_AT, CRC_AT, HEADER_SIZE, LOG_OVERHEAD, MAGIC_AT,
    MAGIC_V2,
};

/// Builds one uncompressed CreateTime batch with base offset 0 and no producer id.
#[derive(Debug, Clone, Default)]
pub struct RecordBatchBuilder {
    records: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer: Option<(i64, i16, i32)>,
    transactional: bool,
}

impl RecordBatchBuilder {
    /// An empty builder.
    pub fn new() -> RecordBatchBuilder {
        RecordBatchBuilder {
            max_timestamp: -1,
            ..Default::default()
        }
    }

    /// Sets producer id, epoch and base sequence (idempotent producers).
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer = Some((producer_id, producer_epoch, base_sequence));
        self
    }

    /// Marks the batch as part of its producer's transaction.
    pub fn transactional(mut self) -> Self {
        self.transactional = true;
        self
    }

    /// Adds a record without headers. The first record's timestamp is the batch's base
    /// timestamp; later ones are stored as deltas from it.
    pub fn push(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) {
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let mut body =
            Vec::with_capacity(16 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
        body.push(0); // record attributes: unused in v2
        write_varlong(&mut body, timestamp - self.base_timestamp);
        write_varlong(&mut body, i64::from(self.count));
        for field in [key, value] {
            match field {
                Some(bytes) => {
                    write_varlong(&mut body, bytes.len() as i64);
                    body.extend_from_slice(bytes);
                }
                None => write_varlong(&mut body, -1),
            }
        }
        write_varlong(&mut body, 0); // header count
        write_varlong(&mut self.records, body.len() as i64);
        self.records.extend_from_slice(&body);
        self.count += 1;
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// No record pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded batch, CRC included.
    pub fn build(self) -> Bytes {
        let (producer_id, producer_epoch, base_sequence) = self.producer.unwrap_or((-1, -1, -1));
        let mut out = Vec::with_capacity(HEADER_SIZE + self.records.len());
        out.extend_from_slice(&0i64.to_be_bytes()); // baseOffset, assigned by the log
        let batch_length = (HEADER_SIZE - LOG_OVERHEAD + self.records.len()) as i32;
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes()); // partitionLeaderEpoch
        out.push(MAGIC_V2 as u8);
        out.extend_from_slice(&0u32.to_be_bytes()); // crc, filled below
        let attributes: i16 = if self.transactional { 0x10 } else { 0 };
        out.extend_from_slice(&attributes.to_be_bytes());
        out.extend_from_slice(&(self.count - 1).max(0).to_be_bytes()); // lastOffsetDelta
        out.extend_from_slice(&self.base_timestamp.to_be_bytes());
        out.extend_from_slice(&self.max_timestamp.to_be_bytes());
        out.extend_from_slice(&producer_id.to_be_bytes());
        out.extend_from_slice(&producer_epoch.to_be_bytes());
        out.extend_from_slice(&base_sequence.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.records);
        debug_assert_eq!(out[MAGIC_AT] as i8, MAGIC_V2);
        debug_assert_eq!(
            &out[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4],
            &batch_length.to_be_bytes()
        );
        debug_assert_eq!(ATTRIBUTES_AT, CRC_AT + 4);
        let crc = compute_crc(&out);
        out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(out)
    }
}
