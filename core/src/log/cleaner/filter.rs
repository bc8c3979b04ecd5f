//! Deciding what happens to one batch: kept byte for byte, dropped, or rewritten with
//! only its surviving records.
//!
//! A record survives unless a later record with the same key exists in the dirty range
//! (the offset map says so), or it is a tombstone whose batch's delete horizon has
//! passed. Batches the cleaner cannot or must not look into are kept whole: control
//! batches and transactional batches (no transaction support yet, so aborted data
//! cannot be told apart), unknown codecs, and batches that fail to decompress or parse
//! or would decompress beyond the cap.

use bytes::Bytes;

use super::offset_map::OffsetMap;
use crate::log::batch::record::{encode_batch, encode_record, Record, RecordIter};
use crate::log::batch::{Batch, RecordBatchHeader, HEADER_SIZE};
use crate::log::compression::{self, Compression};
use crate::log::config::TimestampType;

/// KIP-534's delete horizon flag in the batch attributes.
const DELETE_HORIZON_BIT: i16 = 0x40;

/// The records of a batch the cleaner may look into, or `None` if it must keep the
/// batch whole.
pub(super) fn records_of(batch: &Batch, max_decompressed: usize) -> Option<Vec<Record>> {
    let header = &batch.header;
    if header.is_control() || header.is_transactional() {
        return None;
    }
    let codec = Compression::from_attributes(header.attributes)?;
    let section = batch.bytes.slice(HEADER_SIZE..);
    let section = match codec {
        Compression::None => section,
        codec => match compression::decompress(codec, &section, max_decompressed) {
            Ok(plain) => Bytes::from(plain),
            Err(error) => {
                tracing::warn!(base_offset = header.base_offset, %error, "cleaner keeps a batch it cannot decompress");
                return None;
            }
        },
    };
    match RecordIter::new(section, header.records_count).collect() {
        Ok(records) => Some(records),
        Err(error) => {
            tracing::warn!(base_offset = header.base_offset, %error, "cleaner keeps a batch it cannot parse");
            None
        }
    }
}

/// What becomes of a batch.
#[derive(Debug)]
pub(super) enum Outcome {
    Keep,
    Drop,
    Rewrite(RecordBatchHeader, Vec<u8>),
}

/// Counters and the earliest pending tombstone horizon, for the pass's report.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Tally {
    pub(super) records_removed: u64,
    pub(super) tombstones_removed: u64,
    pub(super) next_horizon_ms: Option<i64>,
}

pub(super) fn filter_batch(
    batch: &Batch,
    map: &OffsetMap,
    now_ms: i64,
    delete_retention_ms: i64,
    max_decompressed: usize,
    tally: &mut Tally,
) -> Outcome {
    let Some(records) = records_of(batch, max_decompressed) else {
        return Outcome::Keep;
    };
    let header = &batch.header;
    let horizon = header.delete_horizon_ms();
    let horizon_passed = horizon.is_some_and(|h| h <= now_ms);
    let total = records.len();
    let mut tombstones = 0;
    let kept: Vec<Record> = records
        .into_iter()
        .filter(|record| {
            let offset = header.base_offset + i64::from(record.offset_delta);
            let Some(key) = &record.key else {
                // Keyless records are rejected on produce by Kafka for compacted topics;
                // should any exist, nothing supersedes them.
                return true;
            };
            if map.latest(key).is_some_and(|latest| latest > offset) {
                tally.records_removed += 1;
                return false;
            }
            if record.value.is_none() {
                if horizon_passed {
                    tally.records_removed += 1;
                    tally.tombstones_removed += 1;
                    return false;
                }
                tombstones += 1;
            }
            true
        })
        .collect();
    if kept.is_empty() {
        return Outcome::Drop;
    }
    let new_horizon = match horizon {
        Some(h) => Some(h),
        None if tombstones > 0 => Some(now_ms.saturating_add(delete_retention_ms)),
        None => None,
    };
    if tombstones > 0 {
        let h = new_horizon.expect("set when tombstones remain");
        tally.next_horizon_ms = Some(tally.next_horizon_ms.map_or(h, |n| n.min(h)));
    }
    if kept.len() == total && new_horizon == horizon {
        return Outcome::Keep;
    }
    match rewrite(header, &kept, new_horizon) {
        Some((header, bytes)) => Outcome::Rewrite(header, bytes),
        None => Outcome::Keep,
    }
}

/// A batch holding `kept` with the original's base offset, producer fields, leader
/// epoch and codec. Record offsets keep their deltas (offsets never change); the last
/// offset delta becomes the last kept record's. Timestamps stay exact: deltas are
/// rebased on the new baseTimestamp, which is the delete horizon when one is set.
fn rewrite(
    original: &RecordBatchHeader,
    kept: &[Record],
    horizon: Option<i64>,
) -> Option<(RecordBatchHeader, Vec<u8>)> {
    let codec = Compression::from_attributes(original.attributes)?;
    let base_timestamp = horizon.unwrap_or(original.base_timestamp);
    let mut section = Vec::new();
    let mut max_timestamp = -1i64;
    for record in kept {
        let timestamp = original.base_timestamp.wrapping_add(record.timestamp_delta);
        max_timestamp = max_timestamp.max(timestamp);
        encode_record(
            &mut section,
            record,
            timestamp.wrapping_sub(base_timestamp),
            record.offset_delta,
        );
    }
    let section = match compression::compress(codec, &section) {
        Ok(compressed) => compressed,
        Err(error) => {
            tracing::warn!(base_offset = original.base_offset, %error, "cleaner keeps a batch it cannot recompress");
            return None;
        }
    };
    let mut attributes = original.attributes;
    if horizon.is_some() {
        attributes |= DELETE_HORIZON_BIT;
    }
    let header = RecordBatchHeader {
        attributes,
        last_offset_delta: kept.last().map_or(0, |r| r.offset_delta),
        base_timestamp,
        max_timestamp: match original.timestamp_type() {
            TimestampType::LogAppendTime => original.max_timestamp,
            TimestampType::CreateTime => max_timestamp,
        },
        records_count: kept.len() as i32,
        ..*original
    };
    let bytes = encode_batch(&header, &section);
    let header = RecordBatchHeader::parse(&bytes).expect("a whole batch");
    Some((header, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{check_stored, RecordBatchBuilder};

    fn batch_of(records: &[(&[u8], Option<&[u8]>)], base_offset: i64, codec: Compression) -> Batch {
        let mut builder = RecordBatchBuilder::new();
        for (i, (key, value)) in records.iter().enumerate() {
            builder.push(1_000 + i as i64, Some(key), *value);
        }
        let plain = builder.build();
        let mut header = RecordBatchHeader::parse(&plain).unwrap();
        header.base_offset = base_offset;
        header.attributes |= codec.id();
        let section = compression::compress(codec, &plain[HEADER_SIZE..]).unwrap();
        let bytes = Bytes::from(encode_batch(&header, &section));
        Batch {
            header: RecordBatchHeader::parse(&bytes).unwrap(),
            bytes,
        }
    }

    fn run(batch: &Batch, map: &OffsetMap, now_ms: i64) -> (Outcome, Tally) {
        let mut tally = Tally::default();
        let outcome = filter_batch(batch, map, now_ms, 100, 1 << 20, &mut tally);
        (outcome, tally)
    }

    #[test]
    fn superseded_records_go_and_offsets_stay() {
        let batch = batch_of(
            &[(b"a", Some(b"1")), (b"b", Some(b"2")), (b"a", Some(b"3"))],
            10,
            Compression::Zstd,
        );
        let mut map = OffsetMap::default();
        map.insert(b"a", 12);
        map.insert(b"b", 50);
        let (Outcome::Rewrite(header, bytes), tally) = run(&batch, &map, 0) else {
            panic!("expected a rewrite");
        };
        assert_eq!(tally.records_removed, 2);
        assert!(check_stored(&bytes).is_ok());
        assert_eq!((header.base_offset, header.last_offset()), (10, 12));
        assert_eq!(header.compression(), Compression::Zstd.id() as u8);
        assert_eq!((header.records_count, header.max_timestamp), (1, 1_002));
        let rebuilt = Batch {
            header,
            bytes: Bytes::from(bytes),
        };
        let records = records_of(&rebuilt, 1 << 20).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].offset_delta, 2);
        assert_eq!(records[0].value.as_deref(), Some(&b"3"[..]));
        assert_eq!(
            header.base_timestamp + records[0].timestamp_delta,
            1_002,
            "record timestamps are kept"
        );
    }

    #[test]
    fn untouched_batches_are_kept_and_emptied_ones_dropped() {
        let batch = batch_of(&[(b"a", Some(b"1"))], 0, Compression::Snappy);
        let mut map = OffsetMap::default();
        map.insert(b"a", 0);
        assert!(matches!(run(&batch, &map, 0).0, Outcome::Keep));
        map.insert(b"a", 1);
        assert!(matches!(run(&batch, &map, 0).0, Outcome::Drop));
    }

    #[test]
    fn tombstones_get_a_horizon_and_go_after_it() {
        let batch = batch_of(&[(b"a", None), (b"b", Some(b"x"))], 0, Compression::Gzip);
        let map = OffsetMap::default();
        let (Outcome::Rewrite(header, bytes), tally) = run(&batch, &map, 5_000) else {
            panic!("expected the horizon to be stamped");
        };
        assert_eq!(header.delete_horizon_ms(), Some(5_100));
        assert_eq!(tally.next_horizon_ms, Some(5_100));
        let stamped = Batch {
            header,
            bytes: Bytes::from(bytes),
        };
        let records = records_of(&stamped, 1 << 20).unwrap();
        assert_eq!(header.base_timestamp + records[1].timestamp_delta, 1_001);
        assert!(matches!(run(&stamped, &map, 5_100 - 1).0, Outcome::Keep));
        let (Outcome::Rewrite(after, _), tally) = run(&stamped, &map, 5_100) else {
            panic!("expected the tombstone to go");
        };
        assert_eq!((tally.tombstones_removed, after.records_count), (1, 1));
        assert_eq!(tally.next_horizon_ms, None);
    }

    #[test]
    fn batches_it_must_not_or_cannot_read_are_kept_whole() {
        let mut map = OffsetMap::default();
        map.insert(b"a", 100);
        // A decompression bomb: fine for the codec, beyond the cleaner's cap.
        let big = vec![0u8; 2 << 20];
        let bomb = batch_of(&[(b"a", Some(&big))], 0, Compression::Lz4);
        assert!(bomb.bytes.len() < 64 << 10);
        let mut tally = Tally::default();
        let outcome = filter_batch(&bomb, &map, 0, 100, 1 << 20, &mut tally);
        assert!(matches!(outcome, Outcome::Keep));
        // Control and transactional batches.
        for bit in [0x10i16, 0x20] {
            let mut batch = batch_of(&[(b"a", Some(b"1"))], 0, Compression::None);
            batch.header.attributes |= bit;
            assert!(matches!(run(&batch, &map, 0).0, Outcome::Keep));
        }
        // Records that do not parse.
        let mut batch = batch_of(&[(b"a", Some(b"1"))], 0, Compression::None);
        batch.header.records_count = 3;
        assert!(matches!(run(&batch, &map, 0).0, Outcome::Keep));
    }

    #[test]
    fn log_append_time_batches_keep_their_max_timestamp() {
        let mut batch = batch_of(
            &[(b"a", Some(b"1")), (b"b", Some(b"2"))],
            0,
            Compression::None,
        );
        batch.header.attributes |= 0x08;
        batch.header.max_timestamp = 77_777;
        let mut map = OffsetMap::default();
        map.insert(b"a", 9);
        let (Outcome::Rewrite(header, _), _) = run(&batch, &map, 0) else {
            panic!("expected a rewrite");
        };
        assert_eq!(header.max_timestamp, 77_777);
        assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
    }
}
