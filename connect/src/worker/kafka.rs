//! The worker's own Kafka clients (librdkafka): client settings, the worker's
//! internal topics, metadata lookups.
//!
//! librdkafka's metadata calls block; they run on tokio's blocking pool so they never
//! stall the worker's async tasks.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::runtime::RuntimeSettings;
use crate::ConnectError;

/// How long one metadata or admin request to the cluster may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings every client of this worker shares: the cluster and the user's extra
/// librdkafka settings.
pub(crate) fn client_config(settings: &RuntimeSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.bootstrap_servers);
    for (key, value) in &settings.client_config {
        config.set(key, value);
    }
    config
}

pub(crate) fn cluster_error(
    what: &str,
    settings: &RuntimeSettings,
    err: KafkaError,
) -> ConnectError {
    ConnectError::external(format!(
        "{what} on the Kafka cluster at {}",
        settings.bootstrap_servers
    ))
    .with_source(err)
}

/// Runs a blocking librdkafka call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ConnectError::internal("a blocking Kafka client call panicked").with_source(e))
}

/// A topic the worker needs: created when missing, left as it is when it exists.
#[derive(Debug, Clone)]
pub(crate) struct InternalTopic<'a> {
    pub(crate) name: &'a str,
    pub(crate) partitions: i32,
    /// -1 takes the broker's default (KIP-464).
    pub(crate) replication_factor: i32,
    pub(crate) compacted: bool,
}

/// Creates the topics that do not exist yet.
pub(crate) async fn ensure_topics(
    admin: &AdminClient<DefaultClientContext>,
    settings: &RuntimeSettings,
    topics: &[InternalTopic<'_>],
) -> Result<(), ConnectError> {
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let topic = NewTopic::new(
                t.name,
                t.partitions,
                TopicReplication::Fixed(t.replication_factor),
            );
            if t.compacted {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .operation_timeout(Some(REQUEST_TIMEOUT));
    let results = admin
        .create_topics(&new, &options)
        .await
        .map_err(|e| cluster_error("cannot create the worker's topics", settings, e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(ConnectError::external(format!(
                    "cannot create topic {topic} on the Kafka cluster at {}: {code}",
                    settings.bootstrap_servers
                ))
                .no_retry());
            }
        }
    }
    Ok(())
}

/// The partition ids of a topic, waiting for a topic created just now to show up in
/// metadata.
pub(crate) fn partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<Vec<i32>, String> {
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let found = client
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .map_err(|e| e.to_string())
            .map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                    .unwrap_or_default()
            });
        match found {
            Ok(ids) if !ids.is_empty() => return Ok(ids),
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(_) => return Err(format!("topic {topic} has no partitions in metadata")),
            Err(err) => return Err(err),
        }
    }
}

/// The cluster id, as `GET /` reports it.
pub(crate) async fn cluster_id(
    admin: std::sync::Arc<AdminClient<DefaultClientContext>>,
    settings: &RuntimeSettings,
) -> Result<String, ConnectError> {
    blocking(move || admin.inner().fetch_cluster_id(REQUEST_TIMEOUT))
        .await?
        .ok_or_else(|| {
            ConnectError::external(format!(
                "the Kafka cluster at {} did not tell its cluster id",
                settings.bootstrap_servers
            ))
        })
}
