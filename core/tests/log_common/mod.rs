//! Shared helpers for the log integration tests. The batch encoder here is written
//! independently of `weir_core::log::batch::RecordBatchBuilder` so each checks the other.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use weir_core::log::batch::{BatchIter, RecordBatchHeader};
use weir_core::log::{Log, LogConfig};

fn zigzag(out: &mut Vec<u8>, v: i64) {
    let mut raw = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if raw < 0x80 {
            out.push(raw as u8);
            return;
        }
        out.push((raw & 0x7f) as u8 | 0x80);
        raw >>= 7;
    }
}

/// A magic-v2 batch of `timestamps.len()` records (record i: key `k{i}`, value of
/// `value_len` bytes), base offset 0, CreateTime, attributes `attributes`.
pub fn batch_with(timestamps: &[i64], value_len: usize, attributes: i16) -> Bytes {
    let base_ts = timestamps[0];
    let mut records = Vec::new();
    for (i, ts) in timestamps.iter().enumerate() {
        let key = format!("k{i}");
        let mut r = vec![0u8]; // attributes
        zigzag(&mut r, ts - base_ts);
        zigzag(&mut r, i as i64);
        zigzag(&mut r, key.len() as i64);
        r.extend_from_slice(key.as_bytes());
        zigzag(&mut r, value_len as i64);
        r.extend(std::iter::repeat_n(b'v', value_len));
        zigzag(&mut r, 0); // headers
        zigzag(&mut records, r.len() as i64);
        records.extend_from_slice(&r);
    }
    let n = timestamps.len() as i32;
    let mut b = Vec::new();
    b.extend_from_slice(&0i64.to_be_bytes()); // baseOffset
    b.extend_from_slice(&((49 + records.len()) as i32).to_be_bytes()); // batchLength
    b.extend_from_slice(&0i32.to_be_bytes()); // partitionLeaderEpoch
    b.push(2); // magic
    b.extend_from_slice(&[0; 4]); // crc
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&(n - 1).to_be_bytes()); // lastOffsetDelta
    b.extend_from_slice(&base_ts.to_be_bytes());
    b.extend_from_slice(&timestamps.iter().max().unwrap().to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    b.extend_from_slice(&n.to_be_bytes()); // recordsCount
    b.extend_from_slice(&records);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

/// `n` records all timestamped `ts`, 10-byte values.
pub fn batch(n: usize, ts: i64) -> Bytes {
    batch_with(&vec![ts; n], 10, 0)
}

/// Concatenation of batches, as in one produce request.
pub fn concat(batches: &[Bytes]) -> Bytes {
    Bytes::from(
        batches
            .iter()
            .flat_map(|b| b.iter().copied())
            .collect::<Vec<u8>>(),
    )
}

pub fn headers(bytes: &Bytes) -> Vec<RecordBatchHeader> {
    BatchIter::new(bytes.clone()).map(|b| b.header).collect()
}

/// Fast-rolling defaults for tests.
pub fn config() -> LogConfig {
    LogConfig {
        retention_ms: -1,
        ..LogConfig::default()
    }
}

pub fn partition_dir(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("orders-0")
}

pub fn open(dir: &Path, config: LogConfig) -> Log {
    Log::open(dir, config, 1_000).expect("open log")
}

/// Every batch header from `from` to the log end, in as many reads as needed.
pub fn read_all(log: &Log, from: i64) -> Vec<RecordBatchHeader> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let bytes = log.read(next, 1 << 20, log.log_end_offset()).unwrap();
        let hs = headers(&bytes);
        assert!(!hs.is_empty(), "no progress at {next}");
        next = hs.last().unwrap().base_offset + hs.last().unwrap().last_offset_delta as i64 + 1;
        out.extend(hs);
    }
    out
}

/// Sorted file names in `dir` with the given suffix.
pub fn files(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

/// Reads a big-endian u32 pair index file into (relative offset, position) entries.
pub fn offset_index_entries(path: &Path) -> Vec<(u32, u32)> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|e| {
            (
                u32::from_be_bytes(e[..4].try_into().unwrap()),
                u32::from_be_bytes(e[4..].try_into().unwrap()),
            )
        })
        .collect()
}
