//! Swapping cleaned segments in, on the owner, and finishing or rolling back an
//! interrupted swap at open. The protocol, so that a crash at any point leaves a log
//! that recovery turns into either the old or the new segments for each group:
//!
//! 1. (cleaner, off the owner) every new segment's three files are written as
//!    `*.cleaned` and fsynced;
//! 2. (owner) the old segments are checked to be exactly those the pass read (retention
//!    or truncation may have removed some meanwhile; then the result is discarded);
//! 3. every `*.cleaned` is renamed to `*.swap`, and the directory fsynced;
//! 4. the swap manifest `cleaner-swap` is written atomically, listing each new segment's
//!    base offset and the end of the offset range it replaces. **This is the commit
//!    point**;
//! 5. group by group, in offset order: the old segments in the range are deleted, then
//!    the `.swap` files renamed into place;
//! 6. the directory is fsynced, the manifest removed, and the cleaner checkpoint moved.
//!
//! At open ([`complete_interrupted`]): with a manifest, every group whose `.log.swap`
//! still exists is completed (step 5 redone: it is idempotent) and the manifest removed.
//! Any other `.swap` file belongs to an uncommitted swap and is deleted, since its
//! original is intact (old segments are only deleted after the commit point); should
//! one have no original at all (never left by Weir), it is renamed into place rather
//! than losing the only copy. `*.cleaned` files are always deleted. Swapped-in segments
//! get their indexes rebuilt by recovery.
//!
//! Groups are completed in offset order, so a crash can only leave a prefix of them
//! swapped in. That matters for tombstones: a pass removes a key's old values (in an
//! early group) and, once its horizon passed, the tombstone itself (in a later group);
//! swapping the later group without the earlier one would resurrect the old values.

use std::collections::BTreeSet;
use std::path::Path;

use super::pass::{CleanedGroup, CleanedSegments};
use super::writer::{segment_files, staged, CLEANED_SUFFIX, SWAP_SUFFIX};
use super::CLEANER_CHECKPOINT_FILE;
use crate::log::checkpoint;
use crate::log::error::LogError;
use crate::log::fs;
use crate::log::local_log::Log;
use crate::log::segment::{self, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

/// The swap manifest: present only between the commit point and the swap's end.
pub(crate) const SWAP_MANIFEST_FILE: &str = "cleaner-swap";

const MANIFEST_VERSION: &str = "0";

impl Log {
    /// Swaps the result of a cleaning pass in (on the owner; cheap: renames, deletions
    /// and index maps, no data is read). Returns `false`, removing the cleaned files,
    /// when the log changed under the pass (retention, DeleteRecords or truncation
    /// removed or replaced a segment it read).
    ///
    /// An I/O error part-way leaves the directory recoverable by the next open, but this
    /// `Log` should then be closed: its view of the segments may be incomplete.
    pub fn replace_segments(
        &mut self,
        cleaned: CleanedSegments,
        now_ms: i64,
    ) -> Result<bool, LogError> {
        if !self.still_matches(&cleaned) {
            tracing::info!(dir = %self.dir.display(), "log changed during cleaning; discarding the result");
            cleaned.discard()?;
            return Ok(false);
        }
        let dir = self.dir.clone();
        if !cleaned.groups.is_empty() {
            for group in &cleaned.groups {
                for name in segment_files(group.base_offset) {
                    fs::rename(
                        &staged(&dir, &name, CLEANED_SUFFIX),
                        &staged(&dir, &name, SWAP_SUFFIX),
                    )?;
                }
            }
            fs::sync_dir(&dir)?;
            write_manifest(&dir, &cleaned.groups)?;
            for group in &cleaned.groups {
                let doomed: Vec<i64> = self
                    .segments
                    .range(group.base_offset..group.end_offset)
                    .map(|(&base, _)| base)
                    .collect();
                // The cleaner keeps transactional batches and markers whole, so the
                // aborted transactions of the group's segments all stay relevant: they
                // move into the first segment's index (which the compacted segment
                // inherits) before any other segment goes.
                let moved: Vec<_> = doomed
                    .iter()
                    .skip(1)
                    .filter_map(|base| self.segments.get(base))
                    .flat_map(|s| s.aborted_txns().iter().copied())
                    .collect();
                if let Some(first) = self.segments.get_mut(&group.base_offset) {
                    first.absorb_aborted_txns(&moved)?;
                }
                for base in doomed {
                    if let Some(old) = self.segments.remove(&base) {
                        if base == group.base_offset {
                            old.delete_keeping_txn_index()?;
                        } else {
                            old.delete()?;
                        }
                    }
                }
                rename_swapped(&dir, group.base_offset)?;
            }
            fs::sync_dir(&dir)?;
            fs::remove(&dir.join(SWAP_MANIFEST_FILE))?;
            fs::sync_dir(&dir)?;
            for group in &cleaned.groups {
                let segment = Segment::open(&dir, group.base_offset, now_ms)?;
                self.segments.insert(group.base_offset, segment);
            }
        }
        checkpoint::write(
            &dir.join(CLEANER_CHECKPOINT_FILE),
            &self.topic,
            self.partition,
            cleaned.cleaned_up_to,
        )?;
        tracing::info!(
            dir = %dir.display(),
            segments = cleaned.groups.len(),
            cleaned_up_to = cleaned.cleaned_up_to,
            records_removed = cleaned.stats.records_removed,
            bytes_before = cleaned.stats.bytes_before,
            bytes_after = cleaned.stats.bytes_after,
            "compacted log"
        );
        Ok(true)
    }

    /// The segments each group replaces are still exactly those the pass read, and none
    /// of them became active.
    fn still_matches(&self, cleaned: &CleanedSegments) -> bool {
        let active_base = self.active().base_offset();
        cleaned.groups.iter().all(|group| {
            let now: Vec<(i64, u64)> = self
                .segments
                .range(group.base_offset..group.end_offset)
                .map(|(&base, s)| (base, s.size()))
                .collect();
            let then: Vec<(i64, u64)> = cleaned
                .replaced
                .iter()
                .filter(|s| s.base_offset >= group.base_offset && s.base_offset < group.end_offset)
                .map(|s| (s.base_offset, s.size))
                .collect();
            let next_base = self
                .segments
                .range(group.end_offset..)
                .next()
                .map(|(&b, _)| b);
            group.end_offset <= active_base && now == then && next_base == Some(group.end_offset)
        }) && cleaned.cleaned_up_to <= active_base
    }
}

/// Renames a group's `.swap` files into place, the `.log` first.
fn rename_swapped(dir: &Path, base_offset: i64) -> Result<(), LogError> {
    for name in segment_files(base_offset) {
        let swap = staged(dir, &name, SWAP_SUFFIX);
        if fs::exists(&swap) {
            fs::rename(&swap, &dir.join(&name))?;
        }
    }
    Ok(())
}

fn write_manifest(dir: &Path, groups: &[CleanedGroup]) -> Result<(), LogError> {
    let mut text = format!("{MANIFEST_VERSION}\n{}\n", groups.len());
    for group in groups {
        text.push_str(&format!("{} {}\n", group.base_offset, group.end_offset));
    }
    fs::write_atomically(&dir.join(SWAP_MANIFEST_FILE), text.as_bytes())
}

fn parse_manifest(text: &str) -> Option<Vec<CleanedGroup>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != MANIFEST_VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let groups: Vec<CleanedGroup> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (base, end) = line.trim().split_once(' ')?;
            Some(CleanedGroup {
                base_offset: base.parse().ok()?,
                end_offset: end.parse().ok()?,
            })
        })
        .collect::<Option<_>>()?;
    (groups.len() == count).then_some(groups)
}

/// Step one of recovery: completes a committed swap (see the module docs) and removes
/// every `.swap` file left by an uncommitted one. Returns the base offsets of swapped-in
/// segments, whose indexes recovery must rebuild.
pub(crate) fn complete_interrupted(dir: &Path) -> Result<BTreeSet<i64>, LogError> {
    let mut swapped = BTreeSet::new();
    let manifest_path = dir.join(SWAP_MANIFEST_FILE);
    if let Some(text) = fs::read_to_string(&manifest_path)? {
        match parse_manifest(&text) {
            Some(groups) => {
                let names = fs::list(dir)?;
                for group in groups {
                    let log_swap = staged(
                        dir,
                        &segment::file_name(group.base_offset, LOG_SUFFIX),
                        SWAP_SUFFIX,
                    );
                    if fs::exists(&log_swap) {
                        tracing::warn!(dir = %dir.display(), base_offset = group.base_offset, "completing an interrupted compaction swap");
                        for name in &names {
                            let replaced = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]
                                .iter()
                                .any(|suffix| {
                                    segment::parse_file_name(name, suffix).is_some_and(|base| {
                                        base >= group.base_offset && base < group.end_offset
                                    })
                                });
                            if replaced {
                                fs::remove(&dir.join(name))?;
                            }
                        }
                    }
                    rename_swapped(dir, group.base_offset)?;
                    swapped.insert(group.base_offset);
                }
            }
            None => {
                tracing::warn!(path = %manifest_path.display(), "ignoring a malformed swap manifest; rolling the swap back");
            }
        }
        fs::sync_dir(dir)?;
        fs::remove(&manifest_path)?;
    }
    for name in fs::list(dir)? {
        let Some(target) = name.strip_suffix(SWAP_SUFFIX) else {
            continue;
        };
        let (path, target_path) = (dir.join(&name), dir.join(target));
        if fs::exists(&target_path) {
            tracing::info!(dir = %dir.display(), file = %name, "deleting an uncommitted swap file; the original is intact");
            fs::remove(&path)?;
        } else {
            // Weir's swaps never leave this state (old files go only after the commit
            // point), but a file with no original is the only copy of its data: keep it.
            tracing::warn!(dir = %dir.display(), file = %name, "completing a swap file that has no original");
            fs::rename(&path, &target_path)?;
            if let Some(base) = segment::parse_file_name(target, LOG_SUFFIX) {
                swapped.insert(base);
            }
        }
    }
    fs::sync_dir(dir)?;
    Ok(swapped)
}
