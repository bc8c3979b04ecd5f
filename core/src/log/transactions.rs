//! The log's side of idempotence and transactions: producer state kept in step with
//! the segments (rebuilt at open from the newest snapshot and a replay of what follows
//! it, snapshotted at every roll and at close), transaction markers, the last stable
//! offset and the aborted transactions a read_committed fetch must be told about.

use std::path::Path;

use bytes::Bytes;

use super::batch::control::{self, EndTxnMarker};
use super::batch::RecordBatchHeader;
use super::error::LogError;
use super::fs;
use super::local_log::{AppendInfo, AppendOrigin, Log};
use super::producer::{snapshot, CompletedTxn, ProducerEntry};
use super::txn_index::AbortedTxn;

impl Log {
    /// One past the last offset below which every transaction is decided: the first
    /// offset of the oldest open transaction, or the high watermark (the log end on a
    /// single replica) when none is open. read_committed fetches stop here.
    pub fn last_stable_offset(&self) -> i64 {
        self.producers
            .first_unstable_offset()
            .unwrap_or(self.log_end_offset)
    }

    /// Every producer this partition remembers (DescribeProducers).
    pub fn active_producers(&self) -> Vec<ProducerEntry> {
        let mut producers: Vec<_> = self.producers.producers().cloned().collect();
        producers.sort_by_key(|p| p.producer_id);
        producers
    }

    /// Forgets producers idle for `producer.id.expiration.ms` with nothing open.
    pub fn remove_expired_producers(&mut self, now_ms: i64) -> usize {
        let expiration = self.config.producer_id_expiration_ms;
        self.producers.remove_expired(now_ms, expiration)
    }

    /// Appends a COMMIT or ABORT marker for `producer_id`'s transaction (the
    /// transaction coordinator's write). Fails if the producer's epoch or the
    /// coordinator's epoch has moved past the marker's. An ABORT of a transaction
    /// open here is recorded in the active segment's `.txnindex`.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTxnMarker,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.producers
            .check_marker(producer_id, producer_epoch, marker)?;
        let batch = control::build_marker(producer_id, producer_epoch, marker, now_ms);
        let info = self.append_batches(batch, None, now_ms, AppendOrigin::Marker)?;
        let completed = self.producers.apply_marker(
            producer_id,
            producer_epoch,
            marker,
            info.base_offset,
            now_ms,
        );
        if let Some(txn) = completed {
            self.record_completed(txn)?;
        }
        Ok(info)
    }

    fn record_completed(&mut self, txn: CompletedTxn) -> Result<(), LogError> {
        if !txn.aborted {
            return Ok(());
        }
        let entry = AbortedTxn {
            producer_id: txn.producer_id,
            first_offset: txn.first_offset,
            last_offset: txn.last_offset,
            last_stable_offset: self
                .producers
                .first_unstable_offset()
                .unwrap_or(txn.last_offset + 1),
        };
        let segment = self
            .segments
            .range_mut(..=txn.last_offset)
            .next_back()
            .map(|(_, s)| s)
            .expect("the marker's segment exists");
        segment.append_aborted_txn(entry)
    }

    /// The aborted transactions with data in `[from, to)`, for a read_committed fetch
    /// of that range. Markers come after their data, so the search starts at the
    /// segment holding `from` and ends once an entry's last stable offset reaches
    /// `to` (no transaction still open then can have started below `to`).
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        let mut found = Vec::new();
        let start = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        for segment in self.segments.range(start..).map(|(_, s)| s) {
            let entries = segment.aborted_txns();
            for entry in entries {
                if entry.last_offset >= from && entry.first_offset < to && !found.contains(entry) {
                    found.push(*entry);
                }
            }
            if entries.iter().any(|e| e.last_stable_offset >= to) {
                break;
            }
        }
        found
    }

    /// Writes the producer state snapshot at `offset` (a roll's new base, or the log end
    /// at close; everything below it is flushed by then).
    pub(super) fn write_producer_snapshot(&self, offset: i64) -> Result<(), LogError> {
        snapshot::write(&self.dir, offset, self.producers.producers())
    }

    /// Removes snapshots that describe offsets below the first segment, keeping the
    /// newest snapshot whatever its offset.
    pub(super) fn delete_old_producer_snapshots(&self) -> Result<(), LogError> {
        let first_base = *self.segments.keys().next().expect("a log has a segment");
        let snapshots = snapshot::list(&self.dir)?;
        let newest = snapshots.keys().next_back().copied();
        for (offset, path) in snapshots {
            if offset < first_base && Some(offset) != newest {
                fs::remove(&path)?;
            }
        }
        Ok(())
    }

    /// Rebuilds producer state and the aborted-transaction indexes from `offset` on:
    /// loads the newest readable snapshot at or below the log end (snapshots beyond it
    /// describe batches that are gone and are deleted, unreadable ones too), then
    /// replays every batch after it. With no snapshot at all (a log written before
    /// snapshots existed) the replay starts at the second-to-last segment, as Kafka's
    /// upgrade path does.
    pub(super) fn load_producer_state(&mut self) -> Result<(), LogError> {
        let snapshots = snapshot::list(&self.dir)?;
        let mut loaded = None;
        for (&offset, path) in snapshots.iter().rev() {
            if offset > self.log_end_offset {
                tracing::info!(dir = %self.dir.display(), offset, "deleting a producer snapshot beyond the log end");
                fs::remove(path)?;
                continue;
            }
            match read_snapshot(path) {
                Ok(entries) => {
                    self.producers.restore(entries);
                    loaded = Some(offset);
                    break;
                }
                Err(why) => {
                    tracing::warn!(dir = %self.dir.display(), file = %path.display(), "deleting an unreadable producer snapshot: {why}");
                    fs::remove(path)?;
                }
            }
        }
        let first_base = *self.segments.keys().next().expect("a log has a segment");
        let from = match loaded {
            Some(offset) => offset.max(first_base),
            None => {
                self.producers.restore(Vec::new());
                self.segments
                    .keys()
                    .rev()
                    .nth(1)
                    .copied()
                    .unwrap_or(first_base)
            }
        };
        self.replay_producers(from)
    }

    fn replay_producers(&mut self, from: i64) -> Result<(), LogError> {
        for segment in self.segments.values_mut() {
            segment.truncate_aborted_txns(from)?;
        }
        let bases: Vec<i64> = self
            .segments
            .range(..=from)
            .next_back()
            .map(|(&b, _)| b)
            .into_iter()
            .chain(self.segments.range(from + 1..).map(|(&b, _)| b))
            .collect();
        let mut replayed = 0usize;
        for base in bases {
            let mut headers: Vec<(u64, RecordBatchHeader)> = Vec::new();
            self.segments[&base].for_each_batch(|pos, header| {
                if header.last_offset() >= from && header.producer_id >= 0 {
                    headers.push((pos, *header));
                }
            })?;
            for (pos, header) in headers {
                let marker = if header.is_control() {
                    let bytes = self.segments[&base].read_batch(pos, &header)?;
                    control::parse_marker(&Bytes::from(bytes))
                } else {
                    None
                };
                if let Some(txn) = self.producers.replay(&header, marker) {
                    self.record_completed(txn)?;
                }
                replayed += 1;
            }
        }
        if replayed > 0 {
            tracing::debug!(dir = %self.dir.display(), from, batches = replayed, "replayed producer state");
        }
        Ok(())
    }
}

fn read_snapshot(path: &Path) -> Result<Vec<ProducerEntry>, String> {
    let bytes = fs::read(path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "missing".to_owned())?;
    snapshot::decode(&bytes)
}
