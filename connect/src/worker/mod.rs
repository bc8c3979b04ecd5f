//! The Connect worker: Kafka Connect's herder, in standalone and distributed mode.
//!
//! A worker keeps a view of the cluster's connectors (configs, target states, restart
//! requests and statuses, [`view`]), and a controller that runs the tasks that fall to
//! it ([`controller`], [`reconcile`]). The REST API asks it through the
//! [`Herder`](crate::herder::Herder) trait ([`api`]).
//!
//! - **Standalone**: connectors come from a pipeline file and from REST calls, kept in
//!   memory; this worker runs every task. Nothing survives a restart except what the
//!   pipeline file declares (source offsets live in the log either way).
//! - **Distributed**: configs and target states live in the compacted config topic,
//!   statuses in the compacted status topic ([`records`]); every worker tails both.
//!   Tasks are shared by the workers of one group through the slots topic's partition
//!   assignment ([`slots`], [`membership`]). A REST write on any worker is stored in the
//!   config topic and applied by every worker, so any worker answers for the cluster.
//!
//! Every worker derives the task configs from the stored connector config with the
//! plugin's [`task_configs`](crate::ConnectorPlugin::task_configs), which is a function
//! of the config alone, so all workers agree on the tasks without storing them.

mod active_topics;
mod api;
mod controller;
mod errors;
mod kafka;
mod membership;
mod rebalance_delay;
mod reconcile;
pub(crate) mod records;
mod slots;
mod status;
mod store;
mod tail;
mod topic_store;
mod view;
mod worker_config;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ConnectorConfig;
use crate::runtime::{Runtime, RuntimeSettings};
use crate::ConnectError;

use crate::kafka::{blocking, client_config, cluster_error, ensure_topics, InternalTopic};
use controller::Controller;
use kafka::partitions;
use membership::Membership;
use records::{ActiveTopic, ConfigRecord, StatusRecord, Subject, TopicStatus};
use slots::Ownership;
use store::{BackingStore, MemoryStore};
use tail::Tail;
use topic_store::TopicStore;
use view::Shared;

pub use worker_config::{ExactlyOnceSourceSupport, WorkerConfig, DEFAULT_GROUP_ID};

/// How a distributed worker finds its cluster's workers and stores their state.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The worker group; workers with the same group id share connectors and tasks.
    pub group_id: String,
    /// Compacted, one partition: connector configs and target states.
    pub config_topic: String,
    /// Compacted: connector and task statuses.
    pub status_topic: String,
    /// Partitions are task slots, handed out by the group (never written to).
    pub slots_topic: String,
    /// Partitions of the slots topic when this worker creates it: the most workers
    /// that can share the tasks, and the most tasks that each get their own slot.
    pub slots: i32,
    /// Partitions of the status topic when this worker creates it.
    pub status_partitions: i32,
    /// Replication factors of the config and status topics when this worker creates
    /// them; -1 takes the broker's. (The slots topic holds no data: one replica.)
    pub config_replication_factor: i32,
    pub status_replication_factor: i32,
    /// How long a worker may go silent before its tasks move to other workers.
    pub session_timeout: Duration,
    /// How long a stopping task may take before it is aborted (Kafka Connect's
    /// `task.shutdown.graceful.timeout.ms`).
    pub task_shutdown_timeout: Duration,
    /// How long to wait for the config and status topics to be read at start.
    pub startup_timeout: Duration,
    /// How long the tasks of a worker that left the group wait before they move
    /// (`scheduled.rebalance.max.delay.ms`, KIP-415).
    pub scheduled_rebalance_max_delay: Duration,
}

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings {
            group_id: DEFAULT_GROUP_ID.to_string(),
            config_topic: format!("{DEFAULT_GROUP_ID}-configs"),
            status_topic: format!("{DEFAULT_GROUP_ID}-status"),
            slots_topic: format!("{DEFAULT_GROUP_ID}-slots"),
            slots: 32,
            status_partitions: 5,
            config_replication_factor: -1,
            status_replication_factor: -1,
            session_timeout: Duration::from_secs(10),
            task_shutdown_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(60),
            scheduled_rebalance_max_delay: Duration::from_secs(300),
        }
    }
}

/// A Connect worker; the REST API drives it through [`Herder`](crate::herder::Herder).
pub struct Worker {
    worker_id: String,
    runtime: Runtime,
    shared: Arc<Shared>,
    store: Arc<dyn BackingStore>,
    admin: Arc<AdminClient<DefaultClientContext>>,
    cluster_id: tokio::sync::OnceCell<String>,
    tracker: TaskTracker,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker_id", &self.worker_id)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Standalone: connectors given up front (from a pipeline file) plus any created
    /// over REST, all kept in memory; every task runs here.
    pub async fn standalone(
        runtime: Runtime,
        connectors: Vec<ConnectorConfig>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Worker>, ConnectError> {
        let settings = runtime.settings().clone();
        let shared = Arc::new(Shared::new(runtime.plugins().clone()));
        let mut names = BTreeSet::new();
        for connector in connectors {
            if !names.insert(connector.name.clone()) {
                return Err(ConnectError::user(format!(
                    "two connectors are named {}; connector names must be unique",
                    connector.name
                )));
            }
            let mut props = connector.raw.clone();
            props
                .entry("name".to_string())
                .or_insert_with(|| connector.name.clone());
            let record = ConfigRecord::Connector(connector.name.clone(), Some(props));
            shared.update(|view| view.apply_config(record, false));
        }
        let store: Arc<dyn BackingStore> = Arc::new(MemoryStore::new(shared.clone()));
        let admin = Arc::new(admin(&settings)?);
        let grace = WorkerSettings::default().task_shutdown_timeout;
        let controller = Controller::new(
            runtime.clone(),
            shared.clone(),
            store.clone(),
            Ownership::everything(),
            grace,
        );
        let tracker = TaskTracker::new();
        tracker.spawn(controller.run(None, shutdown, CancellationToken::new()));
        tracker.close();
        Ok(Arc::new(Worker {
            worker_id: settings.worker_id,
            runtime,
            shared,
            store,
            admin,
            cluster_id: tokio::sync::OnceCell::new(),
            tracker,
        }))
    }

    /// Distributed: configs and target states in the compacted config topic, statuses
    /// in the status topic, tasks shared by every worker in `settings.group_id`.
    /// Creates the worker's topics when missing and returns once both topics are read
    /// to their end.
    pub async fn distributed(
        runtime: Runtime,
        settings: WorkerSettings,
        shutdown: CancellationToken,
    ) -> Result<Arc<Worker>, ConnectError> {
        let client = runtime.settings().clone();
        let admin = Arc::new(admin(&client)?);
        let topic = |name, partitions, replication_factor, compacted| InternalTopic {
            name,
            partitions,
            replication_factor,
            compacted,
        };
        ensure_topics(
            &client,
            &[
                topic(
                    &settings.config_topic,
                    1,
                    settings.config_replication_factor,
                    true,
                ),
                topic(
                    &settings.status_topic,
                    settings.status_partitions,
                    settings.status_replication_factor,
                    true,
                ),
                topic(&settings.slots_topic, settings.slots, -1, false),
            ],
        )
        .await?;

        let shared = Arc::new(Shared::new(runtime.plugins().clone()));
        let tracker = TaskTracker::new();
        let stop = shutdown.child_token();
        // Until the worker is up, a failure stops what was started.
        let started = stop.clone().drop_guard();
        let config_tail = Tail::start(
            &client,
            &settings.config_topic,
            &tracker,
            stop.clone(),
            apply_config(shared.clone()),
        )
        .await?;
        let status_tail = Tail::start(
            &client,
            &settings.status_topic,
            &tracker,
            stop.clone(),
            apply_status(shared.clone()),
        )
        .await?;
        config_tail.caught_up(settings.startup_timeout).await?;
        status_tail.caught_up(settings.startup_timeout).await?;
        let store: Arc<dyn BackingStore> = Arc::new(TopicStore::new(
            shared.clone(),
            &client,
            &settings.config_topic,
            &settings.status_topic,
            config_tail,
            tracker.clone(),
            stop.clone(),
        )?);

        let probe = admin.clone();
        let slots_topic = settings.slots_topic.clone();
        let slots = blocking(move || partitions(probe.inner(), &slots_topic))
            .await?
            .map_err(|e| {
                ConnectError::external(format!(
                    "cannot read the partitions of topic {}: {e}",
                    settings.slots_topic
                ))
            })?
            .len() as i32;
        let (membership, events) = Membership::join(
            &client,
            &settings.group_id,
            &settings.slots_topic,
            settings.session_timeout,
        )?;
        let leave = CancellationToken::new();
        let member_leave = leave.clone();
        tracker.spawn_blocking(move || membership.run(member_leave));
        let mut controller = Controller::new(
            runtime.clone(),
            shared.clone(),
            store.clone(),
            Ownership::nothing(slots),
            settings.task_shutdown_timeout,
        );
        controller.rebalance_delay = settings.scheduled_rebalance_max_delay;
        tracker.spawn(controller.run(Some(events), stop, leave));
        tracker.close();
        started.disarm();
        tracing::info!(
            worker = %client.worker_id,
            group = %settings.group_id,
            slots,
            "distributed worker started"
        );
        Ok(Arc::new(Worker {
            worker_id: client.worker_id,
            runtime,
            shared,
            store,
            admin,
            cluster_id: tokio::sync::OnceCell::new(),
            tracker,
        }))
    }

    /// Waits until every task has stopped (and a distributed worker has left its
    /// group) after the `shutdown` token given at start was cancelled.
    pub async fn join(&self) {
        self.tracker.wait().await;
    }
}

fn admin(settings: &RuntimeSettings) -> Result<AdminClient<DefaultClientContext>, ConnectError> {
    client_config(settings)
        .create()
        .map_err(|e| cluster_error("cannot create an admin client", settings, e))
}

/// Applies what the config topic tail reads.
fn apply_config(shared: Arc<Shared>) -> tail::Apply {
    Box::new(
        move |key, value, live| match ConfigRecord::decode(key, value) {
            Ok(record) => shared.update(|view| view.apply_config(record, live)),
            Err(err) => tracing::warn!(%key, error = %err, "skipping a config topic record"),
        },
    )
}

/// Applies what the status topic tail reads, this worker's own writes included: a
/// RESTARTING written by another worker names the task's owner, and the owner must see
/// it to report again. Reading back an own status older than the latest one written
/// makes the controller write the latest again, so the view settles on it.
fn apply_status(shared: Arc<Shared>) -> tail::Apply {
    Box::new(move |key, value, _live| {
        if let Some(topic) = ActiveTopic::from_key(key) {
            match value.map(TopicStatus::decode).transpose() {
                Ok(status) => shared.update(|view| view.apply_topic(topic, status)),
                Err(err) => tracing::warn!(%key, error = %err, "skipping a status topic record"),
            }
            return;
        }
        let Some(subject) = Subject::from_status_key(key) else {
            tracing::warn!(%key, "skipping a status topic record with an unknown key");
            return;
        };
        let status = match value.map(StatusRecord::decode).transpose() {
            Ok(status) => status,
            Err(err) => {
                tracing::warn!(%key, error = %err, "skipping a status topic record");
                return;
            }
        };
        shared.update(|view| view.apply_status(subject, status));
    })
}
