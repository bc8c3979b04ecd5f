//! Producer state snapshots: `<offset>.snapshot` in the partition directory, the
//! offset (20 digits, like segment names) being the log offset the snapshot is taken
//! at — it describes every batch below it. Kafka's format (version 1), big-endian:
//!
//! ```text
//! version: i16 (1)
//! crc: u32                      CRC-32C of everything after this field
//! count: i32, then per producer (46 bytes):
//!     producerId: i64, epoch: i16, lastSequence: i32, lastOffset: i64,
//!     offsetDelta: i32 (lastOffset - firstOffset of the last batch),
//!     timestamp: i64, coordinatorEpoch: i32, currentTxnFirstOffset: i64 (-1: none)
//! ```
//!
//! Only the last batch of each producer is kept, as in Kafka; the batches after the
//! snapshot come back from the replay of the log that follows it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::entry::{decrement_sequence, BatchMetadata, ProducerEntry};
use crate::log::error::LogError;
use crate::log::fs;

pub(crate) const SNAPSHOT_SUFFIX: &str = ".snapshot";
const VERSION: i16 = 1;
const HEADER: usize = 2 + 4 + 4;
const ENTRY: usize = 46;

pub(crate) fn file_name(offset: i64) -> String {
    format!("{offset:020}{SNAPSHOT_SUFFIX}")
}

/// Every snapshot in `dir` by offset.
pub(crate) fn list(dir: &Path) -> Result<BTreeMap<i64, PathBuf>, LogError> {
    Ok(fs::list(dir)?
        .into_iter()
        .filter_map(|name| {
            crate::log::segment::parse_file_name(&name, SNAPSHOT_SUFFIX)
                .map(|offset| (offset, dir.join(name)))
        })
        .collect())
}

pub(crate) fn encode<'a>(entries: impl Iterator<Item = &'a ProducerEntry>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut count = 0i32;
    for entry in entries {
        let last = entry.last_batch();
        body.extend_from_slice(&entry.producer_id.to_be_bytes());
        body.extend_from_slice(&entry.epoch.to_be_bytes());
        body.extend_from_slice(&last.map_or(-1, |b| b.last_sequence).to_be_bytes());
        body.extend_from_slice(&last.map_or(-1, |b| b.last_offset).to_be_bytes());
        let delta = last.map_or(0, |b| (b.last_offset - b.first_offset) as i32);
        body.extend_from_slice(&delta.to_be_bytes());
        body.extend_from_slice(&entry.last_timestamp.to_be_bytes());
        body.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
        body.extend_from_slice(&entry.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        count += 1;
    }
    let mut covered = Vec::with_capacity(4 + body.len());
    covered.extend_from_slice(&count.to_be_bytes());
    covered.extend_from_slice(&body);
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&covered).to_be_bytes());
    out.extend_from_slice(&covered);
    out
}

/// Parses a snapshot; `Err` says why it cannot be trusted.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<ProducerEntry>, String> {
    if bytes.len() < HEADER {
        return Err(format!("{} bytes is shorter than the header", bytes.len()));
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    if version != VERSION {
        return Err(format!("unknown version {version}"));
    }
    let crc = u32::from_be_bytes(bytes[2..6].try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(&bytes[6..]);
    if crc != computed {
        return Err(format!(
            "CRC-32C mismatch: stored {crc:#010x}, computed {computed:#010x}"
        ));
    }
    let count = i32::from_be_bytes(bytes[6..10].try_into().expect("4 bytes"));
    let rest = &bytes[HEADER..];
    let count = usize::try_from(count).map_err(|_| format!("negative count {count}"))?;
    if rest.len() != count.saturating_mul(ENTRY) {
        return Err(format!(
            "{count} entries need {} bytes, the file holds {}",
            count.saturating_mul(ENTRY),
            rest.len()
        ));
    }
    Ok(rest.chunks_exact(ENTRY).map(decode_entry).collect())
}

fn decode_entry(b: &[u8]) -> ProducerEntry {
    let i64_at = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let i32_at = |at: usize| i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    let producer_id = i64_at(0);
    let epoch = i16::from_be_bytes([b[8], b[9]]);
    let last_sequence = i32_at(10);
    let last_offset = i64_at(14);
    let offset_delta = i32_at(22);
    let timestamp = i64_at(26);
    let coordinator_epoch = i32_at(34);
    let txn_first = i64_at(38);
    let mut entry = ProducerEntry::new(producer_id);
    entry.epoch = epoch;
    if last_sequence >= 0 && last_offset >= 0 {
        entry.batches.push_back(BatchMetadata {
            first_sequence: decrement_sequence(last_sequence, offset_delta.max(0)),
            last_sequence,
            first_offset: last_offset - i64::from(offset_delta.max(0)),
            last_offset,
            timestamp,
        });
    }
    entry.last_timestamp = timestamp;
    entry.coordinator_epoch = coordinator_epoch;
    entry.current_txn_first_offset = (txn_first >= 0).then_some(txn_first);
    entry
}

/// Writes the snapshot at `offset` atomically (temporary file, fsync, rename).
pub(crate) fn write<'a>(
    dir: &Path,
    offset: i64,
    entries: impl Iterator<Item = &'a ProducerEntry>,
) -> Result<(), LogError> {
    fs::write_atomically(&dir.join(file_name(offset)), &encode(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_detect_damage() {
        let mut a = ProducerEntry::new(5);
        a.add_batch(
            2,
            BatchMetadata {
                first_sequence: 10,
                last_sequence: 14,
                first_offset: 100,
                last_offset: 104,
                timestamp: 77,
            },
        );
        a.coordinator_epoch = 3;
        a.current_txn_first_offset = Some(100);
        let mut b = ProducerEntry::new(6);
        b.epoch = 0;
        b.last_timestamp = 9;
        let bytes = encode([&a, &b].into_iter());
        assert_eq!(bytes.len(), HEADER + 2 * ENTRY);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, vec![a, b]);
        for at in [0, 3, 12, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(decode(&bad).is_err(), "flipped byte {at}");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn names_sort_by_offset() {
        assert_eq!(file_name(42), "00000000000000000042.snapshot");
    }
}
