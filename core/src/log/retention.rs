//! Deleting old segments: by `retention.ms`, by `retention.bytes`, and below a log start
//! moved by DeleteRecords. Kafka's rules: only whole segments go, oldest first, stopping
//! at the first one that must stay; the active segment may go too (a fresh one is rolled
//! first so the log is never without a segment) unless it is empty.
//!
//! Kafka also never deletes beyond the high watermark; the log does not know it, so the
//! partition layer must not enable retention on a follower's unreplicated tail.

use super::error::LogError;
use super::local_log::Log;
use super::segment::Segment;

impl Log {
    /// Applies retention by time (a segment's largest timestamp older than
    /// `retention.ms`) and by size (oldest segments while the log exceeds
    /// `retention.bytes`), and drops segments wholly below the log start. Advances and
    /// persists the log start. Returns the number of segments deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let mut deleted = self.delete_segments_below_log_start()?;
        let retention_ms = self.config.retention_ms;
        if retention_ms >= 0 {
            deleted += self.delete_oldest_while(now_ms, |segment| {
                now_ms.saturating_sub(segment.largest_timestamp()) > retention_ms
            })?;
        }
        let retention_bytes = self.config.retention_bytes;
        if retention_bytes >= 0 {
            let mut excess = i64::try_from(self.size_bytes()).unwrap_or(i64::MAX) - retention_bytes;
            deleted += self.delete_oldest_while(now_ms, |segment| {
                let size = i64::try_from(segment.size()).unwrap_or(i64::MAX);
                if excess - size >= 0 {
                    excess -= size;
                    true
                } else {
                    false
                }
            })?;
        }
        Ok(deleted)
    }

    /// Deletes segments whose successor starts at or below the log start.
    pub(super) fn delete_segments_below_log_start(&mut self) -> Result<usize, LogError> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let doomed: Vec<i64> = bases
            .windows(2)
            .take_while(|pair| pair[1] <= self.log_start_offset)
            .map(|pair| pair[0])
            .collect();
        for base in &doomed {
            self.delete_segment(*base)?;
        }
        Ok(doomed.len())
    }

    fn delete_oldest_while(
        &mut self,
        now_ms: i64,
        mut predicate: impl FnMut(&Segment) -> bool,
    ) -> Result<usize, LogError> {
        let last_base = self.active().base_offset();
        let mut doomed = Vec::new();
        for (&base, segment) in &self.segments {
            let last_and_empty = base == last_base && segment.size() == 0;
            if last_and_empty || !predicate(segment) {
                break;
            }
            doomed.push(base);
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        if doomed.len() == self.segments.len() {
            self.roll(now_ms)?;
        }
        let first_kept = *self
            .segments
            .range(doomed[doomed.len() - 1] + 1..)
            .next()
            .expect("the active segment is kept")
            .0;
        if first_kept > self.log_start_offset {
            self.log_start_offset = first_kept;
            // Persisted before the files go, so a crash in between cannot resurrect
            // offsets that were already reported deleted.
            self.write_log_start()?;
        }
        for base in &doomed {
            self.delete_segment(*base)?;
        }
        Ok(doomed.len())
    }

    fn delete_segment(&mut self, base: i64) -> Result<(), LogError> {
        if let Some(segment) = self.segments.remove(&base) {
            tracing::info!(dir = %self.dir.display(), base_offset = base, "deleting segment");
            segment.delete()?;
            self.delete_old_producer_snapshots()?;
        }
        Ok(())
    }
}
