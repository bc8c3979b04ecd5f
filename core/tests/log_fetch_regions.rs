//! Fetch regions: `Log::read_records` names exactly the batches the fetch rules pick
//! (whole batches, KIP-74's first batch, nothing at or beyond the upper bound, across
//! segment boundaries), checked against a brute-force reference that parses the
//! segment files itself; and regions stay readable when their segment is deleted.

mod log_common;

use std::os::unix::fs::FileExt;
use std::path::Path;

use log_common::*;
use weir_core::log::{FetchedRecords, LogConfig};

/// One batch as found in a segment file by the reference parser.
#[derive(Debug, Clone)]
struct StoredBatch {
    segment: String,
    last_offset: i64,
    bytes: Vec<u8>,
}

/// Every batch of every `.log` file in `dir`, in offset order, parsed from the raw
/// bytes (baseOffset at 0, batchLength at 8, lastOffsetDelta at 23, big-endian).
fn stored_batches(dir: &Path) -> Vec<StoredBatch> {
    let mut out = Vec::new();
    for name in files(dir, ".log") {
        let data = std::fs::read(dir.join(&name)).unwrap();
        let mut pos = 0;
        while pos + 61 <= data.len() {
            let be_i64 = |at: usize| i64::from_be_bytes(data[at..at + 8].try_into().unwrap());
            let be_i32 = |at: usize| i32::from_be_bytes(data[at..at + 4].try_into().unwrap());
            let base_offset = be_i64(pos);
            let size = 12 + be_i32(pos + 8) as usize;
            let last_offset = base_offset + i64::from(be_i32(pos + 23));
            out.push(StoredBatch {
                segment: name.clone(),
                last_offset,
                bytes: data[pos..pos + size].to_vec(),
            });
            pos += size;
        }
        assert_eq!(pos, data.len(), "{name} ends inside a batch");
    }
    out
}

/// The fetch rules, applied to the whole log at once: from the batch holding
/// `offset`, whole batches below `upper_bound`; the first always (KIP-74), the rest
/// while the total stays within `max_bytes`.
fn reference(
    batches: &[StoredBatch],
    offset: i64,
    max_bytes: usize,
    upper_bound: i64,
) -> Vec<&StoredBatch> {
    let mut taken: Vec<&StoredBatch> = Vec::new();
    let mut total = 0;
    for batch in batches.iter().filter(|b| b.last_offset >= offset) {
        if batch.last_offset >= upper_bound {
            break;
        }
        if !taken.is_empty() && total + batch.bytes.len() > max_bytes {
            break;
        }
        total += batch.bytes.len();
        taken.push(batch);
    }
    taken
}

/// The regions' bytes, read straight from their file handles with `pread`.
fn region_bytes(fetched: &FetchedRecords) -> Vec<u8> {
    let mut out = Vec::new();
    for region in fetched.regions() {
        let mut buf = vec![0; region.len()];
        region
            .file()
            .read_exact_at(&mut buf, region.position())
            .unwrap();
        out.extend_from_slice(&buf);
    }
    out
}

fn check_against_reference(
    dir: &Path,
    batches: &[StoredBatch],
    fetched: &FetchedRecords,
    (offset, max_bytes, upper_bound): (i64, usize, i64),
) {
    let expected = reference(batches, offset, max_bytes, upper_bound);
    let expected_bytes: Vec<u8> = expected.iter().flat_map(|b| b.bytes.clone()).collect();
    let case = format!("offset {offset}, max_bytes {max_bytes}, upper bound {upper_bound}");
    assert_eq!(fetched.len(), expected_bytes.len(), "{case}");
    assert!(
        region_bytes(fetched) == expected_bytes,
        "{case}: bytes differ"
    );
    assert_eq!(
        fetched.read_to_bytes().unwrap(),
        expected_bytes,
        "{case}: the copying path differs"
    );
    // One region per segment touched, each inside its own segment file.
    let mut segments: Vec<&str> = expected.iter().map(|b| b.segment.as_str()).collect();
    segments.dedup();
    assert_eq!(fetched.regions().len(), segments.len(), "{case}");
    for (region, segment) in fetched.regions().iter().zip(segments) {
        assert_eq!(region.path(), dir.join(segment), "{case}");
        let size = region.file().metadata().unwrap().len();
        assert!(region.position() + region.len() as u64 <= size, "{case}");
    }
}

/// Marsaglia's xorshift64: deterministic, no extra crates.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn regions_cover_exactly_the_batches_the_fetch_rules_pick() {
    for seed in [1u64, 7, 42, 1234, 99_991] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition_dir(&tmp);
        let mut rng = XorShift(seed);
        let mut log = open(
            &dir,
            LogConfig {
                segment_bytes: 2_000 + rng.below(20_000),
                ..config()
            },
        );
        // Tiny batches (read through a window of headers) and large ones (one header
        // read each), mixed.
        for _ in 0..150 {
            let records = 1 + rng.below(5) as usize;
            let value_len = match rng.below(3) {
                0 => rng.below(20),
                1 => 200 + rng.below(800),
                _ => 1_500 + rng.below(6_000),
            } as usize;
            log.append(batch_with(&vec![1_000; records], value_len, 0), 1_000)
                .unwrap();
        }
        assert!(log.segment_count() > 3, "seed {seed}: the log should roll");
        let batches = stored_batches(&dir);
        let end = log.log_end_offset();
        for _ in 0..400 {
            let offset = rng.below(end as u64 + 1) as i64;
            let max_bytes = match rng.below(4) {
                0 => 0,
                1 => rng.below(100) as usize,
                2 => rng.below(30_000) as usize,
                _ => 1 << 20,
            };
            let upper_bound = if rng.below(2) == 0 {
                end
            } else {
                offset + rng.below((end - offset) as u64 + 1) as i64
            };
            let fetched = log.read_records(offset, max_bytes, upper_bound).unwrap();
            check_against_reference(&dir, &batches, &fetched, (offset, max_bytes, upper_bound));
        }
    }
}

#[test]
fn a_read_across_segments_has_a_region_in_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(3, 1_000);
    let mut log = open(
        &dir,
        LogConfig {
            segment_bytes: (b.len() * 2) as u64,
            ..config()
        },
    );
    for _ in 0..6 {
        log.append(b.clone(), 1_000).unwrap();
    }
    assert_eq!(log.segment_count(), 3);
    let batches = stored_batches(&dir);
    // From the middle of the first segment to the end: three segments, three regions.
    let fetched = log.read_records(4, 1 << 20, 18).unwrap();
    assert_eq!(fetched.regions().len(), 3);
    assert_eq!(fetched.len(), b.len() * 5);
    check_against_reference(&dir, &batches, &fetched, (4, 1 << 20, 18));
    // The budget ends exactly at a segment boundary: the next segment is not touched.
    let fetched = log.read_records(0, b.len() * 2, 18).unwrap();
    assert_eq!(fetched.regions().len(), 1);
    assert_eq!(fetched.len(), b.len() * 2);
}

#[test]
fn the_first_batch_exceeds_the_budget_and_the_upper_bound_cuts_whole_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, config());
    let big = batch_with(&[1_000; 4], 5_000, 0);
    log.append(big.clone(), 1_000).unwrap(); // offsets 0..=3
    log.append(batch(2, 1_000), 1_000).unwrap(); // 4..=5
    log.append(batch(2, 1_000), 1_000).unwrap(); // 6..=7
    let batches = stored_batches(&dir);
    for case in [
        (0, 0, 8),
        (0, 1, 8),
        (2, 100, 8),
        (0, 1 << 20, 6),
        (0, 1 << 20, 5),
    ] {
        let fetched = log.read_records(case.0, case.1, case.2).unwrap();
        check_against_reference(&dir, &batches, &fetched, case);
    }
    // KIP-74: a batch larger than the budget still comes back, alone.
    assert_eq!(log.read_records(0, 1, 8).unwrap().len(), big.len());
    // The upper bound in the middle of a batch leaves that batch out entirely.
    assert_eq!(log.read_records(0, 1 << 20, 5).unwrap().len(), big.len());
    assert!(log.read_records(4, 1 << 20, 5).unwrap().is_empty());
    assert!(log.read_records(8, 1 << 20, 8).unwrap().is_empty());
}

#[test]
fn a_region_of_a_segment_deleted_by_retention_still_reads_its_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let b = batch(3, 1_000);
    let mut log = open(
        &dir,
        LogConfig {
            segment_bytes: (b.len() * 2) as u64,
            ..config()
        },
    );
    for _ in 0..6 {
        log.append(b.clone(), 1_000).unwrap();
    }
    let batches = stored_batches(&dir);
    let fetched = log.read_records(0, 1 << 20, 18).unwrap();
    let before = fetched.read_to_bytes().unwrap();
    // DeleteRecords, like retention, removes whole segments below the new log start.
    log.delete_records_before(12).unwrap();
    let left = files(&dir, ".log");
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!fetched.regions()[0].path().exists());
    check_against_reference(&dir, &batches, &fetched, (0, 1 << 20, 18));
    assert_eq!(fetched.read_to_bytes().unwrap(), before);
}

#[test]
fn a_region_truncated_away_fails_to_read_instead_of_returning_other_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = partition_dir(&tmp);
    let mut log = open(&dir, config());
    for _ in 0..4 {
        log.append(batch(3, 1_000), 1_000).unwrap();
    }
    let fetched = log.read_records(6, 1 << 20, 12).unwrap();
    log.truncate_to(6, 1_000).unwrap();
    let error = fetched.read_to_bytes().unwrap_err();
    assert!(
        error.to_string().contains("00000000000000000000.log"),
        "{error}"
    );
}
