//! The task that owns a partition's log.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cleaning::Cleaning;
use super::command::Command;
use super::{OffsetSpec, PartitionHandle, PartitionOffsets, TimestampAndOffset};
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
            Command::Append { records, reply } => {
                let result = log.append(records, now_ms());
                self.publish();
                let _ = reply.send(result);
            }
            Command::Read {
                offset,
                max_bytes,
                reply,
            } => {
                let high_watermark = log.log_end_offset();
                let _ = reply.send(log.read_records(offset, max_bytes, high_watermark));
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

fn list_offset(log: &Log, spec: OffsetSpec) -> Result<Option<TimestampAndOffset>, LogError> {
    let found = match spec {
        OffsetSpec::Earliest => Some((-1, log.log_start_offset())),
        OffsetSpec::Latest => Some((-1, log.log_end_offset())),
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
