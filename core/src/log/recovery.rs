//! Loading a partition directory at open: clearing leftovers of interrupted operations,
//! opening segments, recovering everything that may not have reached the disk, and
//! rebuilding indexes that are missing or fail their sanity check.
//!
//! The algorithm (also in `docs/on-disk-format.md`):
//!
//! 1. Finish a committed compaction swap (its manifest `cleaner-swap` exists) or delete
//!    the `*.swap` files of an uncommitted one (see `cleaner::swap`); swapped-in
//!    segments are recovered. Delete `*.tmp`, `*.deleted`, `*.cleaned`.
//! 2. Delete index files without a `.log`.
//! 3. Unless the directory holds the clean-shutdown marker, every segment that may hold
//!    offsets at or beyond the recovery point checkpoint is scanned batch by batch,
//!    checking lengths, magic, CRC-32C and offset order; its indexes are rebuilt. At the
//!    first bad batch the `.log` is truncated and every later segment deleted.
//! 4. Any other segment whose indexes are missing or fail the sanity check is rescanned
//!    the same way (truncated if bad, later segments kept: Kafka logs may have gaps).
//! 5. Log start = max(log start checkpoint, first segment's base offset); log end = the
//!    offset after the last batch of the last segment. If the log end fell below the log
//!    start, the log is emptied and restarts at the log start.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::checkpoint;
use super::cleaner::swap::complete_interrupted;
use super::config::LogConfig;
use super::error::LogError;
use super::fs;
use super::segment::{self, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use super::txn_index::TXN_INDEX_SUFFIX;

/// Written by `Log::close` after everything is flushed; removed (durably) by `open`
/// before anything can be appended. Kafka keeps one per log directory
/// (`.kafka_cleanshutdown`); Weir keeps one per partition, like its checkpoints.
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = "clean-shutdown";

const GARBAGE_SUFFIXES: [&str; 3] = [".tmp", ".deleted", ".cleaned"];

#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) segments: BTreeMap<i64, Segment>,
    pub(crate) log_start_offset: i64,
    pub(crate) log_end_offset: i64,
    /// Log start as checkpointed, to know whether it must be rewritten.
    pub(crate) log_start_checkpoint: Option<i64>,
    /// Whether segments were modified (recovered or rebuilt) and need an fsync before
    /// the recovery point can move to the log end.
    pub(crate) recovered: bool,
    /// The directory held the clean-shutdown marker.
    pub(crate) clean_shutdown: bool,
    /// Segments rescanned, and bytes cut off torn or corrupt tails.
    pub(crate) segments_scanned: usize,
    pub(crate) truncated_bytes: u64,
}

pub(crate) fn load(dir: &Path, config: &LogConfig, now_ms: i64) -> Result<Loaded, LogError> {
    if !fs::exists(dir) {
        fs::create_dir_all(dir)?;
        // The new directory's own entry must be durable too, or a power cut could take
        // the whole partition with it (Kafka flushes the parent on log creation).
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::sync_dir(parent)?;
    }
    let forced = clear_leftovers(dir)?;
    let names = fs::list(dir)?;
    let bases: BTreeSet<i64> = names
        .iter()
        .filter_map(|n| segment::parse_file_name(n, LOG_SUFFIX))
        .collect();
    for name in &names {
        let orphan = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]
            .iter()
            .any(|suffix| {
                segment::parse_file_name(name, suffix).is_some_and(|base| !bases.contains(&base))
            });
        if orphan {
            tracing::info!(dir = %dir.display(), file = %name, "deleting index without a segment");
            fs::remove(&dir.join(name))?;
        }
    }

    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    let clean = fs::exists(&marker);
    let recovery_point = checkpoint::read(&dir.join(checkpoint::RECOVERY_POINT_FILE))?.unwrap_or(0);
    let log_start_checkpoint = checkpoint::read(&dir.join(checkpoint::LOG_START_FILE))?;

    let mut segments = BTreeMap::new();
    for &base in &bases {
        segments.insert(base, Segment::open(dir, base, now_ms)?);
    }
    let order: Vec<i64> = bases.iter().copied().collect();
    let mut recovered = false;
    let (mut segments_scanned, mut truncated_bytes) = (0usize, 0u64);
    for (i, &base) in order.iter().enumerate() {
        let next_base = order.get(i + 1).copied();
        // A segment may hold offsets at or beyond the recovery point unless the next
        // segment starts at or below it.
        let unflushed = !clean && next_base.is_none_or(|next| next > recovery_point);
        let Some(segment) = segments.get_mut(&base) else {
            break;
        };
        let why = if unflushed || forced.contains(&base) {
            None
        } else {
            match segment.sanity_check(next_base) {
                Ok(()) => continue,
                Err(why) => Some(why),
            }
        };
        if let Some(why) = &why {
            tracing::warn!(dir = %dir.display(), base_offset = base, "rebuilding indexes: {why}");
        }
        let outcome = segment.recover(config)?;
        recovered = true;
        segments_scanned += 1;
        truncated_bytes += outcome.truncated_bytes;
        if outcome.truncated_bytes > 0 {
            tracing::warn!(
                dir = %dir.display(),
                base_offset = base,
                truncated_bytes = outcome.truncated_bytes,
                valid_bytes = segment.size(),
                next_offset = segment.next_offset(),
                reason = outcome.reason.as_deref().unwrap_or(""),
                "truncated a torn or corrupt tail of the segment"
            );
            if unflushed {
                let later: Vec<i64> = order[i + 1..].to_vec();
                if !later.is_empty() {
                    tracing::warn!(dir = %dir.display(), segments = ?later, "deleting segments after the truncation point");
                }
                for later_base in later {
                    if let Some(later) = segments.remove(&later_base) {
                        later.delete()?;
                    }
                }
                break;
            }
        }
        if next_base.is_some() {
            segment.make_inactive()?;
        }
    }

    if segments.is_empty() {
        let base = log_start_checkpoint.unwrap_or(0).max(0);
        segments.insert(base, Segment::create(dir, base, config, now_ms)?);
    }
    let mut log_end_offset = finish_active(&mut segments, config)?;
    let first_base = *segments.keys().next().expect("at least one segment");
    let log_start_offset = log_start_checkpoint.unwrap_or(first_base).max(first_base);
    if log_end_offset < log_start_offset {
        tracing::warn!(
            dir = %dir.display(),
            log_start_offset,
            log_end_offset,
            "log ends before its start after recovery; emptying it"
        );
        for (_, segment) in std::mem::take(&mut segments) {
            segment.delete()?;
        }
        segments.insert(
            log_start_offset,
            Segment::create(dir, log_start_offset, config, now_ms)?,
        );
        log_end_offset = log_start_offset;
        recovered = true;
    }

    if clean {
        fs::remove(&marker)?;
        fs::sync_dir(dir)?;
    }
    Ok(Loaded {
        segments,
        log_start_offset,
        log_end_offset,
        log_start_checkpoint,
        recovered,
        clean_shutdown: clean,
        segments_scanned,
        truncated_bytes,
    })
}

/// Readies the last segment for appends; returns the log end offset.
fn finish_active(
    segments: &mut BTreeMap<i64, Segment>,
    config: &LogConfig,
) -> Result<i64, LogError> {
    let mut last = segments.last_entry().expect("at least one segment");
    let active = last.get_mut();
    if active.next_offset().is_none() {
        active.load_tail()?;
    }
    active.make_active(config)?;
    Ok(active.next_offset().expect("known after load_tail"))
}

/// Step 1; returns the base offsets of segments completed from a `.swap` file.
fn clear_leftovers(dir: &Path) -> Result<BTreeSet<i64>, LogError> {
    // Compaction swaps are completed or rolled back first (`cleaner::swap`).
    let forced = complete_interrupted(dir)?;
    for name in fs::list(dir)? {
        let path = dir.join(&name);
        if GARBAGE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            tracing::info!(dir = %dir.display(), file = %name, "deleting leftover file");
            fs::remove(&path)?;
        }
    }
    Ok(forced)
}
