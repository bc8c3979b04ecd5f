//! What the owner hands to the cleaner: the cleanable segments and the cleaner
//! checkpoint, taken under `&self` in a few microseconds, so the heavy pass can run
//! elsewhere while the owner keeps serving appends and reads.

use std::path::{Path, PathBuf};

use super::CLEANER_CHECKPOINT_FILE;
use crate::log::checkpoint;
use crate::log::config::LogConfig;
use crate::log::error::LogError;
use crate::log::local_log::Log;
use crate::log::segment::{file_name, LOG_SUFFIX};

/// One inactive segment as the snapshot saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSnapshot {
    /// The segment's base offset (its file name).
    pub base_offset: i64,
    /// The next segment's base offset: every offset of this one is below it.
    pub end_offset: i64,
    /// Size of its `.log` in bytes.
    pub size: u64,
}

/// The cleanable part of a compacted log at one moment: its inactive segments from the
/// log start up to the first uncleanable offset (the active segment's base, or the
/// first segment younger than `min.compaction.lag.ms`), and where the dirty (not yet
/// cleaned) range starts.
#[derive(Debug, Clone)]
pub struct CleanSnapshot {
    pub(super) dir: PathBuf,
    pub(super) segments: Vec<SegmentSnapshot>,
    pub(super) first_dirty_offset: i64,
    pub(super) config: LogConfig,
    pub(super) now_ms: i64,
}

impl CleanSnapshot {
    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cleanable segments, oldest first.
    pub fn segments(&self) -> &[SegmentSnapshot] {
        &self.segments
    }

    /// Offsets below this were cleaned by an earlier pass (the cleaner checkpoint).
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    /// The first offset this pass may not touch.
    pub fn first_uncleanable_offset(&self) -> i64 {
        self.segments
            .last()
            .map_or(self.first_dirty_offset, |s| s.end_offset)
    }

    /// Bytes of cleanable segments at or beyond the first dirty offset.
    pub fn dirty_bytes(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.end_offset > self.first_dirty_offset)
            .map(|s| s.size)
            .sum()
    }

    /// Dirty bytes over all cleanable bytes, Kafka's `cleanableRatio`; 0 when empty.
    pub fn dirty_ratio(&self) -> f64 {
        let total: u64 = self.segments.iter().map(|s| s.size).sum();
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes() as f64 / total as f64
        }
    }

    /// Whether a pass is due: the dirty ratio reached `min.cleanable.dirty.ratio`, or a
    /// tombstone's delete horizon (`pending_horizon_ms`, from an earlier pass) passed.
    pub fn is_due(&self, pending_horizon_ms: Option<i64>) -> bool {
        let horizon_passed = pending_horizon_ms.is_some_and(|h| h <= self.now_ms);
        let dirty =
            self.dirty_bytes() > 0 && self.dirty_ratio() >= self.config.min_cleanable_dirty_ratio;
        !self.segments.is_empty() && (dirty || horizon_passed)
    }
}

impl Log {
    /// The snapshot a cleaning pass works from; `None` unless the log is compacted and
    /// has cleanable segments. Cheap: no segment is read.
    pub fn cleanable_snapshot(&self, now_ms: i64) -> Result<Option<CleanSnapshot>, LogError> {
        if !self.config.compact {
            return Ok(None);
        }
        let active_base = self.active().base_offset();
        let lag = self.config.min_compaction_lag_ms;
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut segments = Vec::new();
        for (pair, segment) in bases.windows(2).zip(self.segments.values()) {
            let (base, end) = (pair[0], pair[1]);
            if end <= self.log_start_offset {
                continue;
            }
            if base >= active_base
                || (lag > 0 && segment.largest_timestamp() > now_ms.saturating_sub(lag))
            {
                break;
            }
            segments.push(SegmentSnapshot {
                base_offset: base,
                end_offset: end,
                size: segment.size(),
            });
        }
        let Some(first) = segments.first() else {
            return Ok(None);
        };
        let end = segments.last().map_or(first.base_offset, |s| s.end_offset);
        let checkpoint = checkpoint::read(&self.dir.join(CLEANER_CHECKPOINT_FILE))?;
        let first_dirty_offset = checkpoint
            .unwrap_or(first.base_offset)
            .clamp(first.base_offset, end);
        Ok(Some(CleanSnapshot {
            dir: self.dir.clone(),
            segments,
            first_dirty_offset,
            config: self.config.clone(),
            now_ms,
        }))
    }
}

/// The `.log` path of a segment in `dir`.
pub(super) fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(file_name(base_offset, LOG_SUFFIX))
}
