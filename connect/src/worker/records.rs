//! The records of the config and status topics: keys and JSON values, as Kafka
//! Connect writes them.
//!
//! Config topic (compacted, one partition, so every worker applies writes in one
//! order):
//! - `connector-<name>` → `{"properties": {…}}`, null when deleted;
//! - `target-state-<name>` → `{"state": "STARTED" | "PAUSED" | "STOPPED"}`;
//! - `restart-connector-<name>` → `{"include-tasks", "only-failed", "connector",
//!   "tasks"}`: a restart request with what it selected already decided, so every
//!   worker restarts the same things whatever its own view of the statuses;
//! - `create-connector-<name>` → `{"claim"}`: a worker about to create the connector.
//!   Every worker reads claims in the topic's one order, so of two workers creating
//!   one name at once only the first claim's creates it; the other answers 409.
//!
//! Status topic (compacted): `status-connector-<name>` and `status-task-<name>-<id>` →
//! `{"state", "trace", "worker_id", "generation"}`, null when the connector is gone.
//!
//! Status topic, active topics (KIP-558): `topic-<topic>-connector-<connector>` →
//! `{"topic": {"name", "connector", "task", "discoverTimestamp"}}`, null once reset.
//!
//! Connector names may contain `-`; a task key's id is what follows the last `-`. An
//! active-topic key splits at its first `-connector-`, as Kafka Connect's does.

use serde::{Deserialize, Serialize};

use crate::config::ConfigMap;
use crate::herder::{ConnectorTaskId, State, TargetState};

/// A connector or one of its tasks: what a status is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Subject {
    Connector(String),
    Task(ConnectorTaskId),
}

impl Subject {
    pub(crate) fn connector(&self) -> &str {
        match self {
            Subject::Connector(name) => name,
            Subject::Task(id) => &id.connector,
        }
    }

    pub(crate) fn status_key(&self) -> String {
        match self {
            Subject::Connector(name) => format!("status-connector-{name}"),
            Subject::Task(id) => format!("status-task-{}-{}", id.connector, id.task),
        }
    }

    pub(crate) fn from_status_key(key: &str) -> Option<Subject> {
        if let Some(name) = key.strip_prefix("status-connector-") {
            return Some(Subject::Connector(name.to_string()));
        }
        let rest = key.strip_prefix("status-task-")?;
        let (connector, task) = rest.rsplit_once('-')?;
        Some(Subject::Task(ConnectorTaskId {
            connector: connector.to_string(),
            task: task.parse().ok()?,
        }))
    }
}

/// A connector's use of a topic: what an active-topic record is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ActiveTopic {
    pub(crate) topic: String,
    pub(crate) connector: String,
}

impl ActiveTopic {
    const PREFIX: &'static str = "topic-";
    const SEPARATOR: &'static str = "-connector-";

    pub(crate) fn key(&self) -> String {
        format!(
            "{}{}{}{}",
            Self::PREFIX,
            self.topic,
            Self::SEPARATOR,
            self.connector
        )
    }

    pub(crate) fn from_key(key: &str) -> Option<ActiveTopic> {
        let rest = key.strip_prefix(Self::PREFIX)?;
        let (topic, connector) = rest.split_once(Self::SEPARATOR)?;
        Some(ActiveTopic {
            topic: topic.to_string(),
            connector: connector.to_string(),
        })
    }
}

/// When and by which task a connector first used a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TopicStatus {
    pub(crate) name: String,
    pub(crate) connector: String,
    pub(crate) task: u32,
    #[serde(rename = "discoverTimestamp")]
    pub(crate) discover_timestamp: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct TopicStatusValue {
    topic: TopicStatus,
}

impl TopicStatus {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&TopicStatusValue {
            topic: self.clone(),
        })
        .expect("topic statuses serialize to JSON")
    }

    pub(crate) fn decode(value: &[u8]) -> Result<TopicStatus, String> {
        serde_json::from_slice::<TopicStatusValue>(value)
            .map(|v| v.topic)
            .map_err(|e| format!("bad topic status value: {e}"))
    }
}

/// A status as stored: who reported it, and in which generation of the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatusRecord {
    pub(crate) state: State,
    #[serde(default)]
    pub(crate) trace: Option<String>,
    pub(crate) worker_id: String,
    #[serde(default)]
    pub(crate) generation: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ConnectorValue {
    properties: ConfigMap,
}

#[derive(Debug, Serialize, Deserialize)]
struct TargetStateValue {
    state: TargetState,
}

/// What a restart request selected (decided by the worker that took the request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RestartRequest {
    #[serde(rename = "include-tasks", default)]
    pub(crate) include_tasks: bool,
    #[serde(rename = "only-failed", default)]
    pub(crate) only_failed: bool,
    /// Whether the connector itself restarts.
    #[serde(default)]
    pub(crate) connector: bool,
    #[serde(default)]
    pub(crate) tasks: Vec<u32>,
}

/// One record of the config topic, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConfigRecord {
    /// `None`: the connector was deleted.
    Connector(String, Option<ConfigMap>),
    /// `None`: back to the default, `STARTED`.
    TargetState(String, Option<TargetState>),
    Restart(String, RestartRequest),
    /// A create's claim on the name, by a unique id.
    Claim(String, String),
}

#[derive(Debug, Serialize, Deserialize)]
struct ClaimValue {
    claim: String,
}

impl ConfigRecord {
    pub(crate) fn key(&self) -> String {
        match self {
            ConfigRecord::Connector(name, _) => format!("connector-{name}"),
            ConfigRecord::TargetState(name, _) => format!("target-state-{name}"),
            ConfigRecord::Restart(name, _) => format!("restart-connector-{name}"),
            ConfigRecord::Claim(name, _) => format!("create-connector-{name}"),
        }
    }

    /// The value bytes; `None` is a tombstone.
    pub(crate) fn value(&self) -> Option<Vec<u8>> {
        let json = match self {
            ConfigRecord::Connector(_, None) | ConfigRecord::TargetState(_, None) => return None,
            ConfigRecord::Connector(_, Some(properties)) => serde_json::to_vec(&ConnectorValue {
                properties: properties.clone(),
            }),
            ConfigRecord::TargetState(_, Some(state)) => {
                serde_json::to_vec(&TargetStateValue { state: *state })
            }
            ConfigRecord::Restart(_, request) => serde_json::to_vec(request),
            ConfigRecord::Claim(_, claim) => serde_json::to_vec(&ClaimValue {
                claim: claim.clone(),
            }),
        };
        Some(json.expect("config records serialize to JSON"))
    }

    /// Decodes a record read from the config topic. `Err` says what is wrong, for a
    /// warning; the record is then skipped, as Kafka Connect skips unknown keys.
    pub(crate) fn decode(key: &str, value: Option<&[u8]>) -> Result<ConfigRecord, String> {
        fn json<'a, T: Deserialize<'a>>(key: &str, value: &'a [u8]) -> Result<T, String> {
            serde_json::from_slice(value).map_err(|e| format!("bad value for {key}: {e}"))
        }
        if let Some(name) = key.strip_prefix("connector-") {
            let props = value
                .map(|v| json::<ConnectorValue>(key, v))
                .transpose()?
                .map(|v| v.properties);
            return Ok(ConfigRecord::Connector(name.to_string(), props));
        }
        if let Some(name) = key.strip_prefix("target-state-") {
            let state = value
                .map(|v| json::<TargetStateValue>(key, v))
                .transpose()?
                .map(|v| v.state);
            return Ok(ConfigRecord::TargetState(name.to_string(), state));
        }
        if let Some(name) = key.strip_prefix("restart-connector-") {
            let value = value.ok_or_else(|| format!("{key} without a value"))?;
            return Ok(ConfigRecord::Restart(name.to_string(), json(key, value)?));
        }
        if let Some(name) = key.strip_prefix("create-connector-") {
            let value = value.ok_or_else(|| format!("{key} without a value"))?;
            let claim = json::<ClaimValue>(key, value)?.claim;
            return Ok(ConfigRecord::Claim(name.to_string(), claim));
        }
        Err(format!("unknown key {key}"))
    }
}

impl StatusRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("status records serialize to JSON")
    }

    pub(crate) fn decode(value: &[u8]) -> Result<StatusRecord, String> {
        serde_json::from_slice(value).map_err(|e| format!("bad status value: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_records_round_trip_with_kafka_connect_keys() {
        let props: ConfigMap = [("connector.class".to_string(), "file-source".to_string())]
            .into_iter()
            .collect();
        let records = [
            ConfigRecord::Connector("a-b".into(), Some(props)),
            ConfigRecord::Connector("a-b".into(), None),
            ConfigRecord::TargetState("a-b".into(), Some(TargetState::Paused)),
            ConfigRecord::Restart(
                "a-b".into(),
                RestartRequest {
                    include_tasks: true,
                    only_failed: false,
                    connector: true,
                    tasks: vec![0, 2],
                },
            ),
            ConfigRecord::Claim("a-b".into(), "w1:8083-17".into()),
        ];
        for record in records {
            let (key, value) = (record.key(), record.value());
            assert_eq!(ConfigRecord::decode(&key, value.as_deref()), Ok(record));
        }
        assert_eq!(
            ConfigRecord::TargetState("x".into(), Some(TargetState::Stopped)).value(),
            Some(br#"{"state":"STOPPED"}"#.to_vec())
        );
        assert!(ConfigRecord::decode("session-key", Some(b"{}")).is_err());
        assert!(ConfigRecord::decode("connector-x", Some(b"not json")).is_err());
    }

    #[test]
    fn task_status_keys_keep_dashes_in_connector_names() {
        let task = Subject::Task(ConnectorTaskId {
            connector: "pg-to-es".into(),
            task: 12,
        });
        assert_eq!(task.status_key(), "status-task-pg-to-es-12");
        assert_eq!(Subject::from_status_key(&task.status_key()), Some(task));
        let connector = Subject::Connector("pg-to-es".into());
        assert_eq!(
            Subject::from_status_key("status-connector-pg-to-es"),
            Some(connector)
        );
        assert_eq!(Subject::from_status_key("status-task-nodash"), None);
        assert_eq!(Subject::from_status_key("status-task-a-x"), None);
    }

    #[test]
    fn active_topic_records_use_kafka_connect_keys_and_values() {
        let topic = ActiveTopic {
            topic: "orders-v2".into(),
            connector: "pg-to-es".into(),
        };
        assert_eq!(topic.key(), "topic-orders-v2-connector-pg-to-es");
        assert_eq!(ActiveTopic::from_key(&topic.key()), Some(topic));
        assert_eq!(ActiveTopic::from_key("status-connector-x"), None);
        assert_eq!(ActiveTopic::from_key("topic-nosep"), None);
        let status = TopicStatus {
            name: "orders-v2".into(),
            connector: "pg-to-es".into(),
            task: 1,
            discover_timestamp: 1_700_000_000_000,
        };
        let text = String::from_utf8(status.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"topic":{"name":"orders-v2","connector":"pg-to-es","task":1,"discoverTimestamp":1700000000000}}"#
        );
        assert_eq!(TopicStatus::decode(text.as_bytes()), Ok(status));
        assert!(TopicStatus::decode(b"{}").is_err());
    }

    #[test]
    fn status_values_use_kafka_connect_fields() {
        let status = StatusRecord {
            state: State::Failed,
            trace: Some("boom".into()),
            worker_id: "w1:8083".into(),
            generation: 3,
        };
        let text = String::from_utf8(status.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"state":"FAILED","trace":"boom","worker_id":"w1:8083","generation":3}"#
        );
        assert_eq!(StatusRecord::decode(text.as_bytes()), Ok(status));
    }
}
