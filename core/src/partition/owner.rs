//! The task that owns a partition's log.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cleaning::Cleaning;
use super::command::Command;
use super::{
    IsolationLevel, OffsetSpec, PartitionHandle, PartitionOffsets, ReadResult, TimestampAndOffset,
};
use crate::log::{Log, LogError};

/// Requests queued per partition before senders wait: enough for a pipelining client
/// to keep the owner busy, small enough that a slow disk pushes back on producers.
const COMMAND_QUEUE: usize = 256;

/// Starts the owner task of `log` on `tracker` and returns its handle.
///
/// The owner runs until `shutdown` fires or every handle is dropped, then closes the
/// log (flushing it). `maintenance_interval` paces retention, time-based rolls,
/// `flush.ms` and, for compacted topics, starting log cleaner passes (which run on
/// `tracker` too, off the owner).
pub fn spawn_partition(
    tracker: &TaskTracker,
    topic: Arc<str>,
    partition: i32,
    log: Log,
    maintenance_interval: Duration,
    shutdown: CancellationToken,
) -> PartitionHandle {
    let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let (offsets_tx, offsets) = watch::channel(offsets_of(&log));
    let cleaning = Cleaning::new(
        tracker.clone(),
        commands_tx.downgrade(),
        shutdown.child_token(),
    );
    let owner = Owner {
        log: Some(log),
        offsets: offsets_tx,
        topic: topic.clone(),
        partition,
        cleaning,
    };
    tracker.spawn(owner.run(commands, maintenance_interval, shutdown));
    PartitionHandle::new(topic, partition, commands_tx, offsets)
}

struct Owner {
    /// `None` once the partition has been deleted.
    log: Option<Log>,
    offsets: watch::Sender<PartitionOffsets>,
    topic: Arc<str>,
    partition: i32,
    cleaning: Cleaning,
}

impl Owner {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        maintenance_interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut maintenance = tokio::time::interval(maintenance_interval);
        maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.serve(command),
                    None => break,
                },
                _ = maintenance.tick() => self.maintain(),
            }
            if self.log.is_none() {
                return;
            }
        }
        if let Some(log) = self.log.take() {
            if let Err(error) = log.close() {
                tracing::error!(topic = %self.topic, partition = self.partition, %error, "closing the log failed");
            }
        }
    }

    fn serve(&mut self, command: Command) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        match command {
            Command::Append {
                records,
                as_coordinator,
                reply,
            } => {
                let result = if as_coordinator {
                    log.append_as_coordinator(records, now_ms())
                } else {
                    log.append(records, now_ms())
                };
                self.publish();
                let _ = reply.send(result);
            }
            Command::WriteMarker {
                producer_id,
                producer_epoch,
                marker,
                reply,
            } => {
                let result = log.append_marker(producer_id, producer_epoch, marker, now_ms());
                self.publish();
                let _ = reply.send(result);
            }
            Command::Read {
                offset,
                max_bytes,
                isolation,
                reply,
            } => {
                let _ = reply.send(read(log, offset, max_bytes, isolation));
            }
            Command::DescribeProducers { reply } => {
                let _ = reply.send(Ok(log.active_producers()));
            }
            Command::ListOffset { spec, reply } => {
                let _ = reply.send(list_offset(log, spec));
            }
            Command::DeleteRecords {
                before_offset,
                reply,
            } => {
                let result = log.delete_records_before(before_offset);
                self.publish();
                let _ = reply.send(result);
            }
            Command::UpdateConfig(config) => log.update_config(config),
            Command::CleanDone(result) => {
                if let Err(error) = self.cleaning.finish(log, result) {
                    tracing::warn!(topic = %self.topic, partition = self.partition, %error, "log cleaning failed");
                }
                self.publish();
            }
            Command::Delete { reply } => {
                self.cleaning.cancel();
                let result = self.delete();
                let _ = reply.send(result);
            }
        }
    }

    fn maintain(&mut self) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        let now = now_ms();
        let expired = log.remove_expired_producers(now);
        if expired > 0 {
            tracing::debug!(topic = %self.topic, partition = self.partition, expired, "expired idle producers");
        }
        let result = log
            .maybe_roll(now)
            .and_then(|()| log.enforce_retention(now))
            .map(|deleted| {
                if deleted > 0 {
                    tracing::info!(topic = %self.topic, partition = self.partition, deleted, "retention deleted segments");
                }
            })
            .and_then(|()| self.cleaning.maybe_start(log));
        if let Err(error) = result {
            tracing::warn!(topic = %self.topic, partition = self.partition, %error, "log maintenance failed");
        }
        self.publish();
    }

    fn delete(&mut self) -> Result<(), LogError> {
        let Some(log) = self.log.take() else {
            return Ok(());
        };
        let dir = log.dir().to_path_buf();
        log.close()?;
        std::fs::remove_dir_all(&dir).map_err(|source| LogError::Io {
            context: format!("removing partition directory {}", dir.display()),
            source,
        })
    }

    fn publish(&self) {
        if let Some(log) = &self.log {
            self.offsets.send_if_modified(|current| {
                let next = offsets_of(log);
                let changed = *current != next;
                *current = next;
                changed
            });
        }
    }
}

/// Reads up to the high watermark, or for read_committed up to the last stable offset
/// with the aborted transactions that may have data in what was read. The regions'
/// last offset is not known without reading them, so the range asked of the index ends
/// at the last stable offset: a superset, which consumers handle (they only look at
/// entries that start at or before a batch they read).
fn read(
    log: &Log,
    offset: i64,
    max_bytes: usize,
    isolation: IsolationLevel,
) -> Result<ReadResult, LogError> {
    let upper_bound = match isolation {
        IsolationLevel::ReadUncommitted => log.log_end_offset(),
        IsolationLevel::ReadCommitted => log.last_stable_offset(),
    };
    let records = log.read_records(offset, max_bytes, upper_bound)?;
    let aborted = (isolation == IsolationLevel::ReadCommitted)
        .then(|| log.aborted_transactions(offset, upper_bound));
    Ok(ReadResult { records, aborted })
}

fn list_offset(log: &Log, spec: OffsetSpec) -> Result<Option<TimestampAndOffset>, LogError> {
    let found = match spec {
        OffsetSpec::Earliest => Some((-1, log.log_start_offset())),
        OffsetSpec::Latest => Some((-1, log.log_end_offset())),
        OffsetSpec::LastStable => Some((-1, log.last_stable_offset())),
        OffsetSpec::MaxTimestamp => log.max_timestamp(),
        OffsetSpec::Timestamp(ts) => log
            .offset_for_timestamp(ts)?
            .map(|(offset, ts)| (ts, offset)),
    };
    Ok(found.map(|(timestamp, offset)| TimestampAndOffset { timestamp, offset }))
}

fn offsets_of(log: &Log) -> PartitionOffsets {
    PartitionOffsets {
        log_start_offset: log.log_start_offset(),
        high_watermark: log.log_end_offset(),
        last_stable_offset: log.last_stable_offset(),
        size_bytes: log.size_bytes(),
    }
}

/// Wall-clock milliseconds since the Unix epoch, as Kafka timestamps are.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
