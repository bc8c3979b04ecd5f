//! Distributed mode's backing store: configs and target states in the compacted config
//! topic, statuses in the compacted status topic, both tailed by every worker.
//!
//! The producer keeps one request in flight per connection with `acks=all`, so
//! retries cannot reorder two writes of one key: a FAILED status written after a
//! RUNNING one is never overtaken by it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtime::RuntimeSettings;
use crate::ConnectError;

use super::records::{ActiveTopic, ConfigRecord, StatusRecord, Subject, TopicStatus};
use super::store::BackingStore;
use super::tail::Tail;
use super::view::Shared;
use crate::kafka::{client_config, cluster_error};

/// How long a REST write may wait for the cluster to store it and for this worker to
/// read it back.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping worker still waits for its last statuses to be stored: enough
/// for a reachable cluster, short enough that an unreachable one does not hold the
/// process (other workers see the statuses change when the group moves the tasks).
const SHUTDOWN_WRITE_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct TopicStore {
    shared: Arc<Shared>,
    producer: FutureProducer,
    settings: RuntimeSettings,
    config_topic: String,
    status_topic: String,
    config_tail: Tail,
    /// Waits on status deliveries, to report the ones that failed.
    deliveries: TaskTracker,
    /// The worker stopping: deliveries wait at most [`SHUTDOWN_WRITE_WAIT`] more.
    stop: CancellationToken,
}

impl std::fmt::Debug for TopicStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicStore")
            .field("config_topic", &self.config_topic)
            .field("status_topic", &self.status_topic)
            .finish_non_exhaustive()
    }
}

impl TopicStore {
    pub(crate) fn new(
        shared: Arc<Shared>,
        settings: &RuntimeSettings,
        config_topic: &str,
        status_topic: &str,
        config_tail: Tail,
        deliveries: TaskTracker,
        stop: CancellationToken,
    ) -> Result<TopicStore, ConnectError> {
        let producer: FutureProducer = client_config(settings)
            .set("acks", "all")
            .set("max.in.flight.requests.per.connection", "1")
            .set("message.timeout.ms", WRITE_TIMEOUT.as_millis().to_string())
            .create()
            .map_err(|e| cluster_error("cannot create the worker's producer", settings, e))?;
        Ok(TopicStore {
            shared,
            producer,
            settings: settings.clone(),
            config_topic: config_topic.to_string(),
            status_topic: status_topic.to_string(),
            config_tail,
            deliveries,
            stop,
        })
    }
}

impl TopicStore {
    /// Writes a status-topic record; a failed write is logged (the view has it
    /// already, and the next report of the same subject writes it again).
    fn send_status(&self, key: String, value: Option<Vec<u8>>) {
        match self
            .producer
            .send_result(record(&self.status_topic, &key, value.as_deref()))
        {
            Ok(delivery) => {
                let topic = self.status_topic.clone();
                let stop = self.stop.clone();
                let stopped = async move {
                    stop.cancelled().await;
                    tokio::time::sleep(SHUTDOWN_WRITE_WAIT).await;
                };
                self.deliveries.spawn(async move {
                    tokio::select! {
                        result = delivery => match result {
                            Ok(Ok(_)) => {}
                            Ok(Err((err, _))) => {
                                tracing::warn!(%topic, %key, error = %err, "a status was not stored")
                            }
                            Err(_) => tracing::warn!(%topic, %key, "a status write was dropped"),
                        },
                        () = stopped => tracing::warn!(
                            %topic, %key, "a status was not stored before the worker stopped (is the Kafka cluster reachable?)"
                        ),
                    }
                });
            }
            Err((err, _)) => {
                tracing::warn!(topic = %self.status_topic, %key, error = %err, "a status was not stored")
            }
        }
    }
}

fn record<'a>(
    topic: &'a str,
    key: &'a str,
    value: Option<&'a [u8]>,
) -> FutureRecord<'a, str, [u8]> {
    let record = FutureRecord::to(topic).key(key);
    match value {
        Some(value) => record.payload(value),
        None => record,
    }
}

#[async_trait]
impl BackingStore for TopicStore {
    async fn put_config(&self, config: ConfigRecord) -> Result<(), ConnectError> {
        let (key, value) = (config.key(), config.value());
        let delivery = self
            .producer
            .send(
                record(&self.config_topic, &key, value.as_deref()),
                WRITE_TIMEOUT,
            )
            .await
            .map_err(|(err, _)| {
                cluster_error(
                    &format!("cannot write {key} to topic {}", self.config_topic),
                    &self.settings,
                    err,
                )
            })?;
        self.config_tail
            .applied(delivery.partition, delivery.offset, WRITE_TIMEOUT)
            .await
    }

    fn put_status(&self, subject: Subject, status: Option<StatusRecord>) {
        let key = subject.status_key();
        let value = status.as_ref().map(StatusRecord::encode);
        self.shared
            .update(|view| view.apply_status(subject, status));
        self.send_status(key, value);
    }

    fn put_topic(&self, topic: ActiveTopic, status: Option<TopicStatus>) {
        let key = topic.key();
        let value = status.as_ref().map(TopicStatus::encode);
        self.shared.update(|view| view.apply_topic(topic, status));
        self.send_status(key, value);
    }
}
