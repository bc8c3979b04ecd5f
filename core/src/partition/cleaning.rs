//! Driving the log cleaner for one partition. The owner decides on each maintenance
//! tick whether a pass is due (a cheap snapshot), the pass itself runs on a blocking
//! thread awaited by a task on the partitions' tracker, and its result comes back to
//! the owner as a [`Command::CleanDone`], which swaps the new segments in. Appends and
//! reads go on meanwhile; at most one pass per partition is in flight.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::command::Command;
use super::owner::now_ms;
use crate::log::cleaner::{self, CleanedSegments, CleanerLimits};
use crate::log::{Log, LogError};

#[derive(Debug)]
pub(super) struct Cleaning {
    tracker: TaskTracker,
    /// Weak, so that a pass in flight never keeps the owner alive.
    commands: mpsc::WeakSender<Command>,
    /// Stops a pass in flight: the broker shuts down or the partition is deleted.
    cancel: CancellationToken,
    in_flight: bool,
    /// The earliest tombstone delete horizon the last pass left in the log: a pass is
    /// due when it passes, even with nothing dirty. Not persisted: after a restart the
    /// next dirty-ratio pass finds the tombstones again.
    pending_horizon_ms: Option<i64>,
}

impl Cleaning {
    pub(super) fn new(
        tracker: TaskTracker,
        commands: mpsc::WeakSender<Command>,
        cancel: CancellationToken,
    ) -> Cleaning {
        Cleaning {
            tracker,
            commands,
            cancel,
            in_flight: false,
            pending_horizon_ms: None,
        }
    }

    /// Starts a pass if the log is compacted, none is running and one is due.
    pub(super) fn maybe_start(&mut self, log: &Log) -> Result<(), LogError> {
        if self.in_flight || self.cancel.is_cancelled() {
            return Ok(());
        }
        let Some(snapshot) = log.cleanable_snapshot(now_ms())? else {
            return Ok(());
        };
        if !snapshot.is_due(self.pending_horizon_ms) {
            return Ok(());
        }
        tracing::debug!(
            dir = %log.dir().display(),
            dirty_ratio = snapshot.dirty_ratio(),
            first_dirty_offset = snapshot.first_dirty_offset(),
            "starting a cleaning pass"
        );
        self.in_flight = true;
        let commands = self.commands.clone();
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            let pass = tokio::task::spawn_blocking(move || {
                cleaner::clean(&snapshot, &CleanerLimits::default(), &|| {
                    cancel.is_cancelled()
                })
            })
            .await;
            let result = pass.unwrap_or_else(|join| {
                Err(LogError::io(
                    "the cleaning thread failed",
                    std::io::Error::other(join.to_string()),
                ))
            });
            let sent = match commands.upgrade() {
                Some(commands) => commands
                    .send(Command::CleanDone(result))
                    .await
                    .map_err(|e| e.0),
                None => Err(Command::CleanDone(result)),
            };
            // The owner is gone: its files are removed here or at the next open.
            if let Err(Command::CleanDone(Ok(Some(cleaned)))) = sent {
                let _ = cleaned.discard();
            }
        });
        Ok(())
    }

    /// Swaps a finished pass in.
    pub(super) fn finish(
        &mut self,
        log: &mut Log,
        result: Result<Option<CleanedSegments>, LogError>,
    ) -> Result<(), LogError> {
        self.in_flight = false;
        let Some(cleaned) = result? else {
            return Ok(());
        };
        let horizon = cleaned.stats.next_horizon_ms;
        if log.replace_segments(cleaned, now_ms())? {
            self.pending_horizon_ms = horizon;
        }
        Ok(())
    }

    /// Stops a pass in flight (its files are removed by it or at the next open).
    pub(super) fn cancel(&self) {
        self.cancel.cancel();
    }
}
