//! The task controller: the one owner of the tasks this worker runs.
//!
//! It wakes when the view changes, when the group moves slots, when a task ends, and
//! when a stopping task overstays its grace period, and then compares what should run
//! here (the tasks in this worker's slots, [`super::reconcile`]) with what does. All
//! decisions are level-triggered, so a missed wake-up only delays them; the one edge,
//! a restart, is a counter in the view that the running instance is compared with.
//!
//! A task is stopped by cancelling its token, and is only started again once its old
//! instance has ended, so two instances of one task never run on one worker.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ConnectorConfig;
use crate::herder::{ConnectorTaskId, State};
use crate::runtime::Runtime;
use crate::ConnectError;

use super::active_topics::StoredTopics;
use super::membership::MembershipEvent;
use super::records::{StatusRecord, Subject};
use super::slots::Ownership;
use super::status::{can_write_safely, next_generation};
use super::store::BackingStore;
use super::view::Shared;

/// Which config and which restart a task instance was started with; a task whose
/// stamp changed is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) version: u64,
    pub(super) restart: u64,
}

/// Why a running task is being stopped, which decides what is reported after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StopReason {
    /// Its slot went to another worker: UNASSIGNED, unless the new owner reported.
    Revoked,
    /// The connector was deleted or stopped, or has fewer tasks now: no status.
    Removed,
    /// Restarted or reconfigured: the new instance reports.
    Restart,
    /// The worker shuts down: UNASSIGNED.
    Shutdown,
}

#[derive(Debug)]
pub(super) struct Running {
    pub(super) stamp: Stamp,
    pub(super) cancel: CancellationToken,
    pub(super) paused: watch::Sender<bool>,
    abort: AbortHandle,
    /// Set once cancelled: why, and when it is aborted if it has not ended.
    pub(super) stop: Option<(StopReason, Instant)>,
}

type TaskResult = Result<(), ConnectError>;

/// A connector's config version and connector restart count.
pub(super) type ParseKey = (u64, u64);

/// A parsed connector config, or why it does not parse on this worker.
pub(super) type Parsed = Result<Arc<ConnectorConfig>, String>;

#[derive(Debug)]
pub(crate) struct Controller {
    pub(super) runtime: Runtime,
    pub(super) shared: Arc<Shared>,
    pub(super) store: Arc<dyn BackingStore>,
    pub(super) worker_id: String,
    pub(super) ownership: Ownership,
    pub(super) generation: u64,
    /// How long a cancelled task may take to end before it is aborted.
    pub(super) grace: Duration,
    /// How long slots of a departed worker wait before their tasks start here.
    pub(super) rebalance_delay: Duration,
    /// Whether the group assigned this worker slots before (see `rebalance_delay`).
    pub(super) assigned_before: bool,
    tasks: JoinSet<TaskResult>,
    instances: HashMap<tokio::task::Id, ConnectorTaskId>,
    pub(super) running: BTreeMap<ConnectorTaskId, Running>,
    /// Tasks that ended on their own: the stamp they ran with and their failure. They
    /// stay FAILED until restarted, reconfigured or moved, as in Kafka Connect.
    pub(super) ended: BTreeMap<ConnectorTaskId, (Stamp, String)>,
    /// Connectors whose status this worker reports.
    pub(super) connectors: BTreeSet<String>,
    /// Parsed connector configs by name, with the config version and connector
    /// restart count they came from.
    pub(super) parsed: HashMap<String, (ParseKey, Parsed)>,
    revokes: Vec<oneshot::Sender<()>>,
}

enum Wake {
    Shutdown,
    Membership(Option<MembershipEvent>),
    Changed,
    Ended(Result<(tokio::task::Id, TaskResult), JoinError>),
    Overdue,
}

impl Controller {
    pub(crate) fn new(
        runtime: Runtime,
        shared: Arc<Shared>,
        store: Arc<dyn BackingStore>,
        ownership: Ownership,
        grace: Duration,
    ) -> Controller {
        let worker_id = runtime.settings().worker_id.clone();
        let generation = next_generation(0, shared.view().highest_generation());
        Controller {
            runtime,
            shared,
            store,
            worker_id,
            ownership,
            generation,
            grace,
            rebalance_delay: Duration::ZERO,
            assigned_before: false,
            tasks: JoinSet::new(),
            instances: HashMap::new(),
            running: BTreeMap::new(),
            ended: BTreeMap::new(),
            connectors: BTreeSet::new(),
            parsed: HashMap::new(),
            revokes: Vec::new(),
        }
    }

    /// Runs until `shutdown`, then stops every task and finally cancels `leave` (the
    /// group member leaves only once its tasks have stopped).
    pub(crate) async fn run(
        mut self,
        mut membership: Option<mpsc::UnboundedReceiver<MembershipEvent>>,
        shutdown: CancellationToken,
        leave: CancellationToken,
    ) {
        let shared = self.shared.clone();
        self.reconcile();
        loop {
            let deadline = self.next_deadline();
            let wake = tokio::select! {
                _ = shutdown.cancelled() => Wake::Shutdown,
                event = next_event(&mut membership) => Wake::Membership(event),
                _ = shared.changed.notified() => Wake::Changed,
                Some(ended) = self.tasks.join_next_with_id() => Wake::Ended(ended),
                _ = sleep_until(deadline) => Wake::Overdue,
            };
            match wake {
                Wake::Shutdown => break,
                Wake::Membership(Some(event)) => self.on_membership(event),
                Wake::Membership(None) => {
                    // The member thread is gone, so the group will give our slots away:
                    // run nothing rather than run tasks twice.
                    tracing::error!("the worker's group member stopped; stopping every task here");
                    membership = None;
                    self.ownership.owned.clear();
                    self.ownership.delayed.clear();
                }
                Wake::Changed => {}
                Wake::Ended(ended) => self.on_ended(ended),
                Wake::Overdue => self.abort_overdue(),
            }
            self.promote_delayed();
            self.reconcile();
            self.ack_revokes();
        }
        self.stop_all().await;
        self.revokes.clear();
        leave.cancel();
    }

    fn on_membership(&mut self, event: MembershipEvent) {
        match event {
            MembershipEvent::Assigned(slots, members) => {
                // Cooperative rebalancing hands out the slots added to this worker's;
                // the ones it keeps stay, with their tasks running.
                tracing::info!(?slots, "worker group assigned slots");
                self.generation =
                    next_generation(self.generation, self.shared.view().highest_generation());
                self.assign(slots, members.as_ref());
            }
            MembershipEvent::Revoked(slots, done) => {
                tracing::info!(?slots, "worker group revoked slots");
                self.ownership.owned.retain(|s| !slots.contains(s));
                self.ownership.delayed.retain(|s, _| !slots.contains(s));
                self.revokes.push(done);
            }
        }
    }

    /// Lets a pending rebalance go on once no task is still stopping.
    fn ack_revokes(&mut self) {
        if self.running.values().all(|r| r.stop.is_none()) {
            for done in self.revokes.drain(..) {
                let _ = done.send(());
            }
        }
    }

    pub(super) fn start(
        &mut self,
        id: ConnectorTaskId,
        stamp: Stamp,
        config: Arc<ConnectorConfig>,
        task_config: crate::config::ConfigMap,
        paused: bool,
    ) {
        let cancel = CancellationToken::new();
        let (paused_tx, paused_rx) = watch::channel(paused);
        let topics = self.runtime.settings().topic_tracking.then(|| {
            Arc::new(StoredTopics {
                shared: Arc::clone(&self.shared),
                store: Arc::clone(&self.store),
            }) as Arc<dyn crate::runtime::TopicReporter>
        });
        let control = crate::runtime::TaskControl {
            cancel: cancel.clone(),
            paused: paused_rx,
            topics,
        };
        let runtime = self.runtime.clone();
        let task = id.clone();
        let abort = self
            .tasks
            .spawn(async move { runtime.run_task(task, config, task_config, control).await });
        tracing::info!(connector = %id.connector, task = id.task, "task started");
        self.instances.insert(abort.id(), id.clone());
        self.ended.remove(&id);
        self.running.insert(
            id,
            Running {
                stamp,
                cancel,
                paused: paused_tx,
                abort,
                stop: None,
            },
        );
    }

    pub(super) fn stop(&mut self, id: &ConnectorTaskId, reason: StopReason) {
        if let Some(running) = self.running.get_mut(id) {
            if running.stop.is_none() {
                tracing::info!(connector = %id.connector, task = id.task, ?reason, "stopping task");
                running.cancel.cancel();
                running.stop = Some((reason, Instant::now() + self.grace));
            }
        }
    }

    fn on_ended(&mut self, ended: Result<(tokio::task::Id, TaskResult), JoinError>) {
        let (instance, result) = match ended {
            Ok((instance, result)) => (instance, Ok(result)),
            Err(err) => (err.id(), Err(err)),
        };
        let Some(id) = self.instances.remove(&instance) else {
            return;
        };
        let Some(running) = self.running.remove(&id) else {
            return;
        };
        let subject = Subject::Task(id.clone());
        match running.stop {
            Some((StopReason::Revoked | StopReason::Shutdown, _)) => {
                if let Ok(Err(err)) = &result {
                    tracing::warn!(connector = %id.connector, task = id.task, error = %err.chain(), "task failed while stopping");
                }
                self.report_safely(subject, State::Unassigned, None);
            }
            Some((StopReason::Removed, _)) => self.store.put_status(subject, None),
            Some((StopReason::Restart, _)) => {}
            None => {
                let trace = failure_trace(result);
                tracing::warn!(connector = %id.connector, task = id.task, error = %trace, "task failed");
                self.report(subject, State::Failed, Some(trace.clone()));
                self.ended.insert(id, (running.stamp, trace));
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.running
            .values()
            .filter_map(|r| r.stop.map(|(_, at)| at))
            .chain(self.next_delayed())
            .min()
    }

    fn abort_overdue(&mut self) {
        let now = Instant::now();
        for (id, running) in &self.running {
            if running.stop.is_some_and(|(_, at)| at <= now) {
                tracing::warn!(connector = %id.connector, task = id.task, grace = ?self.grace, "task did not stop within its grace period; aborting it");
                running.abort.abort();
            }
        }
    }

    /// Stops every task, waiting up to the grace period, then aborts the rest.
    async fn stop_all(&mut self) {
        let ids: Vec<_> = self.running.keys().cloned().collect();
        for id in &ids {
            self.stop(id, StopReason::Shutdown);
        }
        let deadline = Instant::now() + self.grace;
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(ended)) => self.on_ended(ended),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(grace = ?self.grace, "tasks did not stop within their grace period; aborting them");
                    self.tasks.abort_all();
                    while let Some(ended) = self.tasks.join_next_with_id().await {
                        self.on_ended(ended);
                    }
                    break;
                }
            }
        }
    }

    /// Reports a status unless the view already shows exactly it.
    pub(super) fn report(&mut self, subject: Subject, state: State, trace: Option<String>) {
        let status = self.status(state, trace);
        if self.shared.view().status(&subject) != Some(&status) {
            self.store.put_status(subject, Some(status));
        }
    }

    /// Reports a status that may be stale: not over a newer owner's report.
    pub(super) fn report_safely(&mut self, subject: Subject, state: State, trace: Option<String>) {
        let status = self.status(state, trace);
        let allowed = {
            let view = self.shared.view();
            let existing = view.status(&subject);
            existing != Some(&status) && can_write_safely(existing, &status)
        };
        if allowed {
            self.store.put_status(subject, Some(status));
        }
    }

    fn status(&self, state: State, trace: Option<String>) -> StatusRecord {
        StatusRecord {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.generation,
        }
    }
}

/// The trace of a task that ended without being asked to.
fn failure_trace(result: Result<TaskResult, JoinError>) -> String {
    match result {
        Ok(Err(err)) => err.chain(),
        Ok(Ok(())) => "the task stopped without being asked to".to_string(),
        Err(err) if err.is_panic() => {
            let payload = err.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            format!("the task panicked (a bug in Weir or the connector): {message}")
        }
        Err(_) => "the task was aborted".to_string(),
    }
}

async fn next_event(
    membership: &mut Option<mpsc::UnboundedReceiver<MembershipEvent>>,
) -> Option<MembershipEvent> {
    match membership {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_traces_carry_the_error_chain() {
        let io = std::io::Error::other("connection reset");
        let err = ConnectError::external("redis write failed").with_source(io);
        assert_eq!(
            failure_trace(Ok(Err(err))),
            "redis write failed: connection reset"
        );
        assert_eq!(
            failure_trace(Ok(Ok(()))),
            "the task stopped without being asked to"
        );
    }

    #[tokio::test]
    async fn a_panicking_task_is_reported_with_its_message() {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("index out of bounds") });
        let err = set.join_next().await.unwrap().unwrap_err();
        assert_eq!(
            failure_trace(Err(err)),
            "the task panicked (a bug in Weir or the connector): index out of bounds"
        );
    }
}
