//! The librdkafka clients the runtime and the worker make: shared settings, the
//! internal topics they create, and error mapping.
//!
//! librdkafka's metadata, watermark and commit calls block; [`blocking`] runs them on
//! tokio's blocking pool so they never stall async tasks.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use crate::config::ConfigMap;
use crate::runtime::RuntimeSettings;
use crate::ConnectError;

/// How long one metadata or admin request to the cluster may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings every client shares: the cluster and the user's extra librdkafka settings.
pub(crate) fn client_config(settings: &RuntimeSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.bootstrap_servers);
    for (key, value) in &settings.client_config {
        config.set(key, value);
    }
    config
}

/// The producer settings every source task and dead-letter writer starts from.
///
/// `acks=all` because a source commits upstream positions on acknowledgement; one
/// request in flight per connection because without the idempotent producer a retried
/// batch could otherwise land after a later one and reorder a key's records (Kafka
/// Connect's worker sets the same).
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "1"),
    ("linger.ms", "5"),
    // Java clients' partitioner, so a key lands where a Kafka producer would put it.
    ("partitioner", "murmur2_random"),
    ("batch.size", "1000000"),
    ("queue.buffering.max.kbytes", "262144"),
];

/// A producer config: the shared settings, [`PRODUCER_DEFAULTS`], the worker's
/// `producer.*` keys, then `overrides` (a connector's `producer.override.*`).
pub(crate) fn producer_config(settings: &RuntimeSettings, overrides: &ConfigMap) -> ClientConfig {
    let mut config = client_config(settings);
    for (key, value) in PRODUCER_DEFAULTS {
        config.set(*key, *value);
    }
    for (key, value) in &settings.producer_config {
        config.set(key, value);
    }
    for (key, value) in overrides {
        config.set(key, value);
    }
    config
}

/// A topic Connect needs: created when missing, left as it is when it exists.
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
    settings: &RuntimeSettings,
    topics: &[InternalTopic<'_>],
) -> Result<(), ConnectError> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings)
        .create()
        .map_err(|e| cluster_error("cannot create an admin client", settings, e))?;
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
        .map_err(|e| cluster_error("cannot create Connect's topics", settings, e))?;
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

/// Runs a blocking librdkafka call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ConnectError::internal("a blocking Kafka client call panicked").with_source(e))
}

/// An error from librdkafka, as an external (retryable) error with context.
pub(crate) fn kafka_error(context: impl Into<String>, err: KafkaError) -> ConnectError {
    ConnectError::external(context).with_source(err)
}

/// An error from librdkafka that names the cluster it was talking to.
pub(crate) fn cluster_error(
    what: &str,
    settings: &RuntimeSettings,
    err: KafkaError,
) -> ConnectError {
    kafka_error(
        format!(
            "{what} on the Kafka cluster at {}",
            settings.bootstrap_servers
        ),
        err,
    )
}

/// The context of a consumer that reads topics to their end (the worker's tails, the
/// offsets reader). librdkafka reports reaching a partition's end as an error event
/// too, and the default context logs every one at ERROR; such a reader reaches the
/// end all the time (the end is how it knows it is caught up), so that is not
/// something a user must act on. A lost broker connection is a warning: librdkafka
/// reconnects by itself, and the reader goes on once it has.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReadToEndContext;

impl ClientContext for ReadToEndContext {
    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            _ if matches!(error, KafkaError::PartitionEOF(_)) => {}
            Some(RDKafkaErrorCode::PartitionEOF) => {}
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::OperationTimedOut,
            ) => tracing::warn!("librdkafka: {error}: {reason}"),
            _ => tracing::error!("librdkafka: {error}: {reason}"),
        }
    }
}

impl ConsumerContext for ReadToEndContext {}
