//! Where a worker keeps connector configs, target states and statuses: Kafka
//! Connect's backing stores. Two implementations: in memory (standalone) and in
//! compacted topics (distributed, [`super::topic_store`]).
//!
//! Both speak the same records ([`super::records`]) into the same [`View`], so the
//! controller and the REST side do not know which one they use.
//!
//! [`View`]: super::view::View

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ConnectError;

use super::records::{ActiveTopic, ConfigRecord, StatusRecord, Subject, TopicStatus};
use super::view::Shared;

/// Stores config and status records and applies them to this worker's view.
#[async_trait]
pub(crate) trait BackingStore: Send + Sync + fmt::Debug {
    /// Stores a config record and returns once this worker's view has applied it, so
    /// a read on this worker right after sees the write (other workers see it as soon
    /// as they read it).
    async fn put_config(&self, record: ConfigRecord) -> Result<(), ConnectError>;

    /// Applies a status to this worker's view at once and stores it in the
    /// background; `None` removes it. Statuses of one subject are stored in the order
    /// they are put.
    fn put_status(&self, subject: Subject, status: Option<StatusRecord>);

    /// As [`BackingStore::put_status`], for an active topic (KIP-558).
    fn put_topic(&self, topic: ActiveTopic, status: Option<TopicStatus>);
}

/// Standalone mode: the view is the store; nothing survives a restart.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    shared: Arc<Shared>,
}

impl MemoryStore {
    pub(crate) fn new(shared: Arc<Shared>) -> MemoryStore {
        MemoryStore { shared }
    }
}

#[async_trait]
impl BackingStore for MemoryStore {
    async fn put_config(&self, record: ConfigRecord) -> Result<(), ConnectError> {
        self.shared.update(|view| view.apply_config(record, true));
        Ok(())
    }

    fn put_status(&self, subject: Subject, status: Option<StatusRecord>) {
        self.shared
            .update(|view| view.apply_status(subject, status));
    }

    fn put_topic(&self, topic: ActiveTopic, status: Option<TopicStatus>) {
        self.shared.update(|view| view.apply_topic(topic, status));
    }
}
