//! One cleaning pass over a [`CleanSnapshot`], run off the partition owner: build the
//! offset map over the dirty range, then rewrite the cleanable segments group by group
//! into `.cleaned` files. Nothing the owner serves is touched; the owner swaps the
//! result in with [`Log::replace_segments`](crate::log::Log::replace_segments).

use std::path::PathBuf;

use super::filter::{self, Outcome, Tally};
use super::offset_map::OffsetMap;
use super::reader::SegmentReader;
use super::snapshot::{log_path, CleanSnapshot, SegmentSnapshot};
use super::writer::{remove_staged, CleanedWriter, CLEANED_SUFFIX};
use crate::log::error::LogError;

/// Limits of a pass.
#[derive(Debug, Clone, Copy)]
pub struct CleanerLimits {
    /// Largest records section the cleaner decompresses; a batch beyond it is kept
    /// whole (and its keys are not deduplicated).
    pub max_decompressed_bytes: usize,
    /// Memory the offset map may use; once passed, the dirty range ends at the segment
    /// that filled it and the rest waits for the next pass (Kafka's
    /// `log.cleaner.dedupe.buffer.size`).
    pub max_map_bytes: usize,
}

impl Default for CleanerLimits {
    fn default() -> Self {
        CleanerLimits {
            max_decompressed_bytes: 64 << 20,
            max_map_bytes: 128 << 20,
        }
    }
}

/// A cleaned segment waiting to be swapped in: it replaces every old segment whose base
/// offset is in `[base_offset, end_offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CleanedGroup {
    pub(super) base_offset: i64,
    pub(super) end_offset: i64,
}

/// What a pass produced: `.cleaned` files to swap in, and its figures.
#[derive(Debug)]
pub struct CleanedSegments {
    pub(super) dir: PathBuf,
    pub(super) groups: Vec<CleanedGroup>,
    /// The old segments the groups replace, as the snapshot saw them.
    pub(super) replaced: Vec<SegmentSnapshot>,
    /// The cleaner checkpoint once swapped in.
    pub(super) cleaned_up_to: i64,
    /// The pass's figures.
    pub stats: CleanStats,
}

/// Figures of one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Distinct keys in the dirty range.
    pub keys: usize,
    /// Records removed (superseded or expired tombstones).
    pub records_removed: u64,
    /// Tombstones removed because their delete horizon passed.
    pub tombstones_removed: u64,
    /// Bytes of the rewritten segments before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// The earliest delete horizon of a tombstone still in the log: a pass is due then
    /// even without new dirty data.
    pub next_horizon_ms: Option<i64>,
}

impl CleanedSegments {
    /// Offsets below this are clean once the result is swapped in.
    pub fn cleaned_up_to(&self) -> i64 {
        self.cleaned_up_to
    }

    /// New segments to swap in (unchanged segments are left alone).
    pub fn segment_count(&self) -> usize {
        self.groups.len()
    }

    /// Each new segment's base offset and the end of the offset range it replaces (the
    /// entries of the swap manifest).
    pub fn replaced_ranges(&self) -> Vec<(i64, i64)> {
        self.groups
            .iter()
            .map(|g| (g.base_offset, g.end_offset))
            .collect()
    }

    /// Removes the `.cleaned` files without swapping them in.
    pub fn discard(self) -> Result<(), LogError> {
        for group in &self.groups {
            remove_staged(&self.dir, group.base_offset, CLEANED_SUFFIX)?;
        }
        Ok(())
    }
}

/// Runs a pass. `should_stop` is polled between batches; when it answers true the
/// files written so far are removed and `Ok(None)` returned.
pub fn clean(
    snapshot: &CleanSnapshot,
    limits: &CleanerLimits,
    should_stop: &dyn Fn() -> bool,
) -> Result<Option<CleanedSegments>, LogError> {
    let dir = &snapshot.dir;
    let mut map = OffsetMap::default();
    let mut map_end = snapshot.first_dirty_offset;
    for segment in snapshot
        .segments
        .iter()
        .filter(|s| s.end_offset > snapshot.first_dirty_offset)
    {
        if map.memory_bytes() > limits.max_map_bytes {
            break;
        }
        let mut reader = SegmentReader::open(&log_path(dir, segment.base_offset), segment.size)?;
        while let Some(batch) = reader.next_batch()? {
            if should_stop() {
                return Ok(None);
            }
            if batch.header.last_offset() < snapshot.first_dirty_offset {
                continue;
            }
            for record in filter::records_of(&batch, limits.max_decompressed_bytes)
                .into_iter()
                .flatten()
            {
                if let Some(key) = &record.key {
                    map.insert(
                        key,
                        batch.header.base_offset + i64::from(record.offset_delta),
                    );
                }
            }
        }
        map_end = segment.end_offset;
    }

    let mut stats = CleanStats {
        keys: map.len(),
        ..CleanStats::default()
    };
    let mut tally = Tally::default();
    let mut groups: Vec<CleanedGroup> = Vec::new();
    let mut replaced = Vec::new();
    let cleanable: Vec<&SegmentSnapshot> = snapshot
        .segments
        .iter()
        .filter(|s| s.end_offset <= map_end)
        .collect();
    for group in group_segments(&cleanable, snapshot.config.segment_bytes) {
        let first = group[0];
        let end_offset = group[group.len() - 1].end_offset;
        let mut writer =
            CleanedWriter::create(dir, first.base_offset, snapshot.config.index_interval_bytes)?;
        let mut changed = group.len() > 1;
        for segment in &group {
            let mut reader =
                SegmentReader::open(&log_path(dir, segment.base_offset), segment.size)?;
            while let Some(batch) = reader.next_batch()? {
                if should_stop() {
                    writer.discard()?;
                    for done in &groups {
                        remove_staged(dir, done.base_offset, CLEANED_SUFFIX)?;
                    }
                    return Ok(None);
                }
                match filter::filter_batch(
                    &batch,
                    &map,
                    snapshot.now_ms,
                    snapshot.config.delete_retention_ms,
                    limits.max_decompressed_bytes,
                    &mut tally,
                ) {
                    Outcome::Keep => writer.append(&batch.header, &batch.bytes)?,
                    Outcome::Drop => changed = true,
                    Outcome::Rewrite(header, bytes) => {
                        changed = true;
                        writer.append(&header, &bytes)?;
                    }
                }
            }
        }
        if changed {
            stats.bytes_before += group.iter().map(|s| s.size).sum::<u64>();
            stats.bytes_after += writer.size();
            debug_assert_eq!(writer.base_offset(), first.base_offset);
            writer.finish()?;
            groups.push(CleanedGroup {
                base_offset: first.base_offset,
                end_offset,
            });
            replaced.extend(group.iter().map(|s| (*s).clone()));
        } else {
            writer.discard()?;
        }
    }
    stats.records_removed = tally.records_removed;
    stats.tombstones_removed = tally.tombstones_removed;
    stats.next_horizon_ms = tally.next_horizon_ms;
    Ok(Some(CleanedSegments {
        dir: dir.clone(),
        groups,
        replaced,
        cleaned_up_to: map_end,
        stats,
    }))
}

/// Adjacent segments merged while their combined size stays within `segment.bytes`
/// (and 2 GiB, so positions fit the index) and their offsets within one segment's
/// range, as Kafka's `groupSegmentsBySize` does. Sizes before cleaning bound the sizes
/// after, up to a codec's overhead on a re-compressed batch.
fn group_segments<'a>(
    segments: &[&'a SegmentSnapshot],
    segment_bytes: u64,
) -> Vec<Vec<&'a SegmentSnapshot>> {
    let max_bytes = segment_bytes.min(i32::MAX as u64);
    let mut groups: Vec<Vec<&SegmentSnapshot>> = Vec::new();
    for &segment in segments {
        if let Some(group) = groups.last_mut() {
            let size: u64 = group.iter().map(|s| s.size).sum::<u64>() + segment.size;
            let span = segment.end_offset - group[0].base_offset;
            if size <= max_bytes && span <= i64::from(i32::MAX) {
                group.push(segment);
                continue;
            }
        }
        groups.push(vec![segment]);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base: i64, end: i64, size: u64) -> SegmentSnapshot {
        SegmentSnapshot {
            base_offset: base,
            end_offset: end,
            size,
        }
    }

    #[test]
    fn groups_merge_adjacent_segments_within_the_size_limit() {
        let segments = [
            seg(0, 10, 40),
            seg(10, 20, 40),
            seg(20, 30, 40),
            seg(30, 40, 100),
        ];
        let refs: Vec<&SegmentSnapshot> = segments.iter().collect();
        let groups = group_segments(&refs, 100);
        let bases: Vec<Vec<i64>> = groups
            .iter()
            .map(|g| g.iter().map(|s| s.base_offset).collect())
            .collect();
        assert_eq!(bases, vec![vec![0, 10], vec![20], vec![30]]);
    }
}
