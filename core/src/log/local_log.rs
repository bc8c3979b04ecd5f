//! [`Log`]: one partition's segmented log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use super::batch::{self, RecordBatchHeader};
use super::checkpoint;
use super::config::{LogConfig, TimestampType};
use super::error::LogError;
use super::fetched::FetchedRecords;
use super::fs;
use super::producer::{PendingAppend, ProducerStateManager, Verdict};
use super::recovery::{self, CLEAN_SHUTDOWN_FILE};
use super::segment::{ReadEnd, Segment};

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset assigned to the last record.
    pub last_offset: i64,
    /// The broker time written into the batches, -1 unless the topic uses LogAppendTime.
    pub log_append_time: i64,
    /// Largest batch max timestamp of the append.
    pub max_timestamp: i64,
    /// Records appended (sum of the batches' recordsCount).
    pub record_count: i64,
    /// The append was a producer's retry of a batch already in the log: nothing was
    /// written, and the offsets are the original batch's.
    pub duplicate: bool,
}

/// Who is appending, which decides how producer fields are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendOrigin {
    /// A producer: sequences checked, control batches refused.
    Client,
    /// The group coordinator writing a producer's transactional offsets: epoch
    /// checked, no sequence.
    Coordinator,
    /// The transaction coordinator's marker, checked before it is built.
    Marker,
}

/// One partition's log: a directory of segments. Owned by a single task; everything that
/// changes it takes `&mut self`, reads take `&self`.
#[derive(Debug)]
pub struct Log {
    pub(super) dir: PathBuf,
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) config: LogConfig,
    pub(super) segments: BTreeMap<i64, Segment>,
    pub(super) log_start_offset: i64,
    pub(super) log_end_offset: i64,
    /// Everything below this offset is fsynced.
    pub(super) recovery_point: i64,
    unflushed_messages: i64,
    last_flush_ms: i64,
    /// Idempotent and transactional producers seen in this log.
    pub(super) producers: ProducerStateManager,
}

impl Log {
    /// Opens (creating if needed) the partition directory and recovers it.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> Result<Log, LogError> {
        let started = std::time::Instant::now();
        let loaded = recovery::load(dir, &config, now_ms)?;
        let (topic, partition) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(|name| {
                super::parse_partition_dir_name(name).unwrap_or_else(|| (name.to_owned(), 0))
            })
            .unwrap_or_else(|| ("unknown".to_owned(), 0));
        let mut log = Log {
            dir: dir.to_owned(),
            topic,
            partition,
            config,
            segments: loaded.segments,
            log_start_offset: loaded.log_start_offset,
            log_end_offset: loaded.log_end_offset,
            recovery_point: 0,
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            producers: ProducerStateManager::default(),
        };
        log.load_producer_state()?;
        if loaded.recovered {
            // Recovery truncated and rebuilt files; make that durable before claiming
            // everything up to the log end is on disk.
            for segment in log.segments.values() {
                segment.flush()?;
            }
            fs::sync_dir(&log.dir)?;
        }
        log.recovery_point = log.log_end_offset;
        log.write_recovery_point()?;
        if loaded.log_start_checkpoint != Some(log.log_start_offset) {
            log.write_log_start()?;
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if loaded.clean_shutdown {
            tracing::info!(
                dir = %log.dir.display(),
                log_end_offset = log.log_end_offset,
                segments = log.segments.len(),
                elapsed_ms,
                "clean shutdown marker found: skipped recovery"
            );
        } else {
            tracing::info!(
                dir = %log.dir.display(),
                log_start_offset = log.log_start_offset,
                log_end_offset = log.log_end_offset,
                segments = log.segments.len(),
                segments_scanned = loaded.segments_scanned,
                truncated_bytes = loaded.truncated_bytes,
                elapsed_ms,
                "no clean shutdown marker: recovered the log"
            );
        }
        Ok(log)
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First offset that can be read.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The next offset to assign.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Bytes in all segments' `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    /// Number of segments, the active one included.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Replaces the configuration; index sizes apply from the next segment on.
    pub fn update_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub(super) fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    /// Validates and appends the record batches of one produce request partition (one or
    /// more concatenated magic-v2 batches, any compression, opaque).
    ///
    /// Every batch is checked (lengths, magic, size limit, CRC-32C, record count) before
    /// anything is written; any failure rejects the whole append. Offsets are assigned
    /// by rewriting each batch's baseOffset, which lies outside the CRC. For
    /// LogAppendTime topics the batch's maxTimestamp becomes `now_ms`, attributes bit 3
    /// is set and the CRC recomputed (baseTimestamp is kept, as Kafka does); otherwise
    /// the bytes are stored as produced. Records are never looked at.
    ///
    /// Idempotent and transactional batches are checked against their producer's state
    /// first (epoch, sequence, open transaction); a retry of a batch already in the log
    /// is not written again but answered with the original offsets
    /// ([`AppendInfo::duplicate`]). Control batches are refused: only the transaction
    /// coordinator writes markers ([`Log::append_marker`]).
    pub fn append(&mut self, records: Bytes, now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_batches(records, None, now_ms, AppendOrigin::Client)
    }

    /// [`Log::append`] for the group coordinator's transactional offset commits: the
    /// producer's epoch is checked and its transaction opened, without sequences.
    pub fn append_as_coordinator(
        &mut self,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_batches(records, None, now_ms, AppendOrigin::Coordinator)
    }

    /// [`Log::append`] for a leader: also stamps every batch's partitionLeaderEpoch
    /// (outside the CRC, so no recomputation), which epoch-based truncation (KIP-101)
    /// relies on.
    pub fn append_with_leader_epoch(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_batches(records, Some(leader_epoch), now_ms, AppendOrigin::Client)
    }

    pub(super) fn append_batches(
        &mut self,
        records: Bytes,
        leader_epoch: Option<i32>,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        let mut pos = 0;
        let mut record_count = 0i64;
        let mut offset_count = 0i64;
        let mut max_timestamp = -1i64;
        let mut batches = 0usize;
        let base_offset = self.log_end_offset;
        let mut pending = PendingAppend::default();
        while pos < records.len() {
            let header = batch::validate(&records[pos..], pos, self.config.max_message_bytes)?;
            if header.is_control() != (origin == AppendOrigin::Marker) {
                return Err(LogError::InvalidRecord {
                    position: pos,
                    reason: "control batches (transaction markers) are written by the transaction coordinator only".into(),
                });
            }
            let first = base_offset + offset_count;
            let last = first + i64::from(header.last_offset_delta);
            if origin != AppendOrigin::Marker {
                let check_sequence = origin == AppendOrigin::Client;
                if check_sequence && header.producer_id >= 0 && header.base_sequence < 0 {
                    // Kafka refuses this shape outright, before any sequence bookkeeping.
                    return Err(LogError::InvalidRecord {
                        position: pos,
                        reason: format!(
                            "base sequence {} is negative in a batch of producer {}",
                            header.base_sequence, header.producer_id
                        ),
                    });
                }
                let verdict = self.producers.check_batch(
                    &header,
                    first,
                    last,
                    check_sequence,
                    &mut pending,
                )?;
                if let Verdict::Duplicate(original) = verdict {
                    return Ok(AppendInfo {
                        base_offset: original.first_offset,
                        last_offset: original.last_offset,
                        log_append_time: -1,
                        max_timestamp: original.timestamp,
                        record_count: 0,
                        duplicate: true,
                    });
                }
            }
            record_count += i64::from(header.records_count);
            offset_count += i64::from(header.last_offset_delta) + 1;
            max_timestamp = max_timestamp.max(header.max_timestamp);
            batches += 1;
            pos += header.total_size();
        }
        if batches == 0 {
            return Err(LogError::CorruptRecord {
                position: 0,
                reason: "the append holds no record batch".into(),
            });
        }

        let last_offset = base_offset + offset_count - 1;
        let log_append_time = match self.config.timestamp_type {
            TimestampType::LogAppendTime => now_ms,
            TimestampType::CreateTime => -1,
        };
        if log_append_time >= 0 {
            max_timestamp = log_append_time;
        }

        // Offsets must be written into the buffer. A uniquely owned buffer is reused;
        // otherwise (the request frame is still shared) it is copied once, whole.
        let mut buf = records
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let mut pos = 0;
        let mut next = base_offset;
        while pos < buf.len() {
            let header = RecordBatchHeader::parse(&buf[pos..]).expect("validated above");
            let end = pos + header.total_size();
            batch::set_base_offset(&mut buf[pos..end], next);
            if let Some(epoch) = leader_epoch {
                batch::set_partition_leader_epoch(&mut buf[pos..end], epoch);
            }
            if log_append_time >= 0 {
                batch::set_log_append_time(&mut buf[pos..end], log_append_time);
            }
            next += i64::from(header.last_offset_delta) + 1;
            pos = end;
        }

        if self
            .active()
            .should_roll(&self.config, buf.len(), last_offset, max_timestamp, now_ms)
        {
            self.roll(now_ms)?;
        }
        let interval = self.config.index_interval_bytes;
        // A failed write leaves the log as it was (the segment cuts off what it wrote).
        self.active_mut().append(&buf, interval)?;
        self.log_end_offset = last_offset + 1;
        self.unflushed_messages = self.unflushed_messages.saturating_add(record_count);
        let flushed = if self.unflushed_messages >= self.config.flush_messages {
            self.flush().map(|()| self.last_flush_ms = now_ms)
        } else {
            self.maybe_flush(now_ms)
        };
        if let Err(error) = flushed {
            // The producer is told this append failed, so it must not stay in the log to
            // be served (and duplicated by the producer's retry): take it out again. The
            // recovery point has not moved, so a crash now recovers as before the append.
            tracing::warn!(dir = %self.dir.display(), %error, base_offset, "flush after an append failed; removing the append");
            if let Err(truncate) = self.truncate_to(base_offset, now_ms) {
                tracing::warn!(dir = %self.dir.display(), error = %truncate, "cannot remove the failed append");
            }
            return Err(error);
        }
        self.producers.apply(pending);
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time,
            max_timestamp,
            record_count,
            duplicate: false,
        })
    }

    /// Finds whole batches starting with the batch that contains `offset`, up to
    /// `max_bytes`, but always at least one whole batch if one exists below
    /// `upper_bound` (KIP-74). Never includes a batch whose last offset is at or beyond
    /// `upper_bound` (the high watermark). Continues into the next segments while the
    /// budget allows. Returns nothing at the end.
    ///
    /// Only batch headers are read: the result names regions of the segment files,
    /// which stay readable even if their segments are deleted before they are sent
    /// (see [`FetchedRecords`]). `offset` below the log start or above the log end is
    /// `OffsetOutOfRange`.
    pub fn read_records(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<FetchedRecords, LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                start: self.log_start_offset,
                end: self.log_end_offset,
            });
        }
        let mut out = FetchedRecords::empty();
        let Some((&first_base, _)) = self.segments.range(..=offset).next_back() else {
            return Ok(out);
        };
        for segment in self.segments.range(first_base..).map(|(_, s)| s) {
            let Some((pos, first)) = segment.find_batch(offset)? else {
                continue;
            };
            let budget = max_bytes.saturating_sub(out.len());
            if budget == 0 && !out.is_empty() {
                break;
            }
            let min_one = out.is_empty();
            let end = segment.read_region(pos, &first, budget, upper_bound, min_one, &mut out)?;
            if end == ReadEnd::Done {
                break;
            }
        }
        Ok(out)
    }

    /// [`Log::read_records`], read into memory.
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<Bytes, LogError> {
        self.read_records(offset, max_bytes, upper_bound)?
            .read_to_bytes()
    }

    /// Honours `flush.ms`; called from `append` and meant to be called periodically.
    pub fn maybe_flush(&mut self, now_ms: i64) -> Result<(), LogError> {
        if self.recovery_point < self.log_end_offset
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
        {
            self.flush()?;
            self.last_flush_ms = now_ms;
        }
        Ok(())
    }

    /// fsyncs every segment that may hold data beyond the recovery point (log and
    /// indexes) and the directory, then moves the recovery point to the log end and
    /// checkpoints it.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if self.recovery_point >= self.log_end_offset {
            return Ok(());
        }
        let from = self
            .segments
            .range(..=self.recovery_point)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        for segment in self.segments.range(from..).map(|(_, s)| s) {
            segment.flush()?;
        }
        fs::sync_dir(&self.dir)?;
        self.recovery_point = self.log_end_offset;
        self.unflushed_messages = 0;
        // The data is durable whether or not the checkpoint can be written (a full disk
        // refuses the checkpoint's temporary file). A stale checkpoint is safe: recovery
        // after a crash only scans more.
        if let Err(error) = self.write_recovery_point() {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot checkpoint the recovery point");
        }
        Ok(())
    }

    /// Rolls when `segment.ms` has passed since the active segment's first batch.
    pub fn maybe_roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        if self.active().should_roll_by_time(&self.config, now_ms) {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// Starts a new active segment at the log end. The old one gets its final time
    /// index entry, trimmed indexes and an fsync, so the recovery point moves to the new
    /// segment's base and a restart never rescans more than the active segment. (Kafka
    /// does this fsync in the background; here it is on the owner's path.)
    pub(super) fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let base = self.log_end_offset;
        if self.active().base_offset() == base {
            return Ok(());
        }
        // The old segment is made durable *before* the new file exists. In the other
        // order a crash could keep the new segment but lose the old one's unflushed
        // tail, and recovery would find a log that jumps over the lost offsets to the
        // new segment's base: a gap no fetch can cross. So a later segment on disk
        // always means every earlier one is whole.
        let rolled = self
            .active_mut()
            .make_inactive()
            .and_then(|()| self.flush())
            .and_then(|()| Segment::create(&self.dir, base, &self.config, now_ms));
        let segment = match rolled {
            Ok(segment) => segment,
            Err(error) => {
                // Keep appending to the old segment (its indexes sized for it again);
                // the next append retries the roll.
                let config = self.config.clone();
                if let Err(again) = self.active_mut().make_active(&config) {
                    tracing::warn!(dir = %self.dir.display(), error = %again, "cannot reactivate the segment after a failed roll");
                }
                return Err(error);
            }
        };
        self.segments.insert(base, segment);
        // The new file's directory entry must be durable even when there is nothing to
        // flush (retention rolls a fully flushed log).
        fs::sync_dir(&self.dir)?;
        // Everything below `base` is flushed, so the snapshot describes durable data. A
        // failed snapshot only makes the next open replay more of the log.
        if let Err(error) = self.write_producer_snapshot(base) {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot write the producer snapshot");
        }
        tracing::debug!(dir = %self.dir.display(), base_offset = base, "rolled a new segment");
        Ok(())
    }

    /// DeleteRecords: moves the log start to `offset` (no-op if it is already beyond),
    /// persists it, then deletes the segments wholly below it. Returns the log start.
    /// `offset` beyond the log end is `InvalidOffset`.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset > self.log_end_offset {
            return Err(LogError::InvalidOffset {
                requested: offset,
                end: self.log_end_offset,
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.write_log_start()?;
            self.delete_segments_below_log_start()?;
        }
        Ok(self.log_start_offset)
    }

    /// Follower truncation (KIP-101/279): removes every batch whose last offset is at or
    /// beyond `offset`, so the log end becomes `offset` (or the base of a batch that
    /// straddles it). Below the log start the log is emptied and restarts at `offset`.
    /// Moves the recovery point back if needed. A no-op at or beyond the log end.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset {
            return Ok(());
        }
        tracing::info!(
            dir = %self.dir.display(),
            from = self.log_end_offset,
            to = offset,
            "truncating log"
        );
        if offset < self.log_start_offset {
            for (_, segment) in std::mem::take(&mut self.segments) {
                segment.delete()?;
            }
            let segment = Segment::create(&self.dir, offset, &self.config, now_ms)?;
            self.segments.insert(offset, segment);
            fs::sync_dir(&self.dir)?;
            self.log_start_offset = offset;
            self.log_end_offset = offset;
            self.write_log_start()?;
        } else {
            let doomed: Vec<i64> = self.segments.range(offset + 1..).map(|(&b, _)| b).collect();
            for base in doomed {
                if let Some(segment) = self.segments.remove(&base) {
                    segment.delete()?;
                }
            }
            let config = self.config.clone();
            self.log_end_offset = self.active_mut().truncate_to(offset, &config)?;
        }
        if self.recovery_point > self.log_end_offset {
            self.recovery_point = self.log_end_offset;
            self.write_recovery_point()?;
        }
        // Producer state must forget the removed batches: rebuilt from a snapshot at or
        // below the new end (later ones are deleted) and a replay.
        self.load_producer_state()
    }

    /// Flushes, records the final state of the active segment's indexes, trims them and
    /// leaves the clean-shutdown marker so the next open skips recovery.
    pub fn close(mut self) -> Result<(), LogError> {
        self.flush()?;
        self.active_mut().make_inactive()?;
        self.active().flush()?;
        self.write_producer_snapshot(self.log_end_offset)?;
        // The marker is only trusted if everything before it is durable.
        fs::write_atomically(&self.dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        Ok(())
    }

    fn write_recovery_point(&self) -> Result<(), LogError> {
        checkpoint::write(
            &self.dir.join(checkpoint::RECOVERY_POINT_FILE),
            &self.topic,
            self.partition,
            self.recovery_point,
        )
    }

    pub(super) fn write_log_start(&self) -> Result<(), LogError> {
        checkpoint::write(
            &self.dir.join(checkpoint::LOG_START_FILE),
            &self.topic,
            self.partition,
            self.log_start_offset,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_can_be_shared_with_reader_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Log>();
    }
}
