//! A source task's side of topic creation (KIP-158): before the first record to a
//! topic is produced, make sure the topic exists, created with its group's settings.
//!
//! The check runs after transforms, so a topic a router names counts like any other.
//! Each task keeps the topics it checked, so the per-record cost is one set lookup;
//! the first record to a new topic costs a metadata request, and a CreateTopics when
//! the topic is missing. Tasks of one connector may race to create a topic: the loser
//! gets "already exists", which is as good as success. The lookup uses an admin
//! client, whose metadata requests never ask the broker to auto-create the topic (a
//! producer's do), so the topic gets the group's settings rather than the broker's.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::{ConnectorConfig, TopicCreation, TopicCreationGroup};
use crate::herder::ConnectorTaskId;
use crate::kafka::{blocking, client_config, kafka_error, REQUEST_TIMEOUT};
use crate::ConnectError;

use super::RuntimeSettings;

/// Creates the topics a source task writes to, when its connector asks for it.
pub(crate) struct TopicCreator {
    /// `None` when topic creation is off for the connector or on the worker.
    active: Option<Active>,
}

struct Active {
    creation: Arc<TopicCreation>,
    admin: Arc<AdminClient<DefaultClientContext>>,
    /// Topics known to exist. A std mutex: held for one set operation, never across
    /// an await.
    known: Mutex<HashSet<String>>,
    bootstrap: String,
}

impl TopicCreator {
    /// The task's creator; inert unless both the worker (`topic.creation.enable`) and
    /// the connector (`topic.creation.default.*`) turn topic creation on.
    pub(crate) fn new(
        settings: &RuntimeSettings,
        id: &ConnectorTaskId,
        config: &ConnectorConfig,
    ) -> Result<TopicCreator, ConnectError> {
        let Some(creation) = &config.topic_creation else {
            return Ok(TopicCreator { active: None });
        };
        if !settings.topic_creation_enable {
            // Every task would say the same; the first says it for the connector.
            if id.task == 0 {
                tracing::warn!(connector = %id.connector, "the connector's topic.creation.* settings are ignored: this worker has topic.creation.enable=false, so topics it writes to must exist or be auto-created by the broker");
            }
            return Ok(TopicCreator { active: None });
        }
        let admin = client_config(settings)
            .create()
            .map_err(|err| kafka_error("cannot create the admin client for topic creation", err))?;
        Ok(TopicCreator {
            active: Some(Active {
                creation: Arc::clone(creation),
                admin: Arc::new(admin),
                known: Mutex::new(HashSet::new()),
                bootstrap: settings.bootstrap_servers.clone(),
            }),
        })
    }

    /// Makes sure `topic` exists before a record is produced to it.
    pub(crate) async fn ensure(&self, topic: &str) -> Result<(), ConnectError> {
        let Some(active) = &self.active else {
            return Ok(());
        };
        if active.known().contains(topic) {
            return Ok(());
        }
        if !active.exists(topic).await? {
            active.create(topic).await?;
        }
        active.known().insert(topic.to_string());
        Ok(())
    }
}

impl Active {
    fn known(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn exists(&self, topic: &str) -> Result<bool, ConnectError> {
        let admin = Arc::clone(&self.admin);
        let name = topic.to_string();
        let metadata = blocking(move || admin.inner().fetch_metadata(Some(&name), REQUEST_TIMEOUT))
            .await?
            .map_err(|err| {
                kafka_error(
                    format!(
                        "cannot look up topic {topic} on the Kafka cluster at {}",
                        self.bootstrap
                    ),
                    err,
                )
            })?;
        Ok(metadata
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
    }

    async fn create(&self, topic: &str) -> Result<(), ConnectError> {
        let group = self.creation.group_for(topic);
        let new = new_topic(topic, group);
        let options = AdminOptions::new()
            .request_timeout(Some(REQUEST_TIMEOUT))
            .operation_timeout(Some(REQUEST_TIMEOUT));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(|err| {
                kafka_error(
                    format!(
                        "cannot create topic {topic} (topic creation group {}) on the Kafka \
                         cluster at {}",
                        group.name, self.bootstrap
                    ),
                    err,
                )
            })?;
        for result in results {
            match result {
                Ok(_) => {
                    tracing::info!(topic, group = %group.name, partitions = group.partitions, replication_factor = group.replication_factor, "created topic")
                }
                // Another task of the connector, or someone else, was first.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(creation_error(topic, group, code)),
            }
        }
        Ok(())
    }
}

fn new_topic<'a>(topic: &'a str, group: &'a TopicCreationGroup) -> NewTopic<'a> {
    let mut new = NewTopic::new(
        topic,
        group.partitions,
        TopicReplication::Fixed(group.replication_factor),
    );
    for (key, value) in &group.configs {
        new = new.set(key, value);
    }
    new
}

/// A refused CreateTopics: what was asked, and what to change. A refusal for the
/// settings is the user's to fix; anything else may pass (the cluster was busy).
fn creation_error(topic: &str, group: &TopicCreationGroup, code: RDKafkaErrorCode) -> ConnectError {
    let prefix = format!("topic.creation.{}.", group.name);
    let hint = match code {
        RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::ClusterAuthorizationFailed => {
            "allow the worker's principal to create topics, or create the topic first".to_string()
        }
        RDKafkaErrorCode::InvalidConfig | RDKafkaErrorCode::InvalidRequest => {
            format!("check the topic configs under {prefix}* (names and values as the cluster knows them)")
        }
        RDKafkaErrorCode::InvalidReplicationFactor => format!(
            "{prefix}replication.factor (or topic.creation.default.replication.factor) must not exceed the number of brokers; -1 takes the broker's default"
        ),
        RDKafkaErrorCode::InvalidPartitions => format!(
            "{prefix}partitions (or topic.creation.default.partitions) must be at least 1, or -1 for the broker's default"
        ),
        _ => "ensure the task may create topics or that the topic exists, then restart the task"
            .to_string(),
    };
    let message = format!(
        "cannot create topic {topic} with topic creation group {} (partitions {}, replication \
         factor {}): {code} (hint: {hint})",
        group.name, group.partitions, group.replication_factor
    );
    let user = matches!(
        code,
        RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::InvalidRequest
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::PolicyViolation
    );
    if user {
        ConnectError::user(message)
    } else {
        ConnectError::external(message).no_retry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{plugins, props, source_pairs};

    fn config(extra: &[(&str, &str)]) -> ConnectorConfig {
        ConnectorConfig::parse(&plugins(), &props(&source_pairs(extra))).unwrap()
    }

    const ON: [(&str, &str); 2] = [
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.partitions", "3"),
    ];

    fn task(n: u32) -> ConnectorTaskId {
        ConnectorTaskId {
            connector: "src".into(),
            task: n,
        }
    }

    #[tokio::test]
    async fn inert_when_the_connector_or_the_worker_leaves_it_off() {
        let settings = RuntimeSettings::new("127.0.0.1:1", "w");
        let off = TopicCreator::new(&settings, &task(0), &config(&[])).unwrap();
        assert!(off.active.is_none());
        // Nothing is asked of the (unreachable) cluster.
        off.ensure("logs").await.unwrap();

        let mut disabled = settings.clone();
        disabled.topic_creation_enable = false;
        let creator = TopicCreator::new(&disabled, &task(1), &config(&ON)).unwrap();
        assert!(creator.active.is_none());
        creator.ensure("logs").await.unwrap();

        let on = TopicCreator::new(&settings, &task(0), &config(&ON)).unwrap();
        assert!(on.active.is_some());
    }

    #[tokio::test]
    async fn a_known_topic_costs_no_request() {
        let settings = RuntimeSettings::new("127.0.0.1:1", "w");
        let creator = TopicCreator::new(&settings, &task(0), &config(&ON)).unwrap();
        let active = creator.active.as_ref().unwrap();
        active.known().insert("logs".into());
        // The cluster is unreachable: a request would fail.
        creator.ensure("logs").await.unwrap();
    }

    #[test]
    fn a_refusal_names_the_topic_the_group_and_what_to_change() {
        let config = config(&[
            ON[0],
            ON[1],
            ("topic.creation.groups", "compacted"),
            ("topic.creation.compacted.include", ".*-state"),
            ("topic.creation.compacted.cleanup.policy", "compacted"),
        ]);
        let creation = config.topic_creation.unwrap();
        let group = creation.group_for("app-state");
        let err = creation_error("app-state", group, RDKafkaErrorCode::InvalidConfig);
        assert_eq!(err.domain(), crate::ErrorDomain::User);
        let text = err.to_string();
        assert!(text.starts_with("cannot create topic app-state with topic creation group compacted (partitions 3, replication factor 1): "), "{text}");
        assert!(
            text.contains("check the topic configs under topic.creation.compacted.*"),
            "{text}"
        );
        let err = creation_error("app-state", group, RDKafkaErrorCode::RequestTimedOut);
        assert!(!err.is_retryable());
    }
}
