//! An in-memory [`Herder`] for tests of the REST API's HTTP mapping: a map of
//! connectors that are RUNNING, PAUSED or STOPPED as asked, with a vector of offsets
//! each, and two plugins. It answers the way the worker's contract says (NotFound,
//! Conflict, BadRequest), so the tests see every status code the API can send.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Value};
use weir_connect::config::ConfigMap;
use weir_connect::herder::{
    ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo, ConnectorInfo, ConnectorOffsets,
    ConnectorState, ConnectorStateInfo, ConnectorTaskId, Herder, HerderError, PartitionOffset,
    PluginInfo, State, TargetState, TaskInfo, TaskState, Upserted,
};
use weir_connect::ConnectorType;

pub(crate) const WORKER_ID: &str = "127.0.0.1:8083";
pub(crate) const CLUSTER_ID: &str = "weir-test-cluster";
pub(crate) const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
pub(crate) const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

/// A plugin: class, alias, type, and its one required key.
struct Plugin {
    class: &'static str,
    alias: &'static str,
    connector_type: ConnectorType,
    required: &'static str,
}

const PLUGINS: [Plugin; 2] = [
    Plugin {
        class: SOURCE_CLASS,
        alias: "FileStreamSource",
        connector_type: ConnectorType::Source,
        required: "topic",
    },
    Plugin {
        class: SINK_CLASS,
        alias: "FileStreamSink",
        connector_type: ConnectorType::Sink,
        required: "topics",
    },
];

fn plugin(name: &str) -> Option<&'static Plugin> {
    PLUGINS.iter().find(|p| p.class == name || p.alias == name)
}

#[derive(Debug)]
struct Connector {
    config: ConfigMap,
    target: TargetState,
    offsets: Vec<PartitionOffset>,
    /// The topics its tasks used: its `topic` or `topics` until reset.
    topics_reset: bool,
}

#[derive(Debug, Default)]
pub(crate) struct MemoryHerder {
    connectors: Mutex<BTreeMap<String, Connector>>,
}

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

/// Secrets masked, as the worker returns configs.
fn masked(config: &ConfigMap) -> ConfigMap {
    config
        .iter()
        .map(|(k, v)| {
            let v = if k.ends_with("password") {
                "[hidden]"
            } else {
                v
            };
            (k.clone(), v.to_owned())
        })
        .collect()
}

impl MemoryHerder {
    fn with<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Connector) -> Result<T, HerderError>,
    ) -> Result<T, HerderError> {
        let mut connectors = self.connectors.lock().unwrap();
        let connector = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        f(connector)
    }

    fn plugin_of(config: &ConfigMap) -> Result<&'static Plugin, HerderError> {
        let class = config.get("connector.class").map_or("", String::as_str);
        plugin(class)
            .ok_or_else(|| HerderError::BadRequest(format!("Connector class '{class}' not found")))
    }

    fn task_count(connector: &Connector) -> u32 {
        match Self::plugin_of(&connector.config).map(|p| p.connector_type) {
            Ok(ConnectorType::Sink) => connector
                .config
                .get("tasks.max")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            _ => 1,
        }
    }

    fn info(name: &str, connector: &Connector) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_owned(),
            config: masked(&connector.config),
            tasks: (0..Self::task_count(connector))
                .map(|task| ConnectorTaskId {
                    connector: name.to_owned(),
                    task,
                })
                .collect(),
            connector_type: Self::plugin_of(&connector.config)
                .map_or(ConnectorType::Source, |p| p.connector_type),
        }
    }

    fn status(name: &str, connector: &Connector) -> ConnectorStateInfo {
        let state = match connector.target {
            TargetState::Started => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        };
        // A stopped connector has no tasks, as in Kafka Connect.
        let tasks = if connector.target == TargetState::Stopped {
            0
        } else {
            Self::task_count(connector)
        };
        ConnectorStateInfo {
            name: name.to_owned(),
            connector: ConnectorState {
                state,
                worker_id: WORKER_ID.to_owned(),
                trace: None,
            },
            tasks: (0..tasks)
                .map(|id| TaskState {
                    id,
                    state,
                    worker_id: WORKER_ID.to_owned(),
                    trace: None,
                })
                .collect(),
            connector_type: Self::info(name, connector).connector_type,
        }
    }

    fn must_be_stopped(connector: &Connector) -> Result<(), HerderError> {
        if connector.target == TargetState::Stopped {
            Ok(())
        } else {
            Err(HerderError::BadRequest(
                "Connectors must be in the STOPPED state before their offsets can be modified"
                    .into(),
            ))
        }
    }
}

#[async_trait]
impl Herder for MemoryHerder {
    fn worker_id(&self) -> &str {
        WORKER_ID
    }

    async fn kafka_cluster_id(&self) -> Result<String, HerderError> {
        Ok(CLUSTER_ID.to_owned())
    }

    async fn connectors(&self) -> Vec<String> {
        self.connectors.lock().unwrap().keys().cloned().collect()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        self.with(name, |c| Ok(Self::info(name, c)))
    }

    async fn connector_config(&self, name: &str) -> Result<ConfigMap, HerderError> {
        self.with(name, |c| Ok(masked(&c.config)))
    }

    async fn patch_connector_config(
        &self,
        name: &str,
        patch: weir_connect::herder::ConfigPatch,
    ) -> Result<ConnectorInfo, HerderError> {
        let mut config = {
            let connectors = self.connectors.lock().unwrap();
            let connector = connectors
                .get(name)
                .ok_or_else(|| HerderError::NotFound(format!("Connector {name} not found")))?;
            connector.config.clone()
        };
        for (key, value) in patch {
            match value {
                Some(value) => config.insert(key, value),
                None => config.remove(&key),
            };
        }
        Ok(self.put_connector_config(name, config, true).await?.info)
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
    ) -> Result<Upserted, HerderError> {
        let plugin = Self::plugin_of(&config)?;
        if !config.contains_key(plugin.required) {
            return Err(HerderError::BadRequest(format!(
                "Missing required configuration \"{}\" which has no default value",
                plugin.required
            )));
        }
        let mut connectors = self.connectors.lock().unwrap();
        let created = !connectors.contains_key(name);
        if !created && !allow_replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        let connector = connectors.entry(name.to_owned()).or_insert(Connector {
            config: ConfigMap::new(),
            target: TargetState::Started,
            offsets: match plugin.connector_type {
                ConnectorType::Source => vec![PartitionOffset {
                    partition: json!({"filename": "/var/log/in.txt"}),
                    offset: json!({"position": 42}),
                }],
                ConnectorType::Sink => Vec::new(),
            },
            topics_reset: false,
        });
        connector.config = config;
        Ok(Upserted {
            created,
            info: Self::info(name, connector),
        })
    }

    async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        let removed = self.connectors.lock().unwrap().remove(name);
        removed.map(|_| ()).ok_or_else(|| not_found(name))
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        self.with(name, |c| Ok(Self::status(name, c)))
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        self.with(name, |c| {
            Ok(Self::info(name, c)
                .tasks
                .into_iter()
                .map(|id| TaskInfo {
                    id,
                    config: masked(&c.config),
                })
                .collect())
        })
    }

    async fn task_status(&self, id: &ConnectorTaskId) -> Result<TaskState, HerderError> {
        let status = self.connector_status(&id.connector).await?;
        status
            .tasks
            .into_iter()
            .find(|t| t.id == id.task)
            .ok_or_else(|| {
                HerderError::NotFound(format!("Task {}-{} not found", id.connector, id.task))
            })
    }

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), HerderError> {
        self.with(name, |c| {
            c.target = state;
            Ok(())
        })
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStateInfo, HerderError> {
        self.with(name, |c| {
            let mut status = Self::status(name, c);
            // Nothing here ever fails, so `only_failed` restarts nothing.
            if !only_failed {
                status.connector.state = State::Restarting;
                if include_tasks {
                    for task in &mut status.tasks {
                        task.state = State::Restarting;
                    }
                }
            }
            Ok(status)
        })
    }

    async fn restart_task(&self, id: &ConnectorTaskId) -> Result<(), HerderError> {
        self.task_status(id).await.map(|_| ())
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, HerderError> {
        self.with(name, |c| {
            Ok(ConnectorOffsets {
                offsets: c.offsets.clone(),
            })
        })
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<(), HerderError> {
        self.with(name, |c| {
            Self::must_be_stopped(c)?;
            for change in offsets.offsets {
                c.offsets.retain(|o| o.partition != change.partition);
                if !change.offset.is_null() {
                    c.offsets.push(change);
                }
            }
            Ok(())
        })
    }

    fn active_topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        let connectors = self.connectors.lock().unwrap();
        let Some(connector) = connectors.get(name).filter(|c| !c.topics_reset) else {
            return Ok(Vec::new());
        };
        let config = &connector.config;
        let topics = config.get("topic").or_else(|| config.get("topics"));
        Ok(topics
            .map(|t| t.split(',').map(str::to_owned).collect())
            .unwrap_or_default())
    }

    async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError> {
        if let Some(connector) = self.connectors.lock().unwrap().get_mut(name) {
            connector.topics_reset = true;
        }
        Ok(())
    }

    async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        self.with(name, |c| {
            Self::must_be_stopped(c)?;
            c.offsets.clear();
            Ok(())
        })
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        PLUGINS
            .iter()
            .map(|p| PluginInfo {
                class: p.class.to_owned(),
                plugin_type: p.connector_type,
                version: "1.0.0".to_owned(),
            })
            .collect()
    }

    fn plugin_config(&self, name: &str) -> Result<Vec<ConfigKeyInfo>, HerderError> {
        let plugin =
            plugin(name).ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {name}")))?;
        Ok(vec![key_info(plugin.required)])
    }

    fn validate(&self, plugin_type: &str, config: &ConfigMap) -> Result<ConfigInfos, HerderError> {
        let plugin = plugin(plugin_type)
            .ok_or_else(|| HerderError::NotFound(format!("Unknown plugin {plugin_type}")))?;
        let value = config.get(plugin.required).cloned();
        let errors = match value {
            Some(_) => Vec::new(),
            None => vec![format!(
                "Missing required configuration \"{}\" which has no default value.",
                plugin.required
            )],
        };
        Ok(ConfigInfos {
            name: plugin.class.to_owned(),
            error_count: errors.len(),
            groups: vec!["Common".to_owned()],
            configs: vec![ConfigInfo {
                definition: key_info(plugin.required),
                value: ConfigValueInfo {
                    name: plugin.required.to_owned(),
                    value,
                    recommended_values: Vec::new(),
                    errors,
                    visible: true,
                },
            }],
        })
    }

    fn metrics(&self) -> String {
        let count = self.connectors.lock().unwrap().len();
        format!("# TYPE weir_connect_connectors gauge\nweir_connect_connectors {count}\n")
    }
}

fn key_info(name: &str) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: name.to_owned(),
        config_type: "STRING".to_owned(),
        required: true,
        default_value: None,
        importance: "HIGH".to_owned(),
        documentation: "The topic to use.".to_owned(),
        group: Some("Common".to_owned()),
        width: "NONE".to_owned(),
        display_name: name.to_owned(),
        dependents: Vec::new(),
        order: 1,
    }
}

/// A valid source config, as a JSON body.
pub(crate) fn source_config() -> Value {
    json!({
        "connector.class": "FileStreamSource",
        "topic": "lines",
        "file": "/var/log/in.txt",
        "db.password": "s3cret",
    })
}
