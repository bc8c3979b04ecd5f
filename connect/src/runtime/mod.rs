//! The task runtime: runs source and sink tasks against a Kafka cluster, keeps source
//! offsets in the log, and exposes per-task metrics.
//!
//! A [`Runtime`] is shared by every task of a worker. It knows nothing about which
//! tasks should run where; the worker decides that and calls [`Runtime::run_task`].

mod active_topics;
mod error_policy;
mod metrics;
mod offset_store;
mod sink_consumer;
mod sink_offsets;
mod sink_task;
mod source_task;
mod source_transactions;
mod topic_creation;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{resolve_env, ConfigIssue, ConfigMap, ConnectorConfig};
use crate::herder::{ConnectorTaskId, PartitionOffset};
use crate::{ConnectError, Plugins, Task};

pub use active_topics::TopicReporter;
pub use metrics::{Metrics, TaskMetrics};

/// Where the cluster is, how to reach it, and what a worker's properties file says
/// about the tasks' clients.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub bootstrap_servers: String,
    /// Extra librdkafka settings for every client the runtime makes.
    pub client_config: ConfigMap,
    /// Compacted topic of source offsets.
    pub offsets_topic: String,
    /// Partitions and replication factor of the offsets topic when it is created.
    pub offsets_partitions: i32,
    pub offsets_replication_factor: i32,
    /// Settings for the source tasks' producers (a worker's `producer.*` keys), under
    /// a connector's `producer.override.*`.
    pub producer_config: ConfigMap,
    /// Settings for the sink tasks' consumers (`consumer.*`), under a connector's
    /// `consumer.override.*`.
    pub consumer_config: ConfigMap,
    /// Connector keys a connector takes from the worker when it does not set them
    /// (`key.converter`, `value.converter` and their settings).
    pub connector_defaults: ConfigMap,
    /// How often a source task stores its acknowledged positions while data flows.
    pub offset_flush_interval: Duration,
    /// Which client overrides connectors may set.
    pub override_policy: OverridePolicy,
    /// Set when source tasks run in transactions (`exactly.once.source.support=enabled`):
    /// the worker group id, which starts every task's transactional id
    /// (`<group>-<connector>-<task>`).
    pub transactional_id_prefix: Option<String>,
    /// Whether tasks record the topics they use (`topic.tracking.enable`, KIP-558),
    /// and whether `PUT /connectors/{name}/topics/reset` may clear them
    /// (`topic.tracking.allow.reset`).
    pub topic_tracking: bool,
    pub topic_tracking_allow_reset: bool,
    /// Whether source tasks create the topics they write to with their connector's
    /// `topic.creation.*` settings (`topic.creation.enable`, KIP-158). Off, those
    /// settings are ignored and a missing topic is the cluster's to auto-create.
    pub topic_creation_enable: bool,
    pub worker_id: String,
}

/// `connector.client.config.override.policy`: which `producer.override.*` and
/// `consumer.override.*` keys a connector may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// Any key (Kafka Connect's default since 3.0).
    All,
    /// No key.
    None,
    /// Only the client's identity: `sasl.jaas.config`, `sasl.mechanism`,
    /// `security.protocol`.
    Principal,
}

impl OverridePolicy {
    /// Why `key` (without its prefix) may not be overridden, if it may not.
    pub fn refuses(self, key: &str) -> Option<String> {
        const PRINCIPAL: &[&str] = &["sasl.jaas.config", "sasl.mechanism", "security.protocol"];
        match self {
            OverridePolicy::All => None,
            OverridePolicy::None => Some(format!(
                "The 'None' policy does not allow '{key}' to be overridden"
            )),
            OverridePolicy::Principal if PRINCIPAL.contains(&key) => None,
            OverridePolicy::Principal => Some(format!(
                "The 'Principal' policy does not allow '{key}' to be overridden"
            )),
        }
    }
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
            offsets_partitions: 25,
            offsets_replication_factor: -1,
            producer_config: ConfigMap::new(),
            consumer_config: ConfigMap::new(),
            connector_defaults: ConfigMap::new(),
            offset_flush_interval: Duration::from_secs(1),
            override_policy: OverridePolicy::All,
            transactional_id_prefix: None,
            topic_tracking: true,
            topic_tracking_allow_reset: true,
            topic_creation_enable: true,
            worker_id: worker_id.into(),
        }
    }

    /// [`ConnectorConfig::parse`] of a connector's props with the worker's converter
    /// defaults under them, and its client overrides checked against the worker's
    /// policy. The parsed config's `raw` stays the props as given.
    pub fn parse_connector(
        &self,
        plugins: &Plugins,
        props: &ConfigMap,
    ) -> Result<ConnectorConfig, Vec<ConfigIssue>> {
        let mut refused = self.refused_overrides(props);
        let parsed = ConnectorConfig::parse(plugins, &self.with_connector_defaults(props));
        if let Ok(config) = &parsed {
            if config.exactly_once_required && self.transactional_id_prefix.is_none() {
                refused.push(
                    ConfigIssue::new(
                        "exactly.once.support",
                        "This worker does not have exactly-once source support enabled.",
                    )
                    .with_hint(
                        "set exactly.once.source.support=enabled in the worker properties \
                         of every worker of the cluster",
                    ),
                );
            }
        }
        match parsed {
            Ok(mut config) if refused.is_empty() => {
                config.raw = props.clone();
                Ok(config)
            }
            Ok(_) => Err(refused),
            Err(mut issues) => {
                issues.extend(refused);
                Err(issues)
            }
        }
    }

    /// The connector's `producer.override.*` and `consumer.override.*` keys that the
    /// worker's policy refuses.
    pub fn refused_overrides(&self, props: &ConfigMap) -> Vec<ConfigIssue> {
        props
            .keys()
            .filter_map(|key| {
                let client_key = key
                    .strip_prefix("producer.override.")
                    .or_else(|| key.strip_prefix("consumer.override."))
                    .or_else(|| key.strip_prefix("admin.override."))?;
                let message = self.override_policy.refuses(client_key)?;
                Some(ConfigIssue::new(key.as_str(), message).with_hint(
                    "the worker's connector.client.config.override.policy decides which \
                     client settings connectors may override",
                ))
            })
            .collect()
    }

    /// A connector's props with the worker's converter defaults under them. A
    /// converter the connector names comes with only the connector's settings for it,
    /// as in Kafka Connect: the worker's `key.converter.*` belong to the worker's
    /// `key.converter`.
    pub fn with_connector_defaults(&self, props: &ConfigMap) -> ConfigMap {
        let mut merged = props.clone();
        for (key, value) in &self.connector_defaults {
            let converter = key.split_once(".converter").map(|(kind, _)| kind);
            let named_by_connector =
                converter.is_some_and(|kind| props.contains_key(&format!("{kind}.converter")));
            if !named_by_connector {
                merged.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        merged
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
    /// Where the task reports the topics it uses; `None` when topic tracking is off.
    pub topics: Option<Arc<dyn TopicReporter>>,
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
        let topics = active_topics::TopicTracker::new(id.clone(), control.topics.clone());
        match plugin.create_task(&parsed)? {
            Task::Source(source) => {
                let creator = topic_creation::TopicCreator::new(settings, &id, &config)?;
                let run = source_task::SourceTaskRun {
                    settings,
                    id,
                    config,
                    creator,
                    offsets: self.inner.offsets.clone(),
                    metrics,
                    topics,
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
                    topics,
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
