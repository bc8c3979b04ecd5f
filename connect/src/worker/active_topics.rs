//! The worker's side of active topics (KIP-558): a task's first use of a topic is
//! stored in the status topic, once per connector, as Kafka Connect stores it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::herder::ConnectorTaskId;
use crate::runtime::TopicReporter;

use super::records::{ActiveTopic, TopicStatus};
use super::store::BackingStore;
use super::view::Shared;

#[derive(Debug)]
pub(super) struct StoredTopics {
    pub(super) shared: Arc<Shared>,
    pub(super) store: Arc<dyn BackingStore>,
}

impl TopicReporter for StoredTopics {
    fn epoch(&self) -> u64 {
        self.shared.topics_epoch()
    }

    fn report(&self, task: &ConnectorTaskId, topic: &str) {
        // Another task of the connector, or an earlier instance, may have stored it.
        if self.shared.view().is_active_topic(&task.connector, topic) {
            return;
        }
        tracing::info!(connector = %task.connector, task = task.task, %topic, "connector uses a new topic");
        let discover_timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        self.store.put_topic(
            ActiveTopic {
                topic: topic.to_string(),
                connector: task.connector.clone(),
            },
            Some(TopicStatus {
                name: topic.to_string(),
                connector: task.connector.clone(),
                task: task.task,
                discover_timestamp,
            }),
        );
    }
}
