//! Connector plugins and the explicit registry of them.

use std::fmt;
use std::sync::Arc;

use crate::config::{ConfigDef, ConfigIssue, ConfigMap, ParsedConfig};
use crate::{ConnectError, Sink, Source};

/// Whether a connector reads into the log or writes out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
}

impl fmt::Display for ConnectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        })
    }
}

/// Whether a source connector can deliver exactly once when the worker runs its tasks
/// in transactions (KIP-618's `ExactlyOnceSupport`): its positions must say exactly
/// where to resume, so that the records of a committed transaction are never read
/// again and those of an aborted one always are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSupport {
    Supported,
    Unsupported,
}

/// A running task made by a plugin.
#[derive(Debug)]
pub enum Task {
    Source(Box<dyn Source>),
    Sink(Box<dyn Sink>),
}

/// A kind of connector: its name, its declared config, how it splits into tasks, and
/// how it makes one.
pub trait ConnectorPlugin: Send + Sync + fmt::Debug {
    /// The full name users put in `connector.class`, e.g. `io.weir.connect.file.FileSourceConnector`.
    fn class(&self) -> &'static str;

    /// Short names also accepted in `connector.class`, e.g. `file-source`.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    fn connector_type(&self) -> ConnectorType;

    fn version(&self) -> &'static str;

    /// The connector's own keys (the runtime adds its own: topics, converters,
    /// transforms, errors.*).
    fn config_def(&self) -> ConfigDef;

    /// Checks across keys that one key's declaration cannot express.
    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        let _ = config;
        Vec::new()
    }

    /// Splits the connector's config into at most `max_tasks` task configs. By default
    /// a sink runs `max_tasks` identical tasks (they share partitions through the
    /// consumer group) and a source runs one.
    fn task_configs(
        &self,
        config: &ConfigMap,
        max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        let count = match self.connector_type() {
            ConnectorType::Sink => max_tasks.max(1),
            ConnectorType::Source => 1,
        };
        Ok(vec![config.clone(); count])
    }

    /// Sources: whether this connector delivers exactly once in transactions.
    fn exactly_once_support(&self) -> ExactlyOnceSupport {
        ExactlyOnceSupport::Unsupported
    }

    /// Sources: whether its tasks say where transactions end
    /// ([`Source::end_of_transaction`]), for `transaction.boundary=connector`.
    fn can_define_transaction_boundaries(&self) -> bool {
        false
    }

    /// Makes a task from its config (already checked against `config_def`).
    fn create_task(&self, config: &ParsedConfig) -> Result<Task, ConnectError>;
}

/// The plugins a worker offers, looked up by class or alias.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    plugins: Vec<Arc<dyn ConnectorPlugin>>,
}

impl Plugins {
    pub fn new(plugins: Vec<Arc<dyn ConnectorPlugin>>) -> Plugins {
        Plugins { plugins }
    }

    /// The plugin whose class or alias is `name`. Like Kafka Connect, the simple class
    /// name (after the last dot) also matches.
    pub fn find(&self, name: &str) -> Option<&Arc<dyn ConnectorPlugin>> {
        self.plugins.iter().find(|p| {
            p.class() == name
                || p.aliases().contains(&name)
                || p.class().rsplit('.').next() == Some(name)
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ConnectorPlugin>> {
        self.plugins.iter()
    }

    /// Every accepted name, for "did you mean" hints.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.plugins
            .iter()
            .flat_map(|p| std::iter::once(p.class()).chain(p.aliases().iter().copied()))
    }
}
