//! The log cleaner: compaction of logs whose `cleanup.policy` includes `compact`.
//!
//! A pass keeps, in the log's inactive segments, only the latest record of each key,
//! and removes tombstones (null values) once their delete horizon has passed. It runs in
//! three steps, only the last of which needs the log itself:
//!
//! 1. [`Log::cleanable_snapshot`] (owner, cheap): the inactive segments up to the first
//!    uncleanable offset and the cleaner checkpoint (`cleaner-offset-checkpoint`, where
//!    the dirty range starts);
//! 2. [`clean`] (anywhere, e.g. a blocking thread): reads the dirty range into an offset
//!    map (key → latest offset), then rewrites the cleanable segments, merged into
//!    groups of at most `segment.bytes`, as `*.cleaned` files with their indexes;
//! 3. [`Log::replace_segments`] (owner, cheap): checks the log did not change under the
//!    pass and swaps the new segments in crash-safely (see `swap`), then moves the
//!    checkpoint.
//!
//! What a pass guarantees: offsets never change (a rewritten batch keeps its baseOffset
//! and each record its offset delta, so a reader from any offset sees strictly increasing
//! offsets, with gaps), the active segment is never touched, and each key's latest record
//! in the cleaned range survives. Batches are kept byte for byte when nothing in them
//! goes; a batch that loses records is rebuilt with the same codec (snappy in xerial
//! framing), producer fields and leader epoch, its lastOffsetDelta being the last kept
//! record's. A batch losing every record is dropped.
//!
//! Tombstones follow KIP-534 (Kafka 3.0+): the first pass that keeps a tombstone stamps
//! its batch's delete horizon (attributes bit 6, horizon in baseTimestamp, record
//! timestamp deltas rebased so record timestamps are unchanged) at now +
//! `delete.retention.ms`; a later pass after the horizon removes it. A consumer that
//! reads a compacted topic from the start within `delete.retention.ms` of a tombstone
//! being cleaned therefore sees it. The earliest pending horizon is reported in
//! [`CleanStats::next_horizon_ms`] so the caller can schedule that later pass.

mod filter;
mod offset_map;
mod pass;
mod reader;
mod snapshot;
pub(crate) mod swap;
mod writer;

pub use pass::{clean, CleanStats, CleanedSegments, CleanerLimits};
pub use snapshot::{CleanSnapshot, SegmentSnapshot};

use super::error::LogError;
use super::local_log::Log;

/// Where the dirty range starts: offsets below it were cleaned by an earlier pass. In
/// Kafka's checkpoint format, one entry, one file per partition directory.
pub(crate) const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

impl Log {
    /// Runs a whole pass synchronously if one is due (or `force`): snapshot, clean,
    /// swap. For tools and tests; the broker runs step 2 off the partition owner.
    /// Returns the pass's figures, `None` if nothing was done.
    pub fn compact(&mut self, now_ms: i64, force: bool) -> Result<Option<CleanStats>, LogError> {
        let Some(snapshot) = self.cleanable_snapshot(now_ms)? else {
            return Ok(None);
        };
        if !force && !snapshot.is_due(None) {
            return Ok(None);
        }
        let Some(cleaned) = clean(&snapshot, &CleanerLimits::default(), &|| false)? else {
            return Ok(None);
        };
        let stats = cleaned.stats;
        Ok(self.replace_segments(cleaned, now_ms)?.then_some(stats))
    }
}
