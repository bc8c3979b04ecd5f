//! Magic-v2 record batches, seen from the log: the fixed 61-byte header, iteration over
//! concatenated batches, validation on append, and the few header rewrites the broker
//! makes (base offset, LogAppendTime).
//!
//! Records inside a batch stay opaque (and usually compressed) on the produce and fetch
//! paths; [`records`] looks inside for timestamp lookups on uncompressed batches, and
//! [`record`] parses whole records for the log cleaner.
//!
//! Header layout, all integers big-endian (Kafka's `DefaultRecordBatch`):
//!
//! | offset | size | field                |
//! |-------:|-----:|----------------------|
//! |      0 |    8 | baseOffset           |
//! |      8 |    4 | batchLength (bytes after this field) |
//! |     12 |    4 | partitionLeaderEpoch |
//! |     16 |    1 | magic (= 2)          |
//! |     17 |    4 | crc (CRC-32C of bytes 21..end, unsigned) |
//! |     21 |    2 | attributes           |
//! |     23 |    4 | lastOffsetDelta      |
//! |     27 |    8 | baseTimestamp        |
//! |     35 |    8 | maxTimestamp         |
//! |     43 |    8 | producerId           |
//! |     51 |    2 | producerEpoch        |
//! |     53 |    4 | baseSequence         |
//! |     57 |    4 | recordsCount         |

mod builder;
pub mod control;
pub mod record;
pub mod records;

pub use builder::RecordBatchBuilder;

use bytes::Bytes;

use super::config::TimestampType;
use super::error::LogError;

/// Size of the v2 batch header.
pub const HEADER_SIZE: usize = 61;
/// baseOffset + batchLength: the bytes not counted by batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The only message format Weir stores.
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET_AT: usize = 0;
const BATCH_LENGTH_AT: usize = 8;
const PARTITION_LEADER_EPOCH_AT: usize = 12;
/// The magic byte sits at the same place in every message format version, so it can be
/// read before knowing which layout the rest follows.
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORDS_COUNT_AT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
/// KIP-534: baseTimestamp holds the delete horizon of the batch's tombstones.
const DELETE_HORIZON_BIT: i16 = 0x40;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;
/// Highest compression codec Kafka defines (zstd).
const MAX_COMPRESSION_CODEC: i16 = 4;

fn be_i64(buf: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}
fn be_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(buf[at..at + 2].try_into().expect("2 bytes"))
}

/// The fixed header of a magic-v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordBatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes following this field (the whole batch is `batch_length + 12`).
    pub batch_length: i32,
    /// Leader epoch stamped by the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Message format version.
    pub magic: i8,
    /// CRC-32C of everything from `attributes` to the end of the batch.
    pub crc: u32,
    /// Compression (bits 0-2), timestamp type (3), transactional (4), control (5).
    pub attributes: i16,
    /// Last record's offset minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (records hold deltas from it).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the append time for LogAppendTime batches.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

impl RecordBatchHeader {
    /// Parses the header from the start of `buf`; `None` if fewer than
    /// [`HEADER_SIZE`] bytes are present. Performs no validation.
    pub fn parse(buf: &[u8]) -> Option<RecordBatchHeader> {
        if buf.len() < HEADER_SIZE {
            return None;
        }
        Some(RecordBatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET_AT),
            batch_length: be_i32(buf, BATCH_LENGTH_AT),
            partition_leader_epoch: be_i32(buf, PARTITION_LEADER_EPOCH_AT),
            magic: buf[MAGIC_AT] as i8,
            crc: be_u32(buf, CRC_AT),
            attributes: be_i16(buf, ATTRIBUTES_AT),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_AT),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_AT),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_AT),
            producer_id: be_i64(buf, PRODUCER_ID_AT),
            producer_epoch: be_i16(buf, PRODUCER_EPOCH_AT),
            base_sequence: be_i32(buf, BASE_SEQUENCE_AT),
            records_count: be_i32(buf, RECORDS_COUNT_AT),
        })
    }

    /// Whole batch size on disk and on the wire; 0 if `batch_length` is negative.
    pub fn total_size(&self) -> usize {
        usize::try_from(self.batch_length).map_or(0, |len| len + LOG_OVERHEAD)
    }

    /// Offset of the last record.
    /// Saturates rather than overflowing on a hostile header.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// Compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    /// Whose clock the timestamps come from.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Holds control records (transaction markers) rather than data.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// KIP-534: the log cleaner has stamped the batch's delete horizon into
    /// baseTimestamp; its tombstones may be removed once that time has passed.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }
}

/// CRC-32C (Castagnoli) over `attributes..end` of a whole batch.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_AT..])
}

/// One batch out of a [`BatchIter`]: its parsed header and its bytes (a zero-copy slice).
#[derive(Debug, Clone)]
pub struct Batch {
    /// The parsed header.
    pub header: RecordBatchHeader,
    /// The whole batch, header included.
    pub bytes: Bytes,
}

/// Iterates over concatenated batches in a buffer, as found in a fetch response, a
/// produce request or a segment file. Stops cleanly at a partial trailing batch (fetch
/// responses may end with one) and at a length field too small to be a v2 batch;
/// [`BatchIter::position`] tells how far it got. Does not check CRCs or magic.
#[derive(Debug, Clone)]
pub struct BatchIter {
    buf: Bytes,
    position: usize,
}

impl BatchIter {
    /// Iterates over `buf` from its start.
    pub fn new(buf: Bytes) -> BatchIter {
        BatchIter { buf, position: 0 }
    }

    /// Bytes consumed by the whole batches returned so far.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl Iterator for BatchIter {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let rest = &self.buf[self.position..];
        let header = RecordBatchHeader::parse(rest)?;
        let size = header.total_size();
        if size < HEADER_SIZE || size > rest.len() {
            return None;
        }
        let bytes = self.buf.slice(self.position..self.position + size);
        self.position += size;
        Some(Batch { header, bytes })
    }
}

/// Checks one batch at the start of `buf` (which starts at byte `position` of an append)
/// the way Kafka's broker does before accepting it: lengths, magic, size limit, CRC,
/// compression codec, record count. Returns the parsed header.
pub(crate) fn validate(
    buf: &[u8],
    position: usize,
    max_batch_bytes: u64,
) -> Result<RecordBatchHeader, LogError> {
    let corrupt = |reason: String| LogError::CorruptRecord { position, reason };
    let invalid = |reason: String| LogError::InvalidRecord { position, reason };
    if buf.len() < LOG_OVERHEAD {
        return Err(corrupt(format!(
            "{} trailing bytes are too few for a batch's offset and length",
            buf.len()
        )));
    }
    let batch_length = be_i32(buf, BATCH_LENGTH_AT);
    // Magic is checked as soon as it is present so that a v0/v1 message set gets the
    // specific error rather than a confusing length complaint.
    if buf.len() > MAGIC_AT {
        let magic = buf[MAGIC_AT] as i8;
        if magic == 0 || magic == 1 {
            return Err(LogError::UnsupportedMagic { magic });
        }
        if magic != MAGIC_V2 {
            return Err(corrupt(format!("unknown magic {magic}")));
        }
    }
    let min_length = (HEADER_SIZE - LOG_OVERHEAD) as i32;
    if batch_length < min_length {
        return Err(corrupt(format!(
            "batchLength {batch_length} is smaller than the v2 header ({min_length})"
        )));
    }
    let size = batch_length as usize + LOG_OVERHEAD;
    if size > buf.len() {
        return Err(corrupt(format!(
            "batchLength {batch_length} runs past the end of the data ({} bytes remain)",
            buf.len()
        )));
    }
    if size as u64 > max_batch_bytes {
        return Err(LogError::RecordTooLarge {
            size,
            max: max_batch_bytes,
        });
    }
    let batch = &buf[..size];
    let header = RecordBatchHeader::parse(batch).expect("size >= HEADER_SIZE");
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(corrupt(format!(
            "CRC-32C mismatch: stored {:#010x}, computed {computed:#010x}",
            header.crc
        )));
    }
    if i16::from(header.compression()) > MAX_COMPRESSION_CODEC {
        return Err(invalid(format!(
            "unknown compression codec {}",
            header.compression()
        )));
    }
    // Kafka's LogValidator: a client batch must hold at least one record and exactly
    // as many records as its offset range spans.
    if header.records_count <= 0 {
        return Err(invalid(format!(
            "recordsCount {} is not positive",
            header.records_count
        )));
    }
    if header.last_offset_delta < 0
        || i64::from(header.last_offset_delta) + 1 != i64::from(header.records_count)
    {
        return Err(invalid(format!(
            "lastOffsetDelta {} does not match recordsCount {}",
            header.last_offset_delta, header.records_count
        )));
    }
    Ok(header)
}

/// Checks a stored batch during recovery: lengths, magic and CRC, nothing that depends on
/// configuration. `Err` holds a human-readable reason.
pub(crate) fn check_stored(batch: &[u8]) -> Result<RecordBatchHeader, String> {
    let header = RecordBatchHeader::parse(batch)
        .ok_or_else(|| format!("only {} bytes, less than a header", batch.len()))?;
    if header.magic != MAGIC_V2 {
        return Err(format!("magic {}", header.magic));
    }
    if header.total_size() < HEADER_SIZE || header.total_size() != batch.len() {
        return Err(format!("batchLength {}", header.batch_length));
    }
    if header.last_offset_delta < 0 {
        return Err(format!("lastOffsetDelta {}", header.last_offset_delta));
    }
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(format!(
            "CRC-32C mismatch: stored {:#010x}, computed {computed:#010x}",
            header.crc
        ));
    }
    Ok(header)
}

/// Assigns the batch's base offset. baseOffset lies outside the CRC'd region, so the
/// CRC stays valid.
pub(crate) fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Stamps the leader epoch; like baseOffset it lies outside the CRC'd region.
pub(crate) fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[PARTITION_LEADER_EPOCH_AT..PARTITION_LEADER_EPOCH_AT + 4]
        .copy_from_slice(&epoch.to_be_bytes());
}

/// Marks the batch as LogAppendTime with `now_ms` as its max timestamp and recomputes
/// the CRC. Like Kafka (`DefaultRecordBatch.setMaxTimestamp`), baseTimestamp and the
/// record deltas are left alone: readers take every record's timestamp from
/// maxTimestamp when the LogAppendTime bit is set.
pub(crate) fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attributes = be_i16(batch, ATTRIBUTES_AT) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: usize) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new();
        for i in 0..records {
            b.push(1_000 + i as i64, Some(b"k"), Some(b"value"));
        }
        b.build().to_vec()
    }

    #[test]
    fn builder_output_parses_and_validates() {
        let buf = batch(3);
        let h = validate(&buf, 0, 1 << 20).unwrap();
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.base_timestamp, 1_000);
        assert_eq!(h.max_timestamp, 1_002);
        assert_eq!(h.total_size(), buf.len());
        assert_eq!(h.producer_id, -1);
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert!(check_stored(&buf).is_ok());
    }

    #[test]
    fn iterator_stops_at_partial_trailing_batch() {
        let one = batch(2);
        let mut all = one.clone();
        all.extend_from_slice(&one);
        all.extend_from_slice(&one[..one.len() - 1]);
        let mut it = BatchIter::new(Bytes::from(all));
        assert_eq!(it.by_ref().count(), 2);
        assert_eq!(it.position(), 2 * one.len());
    }

    #[test]
    fn iterator_stops_at_impossible_length() {
        let mut buf = batch(1);
        buf[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert_eq!(BatchIter::new(Bytes::from(buf)).count(), 0);
    }

    #[test]
    fn validation_rejects_damage() {
        let good = batch(2);
        let mut crc = good.clone();
        *crc.last_mut().unwrap() ^= 1;
        assert!(matches!(
            validate(&crc, 0, 1 << 20),
            Err(LogError::CorruptRecord { .. })
        ));
        let mut magic = good.clone();
        magic[16] = 1;
        assert!(matches!(
            validate(&magic, 0, 1 << 20),
            Err(LogError::UnsupportedMagic { magic: 1 })
        ));
        magic[16] = 3;
        assert!(matches!(
            validate(&magic, 0, 1 << 20),
            Err(LogError::CorruptRecord { .. })
        ));
        let mut long = good.clone();
        long[8..12].copy_from_slice(&((good.len() - 11) as i32).to_be_bytes());
        assert!(matches!(
            validate(&long, 0, 1 << 20),
            Err(LogError::CorruptRecord { .. })
        ));
        assert!(matches!(
            validate(&good[..good.len() - 1], 0, 1 << 20),
            Err(LogError::CorruptRecord { .. })
        ));
        assert!(matches!(
            validate(&good[..5], 0, 1 << 20),
            Err(LogError::CorruptRecord { .. })
        ));
    }

    #[test]
    fn size_limit_is_inclusive() {
        let good = batch(1);
        assert!(validate(&good, 0, good.len() as u64).is_ok());
        assert!(matches!(
            validate(&good, 0, good.len() as u64 - 1),
            Err(LogError::RecordTooLarge { .. })
        ));
    }

    #[test]
    fn count_mismatch_is_invalid_not_corrupt() {
        let mut buf = batch(3);
        buf[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&2i32.to_be_bytes());
        let crc = compute_crc(&buf);
        buf[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            validate(&buf, 0, 1 << 20),
            Err(LogError::InvalidRecord { .. })
        ));
    }

    /// Mutated and truncated inputs must produce errors or clean stops, never panics.
    #[test]
    fn hostile_input_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let good = [batch(3), batch(1)].concat();
        for _ in 0..5_000 {
            let mut buf = good.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % buf.len() as u64) as usize;
                buf[at] = next() as u8;
            }
            let cut = (next() % (buf.len() as u64 + 1)) as usize;
            buf.truncate(cut);
            let _ = validate(&buf, 0, 1 << 20);
            let _ = check_stored(&buf);
            for b in BatchIter::new(Bytes::from(buf.clone())) {
                let _ = b.header.last_offset();
                if let Some(records) = records::RecordPositions::new(&b.bytes) {
                    let _ = records.count();
                }
            }
        }
    }

    #[test]
    fn log_append_time_rewrite_keeps_crc_valid() {
        let mut buf = batch(2);
        set_base_offset(&mut buf, 42);
        set_log_append_time(&mut buf, 99_999);
        let h = check_stored(&buf).unwrap();
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.max_timestamp, 99_999);
        assert_eq!(h.base_timestamp, 1_000);
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    }
}
