//! The task runtime: runs source and sink tasks against a Kafka cluster, keeps source
//! offsets in the log, and exposes per-task metrics.
//!
//! A [`Runtime`] is shared by every task of a worker. It knows nothing about which
//! tasks should run where; the worker decides that and calls [`Runtime::run_task`].

mod error_policy;
mod metrics;
mod offset_store;
mod sink_offsets;
mod sink_task;
mod source_task;

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{resolve_env, ConfigMap, ConnectorConfig};
use crate::herder::{ConnectorTaskId, PartitionOffset};
use crate::{ConnectError, Plugins, Task};

pub use metrics::{Metrics, TaskMetrics};

/// Where the cluster is and how to reach it.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub bootstrap_servers: String,
    /// Extra librdkafka settings for every client the runtime makes.
    pub client_config: ConfigMap,
    /// Compacted topic of source offsets.
    pub offsets_topic: String,
    pub worker_id: String,
}

impl RuntimeSettings {
    /// The default offsets topic.
    pub const OFFSETS_TOPIC: &'static str = "weir-connect-offsets";

    pub fn new(
        bootstrap_servers: impl Into<String>,
        worker_id: impl Into<String>,
    ) -> RuntimeSettings {
        RuntimeSettings {
            bootstrap_servers: bootstrap_servers.into(),
            client_config: ConfigMap::new(),
            offsets_topic: RuntimeSettings::OFFSETS_TOPIC.to_string(),
            worker_id: worker_id.into(),
        }
    }
}

/// How the worker steers a running task.
#[derive(Debug, Clone)]
pub struct TaskControl {
    /// Stops the task: it finishes what is in flight (a source stores its positions)
    /// and returns.
    pub cancel: CancellationToken,
    /// While true the task idles without polling or consuming.
    pub paused: watch::Receiver<bool>,
}

/// Shared by every task on a worker; cheap to clone.
#[derive(Debug, Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: RuntimeSettings,
    plugins: Plugins,
    offsets: offset_store::OffsetStore,
    metrics: Metrics,
}

impl Runtime {
    /// Connects and creates the offsets topic if it is missing.
    pub async fn start(
        settings: RuntimeSettings,
        plugins: Plugins,
    ) -> Result<Runtime, ConnectError> {
        let offsets = offset_store::OffsetStore::open(&settings).await?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                settings,
                plugins,
                offsets,
                metrics: Metrics::default(),
            }),
        })
    }

    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.inner.settings
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Prometheus text for every task's metrics.
    pub fn render_metrics(&self) -> String {
        self.inner.metrics.render()
    }

    /// Runs one task until `control.cancel` fires (`Ok`) or it fails for good (`Err`
    /// with the reason, which becomes the task's trace).
    pub async fn run_task(
        &self,
        id: ConnectorTaskId,
        config: Arc<ConnectorConfig>,
        task_config: ConfigMap,
        control: TaskControl,
    ) -> Result<(), ConnectError> {
        let plugin = Arc::clone(&config.plugin);
        let resolved = resolve_env(&task_config).map_err(|issues| config_error(&id, issues))?;
        let parsed = plugin
            .config_def()
            .parse(&resolved)
            .map_err(|issues| config_error(&id, issues))?;
        let metrics = self.inner.metrics.task(&id, config.connector_type);
        let settings = &self.inner.settings;
        match plugin.create_task(&parsed)? {
            Task::Source(source) => {
                let run = source_task::SourceTaskRun {
                    settings,
                    id,
                    config,
                    offsets: self.inner.offsets.clone(),
                    metrics,
                    control,
                };
                run.run(source).await
            }
            Task::Sink(sink) => {
                let run = sink_task::SinkTaskRun {
                    settings,
                    id,
                    config,
                    metrics,
                    control,
                };
                run.run(sink).await
            }
        }
    }

    pub async fn source_offsets(
        &self,
        connector: &str,
    ) -> Result<Vec<PartitionOffset>, ConnectError> {
        self.inner.offsets.read_rest(connector).await
    }

    /// A null `offset` removes that partition's offset.
    pub async fn alter_source_offsets(
        &self,
        connector: &str,
        offsets: &[PartitionOffset],
    ) -> Result<(), ConnectError> {
        let entries: Vec<_> = offsets
            .iter()
            .map(|o| (o.partition.clone(), o.offset.clone()))
            .collect();
        self.inner.offsets.write(connector, &entries).await
    }

    pub async fn reset_source_offsets(&self, connector: &str) -> Result<(), ConnectError> {
        let stored = self.inner.offsets.read(connector).await?;
        let tombstones: Vec<_> = stored
            .into_iter()
            .map(|(partition, _)| (partition, serde_json::Value::Null))
            .collect();
        self.inner.offsets.write(connector, &tombstones).await
    }

    /// Committed offsets of the sink's consumer group `connect-<name>`.
    pub async fn sink_offsets(
        &self,
        connector: &str,
    ) -> Result<Vec<PartitionOffset>, ConnectError> {
        sink_offsets::read(&self.inner.settings, connector).await
    }

    pub async fn alter_sink_offsets(
        &self,
        connector: &str,
        offsets: &[PartitionOffset],
    ) -> Result<(), ConnectError> {
        sink_offsets::alter(&self.inner.settings, connector, offsets).await
    }

    pub async fn reset_sink_offsets(&self, connector: &str) -> Result<(), ConnectError> {
        sink_offsets::reset(&self.inner.settings, connector).await
    }
}

fn config_error(id: &ConnectorTaskId, issues: Vec<crate::config::ConfigIssue>) -> ConnectError {
    let list: Vec<String> = issues.iter().map(ToString::to_string).collect();
    ConnectError::user(format!(
        "task {}-{} has an invalid config: {}",
        id.connector,
        id.task,
        list.join("; ")
    ))
}
