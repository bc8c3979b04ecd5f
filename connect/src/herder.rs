//! The worker's control surface, as Kafka Connect's `Herder`: what the REST API and
//! the CLI ask of a worker, with Kafka Connect's JSON shapes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ConfigMap;
use crate::ConnectorType;

/// A connector's task, as `{"connector": "name", "task": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConnectorTaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{name}`: the config (secrets masked), tasks and type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: ConfigMap,
    pub tasks: Vec<ConnectorTaskId>,
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
}

/// What the user asked a connector to be: running, paused (tasks idle, resources
/// kept) or stopped (tasks shut down; offsets may be altered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// The state of a connector or task as reported by `…/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// `{"state": "RUNNING", "worker_id": "host:port", "trace": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// `{"id": 0, "state": ..., "worker_id": ..., "trace": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
}

/// One entry of `GET /connectors/{name}/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: ConnectorTaskId,
    pub config: ConfigMap,
}

/// One entry of `GET /connector-plugins`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub class: String,
    #[serde(rename = "type")]
    pub plugin_type: ConnectorType,
    pub version: String,
}

/// `GET /connectors/{name}/offsets` and the body of `PATCH …/offsets`.
///
/// A source's partitions and offsets are its own JSON objects; a sink's are
/// `{"kafka_topic": t, "kafka_partition": p}` and `{"kafka_offset": o}`, as in Kafka
/// Connect. In a `PATCH`, a null offset removes the partition's offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorOffsets {
    pub offsets: Vec<PartitionOffset>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionOffset {
    pub partition: Value,
    pub offset: Value,
}

/// `PUT /connector-plugins/{type}/config/validate`: Kafka Connect's `ConfigInfos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub order: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigValueInfo {
    pub name: String,
    /// The value as given; `[hidden]` for passwords.
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// Why a request to the worker failed; the REST API maps each to Kafka Connect's
/// status code.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    /// 404: `Connector x not found`.
    #[error("{0}")]
    NotFound(String),
    /// 409: the connector exists already, or a rebalance is in progress.
    #[error("{0}")]
    Conflict(String),
    /// 400: the request or the config is invalid (the message lists every problem).
    #[error("{0}")]
    BadRequest(String),
    /// 403: the worker's configuration does not allow it (topic tracking off).
    #[error("{0}")]
    Forbidden(String),
    /// 500: the worker could not do it (the cluster is unreachable, ...).
    #[error("{0}")]
    Internal(String),
}

/// What `PUT /connectors/{name}/config` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    /// True when the connector did not exist before (201), false when updated (200).
    pub created: bool,
    pub info: ConnectorInfo,
}

/// A Connect worker as the REST API sees it.
#[async_trait]
pub trait Herder: Send + Sync {
    /// This worker's id, `host:port` of its REST listener.
    fn worker_id(&self) -> &str;

    /// The Kafka cluster id, for `GET /`.
    async fn kafka_cluster_id(&self) -> Result<String, HerderError>;

    /// Connector names, sorted.
    async fn connectors(&self) -> Vec<String>;

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError>;

    /// The connector's config, secrets masked.
    async fn connector_config(&self, name: &str) -> Result<ConfigMap, HerderError>;

    /// Creates a connector; `Conflict` when `name` exists and `allow_replace` is false.
    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
    ) -> Result<Upserted, HerderError>;

    /// Creates a connector in `initial` state (KIP-980's `initial_state`);
    /// `Conflict` when `name` exists. A herder that stores the target state first
    /// overrides this, so a connector created PAUSED or STOPPED never runs.
    async fn create_connector(
        &self,
        name: &str,
        config: ConfigMap,
        initial: TargetState,
    ) -> Result<Upserted, HerderError> {
        let upserted = self.put_connector_config(name, config, false).await?;
        if initial != TargetState::Started {
            self.set_target_state(name, initial).await?;
        }
        Ok(upserted)
    }

    /// Applies `patch` to the connector's stored config (secrets as stored, not as
    /// shown) and stores the result as `PUT …/config` would; `NotFound` when the
    /// connector does not exist.
    async fn patch_connector_config(
        &self,
        name: &str,
        patch: ConfigPatch,
    ) -> Result<ConnectorInfo, HerderError>;

    /// Stops the connector's tasks and forgets its config (its offsets stay stored).
    async fn delete_connector(&self, name: &str) -> Result<(), HerderError>;

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError>;

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError>;

    async fn task_status(&self, id: &ConnectorTaskId) -> Result<TaskState, HerderError>;

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), HerderError>;

    /// Restarts the connector and, with `include_tasks`, its tasks (only the failed
    /// ones with `only_failed`); returns the status with what is restarting.
    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStateInfo, HerderError>;

    async fn restart_task(&self, id: &ConnectorTaskId) -> Result<(), HerderError>;

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, HerderError>;

    /// Alters offsets; the connector must be `STOPPED` (`BadRequest` otherwise).
    async fn alter_offsets(&self, name: &str, offsets: ConnectorOffsets)
        -> Result<(), HerderError>;

    /// Removes every offset; the connector must be `STOPPED`.
    async fn reset_offsets(&self, name: &str) -> Result<(), HerderError>;

    /// The topics the connector's tasks have used (KIP-558), sorted; empty for a
    /// connector that used none or does not exist, as in Kafka Connect. `Forbidden`
    /// when the worker does not track topics.
    fn active_topics(&self, name: &str) -> Result<Vec<String>, HerderError>;

    /// Forgets the connector's active topics; running tasks report the topics they go
    /// on using. `Forbidden` when topic tracking or its reset is disabled.
    async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError>;

    fn plugins(&self) -> Vec<PluginInfo>;

    /// The config definitions of a plugin, for `GET /connector-plugins/{plugin}/config`.
    fn plugin_config(&self, plugin: &str) -> Result<Vec<ConfigKeyInfo>, HerderError>;

    /// Validates a config for the plugin named by its `connector.class`.
    fn validate(&self, plugin_type: &str, config: &ConfigMap) -> Result<ConfigInfos, HerderError>;

    /// Per-connector metrics in Prometheus' text format.
    fn metrics(&self) -> String;
}

/// Kafka Connect's error body, `{"error_code": 404, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub error_code: u16,
    pub message: String,
}

/// `GET /`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: String,
}

/// `GET /connectors?expand=status&expand=info`: per connector, what was expanded.
pub type ExpandedConnectors = BTreeMap<String, BTreeMap<String, Value>>;

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveTopicsInfo {
    pub topics: Vec<String>,
}

/// A connector config patch (KIP-477): keys to set, and keys (`None`) to remove.
pub type ConfigPatch = BTreeMap<String, Option<String>>;
