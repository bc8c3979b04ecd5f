//! The librdkafka clients the runtime makes, and the internal topics it needs.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use crate::config::ConfigMap;
use crate::ConnectError;

use super::RuntimeSettings;

/// How long an admin request may take before the runtime gives up on it.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A client config: the worker's bootstrap servers and settings, then `overrides`.
pub(crate) fn client_config(settings: &RuntimeSettings, overrides: &ConfigMap) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.bootstrap_servers);
    for (key, value) in settings.client_config.iter().chain(overrides) {
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
pub(crate) const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "1"),
    ("linger.ms", "5"),
    // Java clients' partitioner, so a key lands where a Kafka producer would put it.
    ("partitioner", "murmur2_random"),
    ("batch.size", "1000000"),
    ("queue.buffering.max.kbytes", "262144"),
];

pub(crate) fn producer_config(settings: &RuntimeSettings, overrides: &ConfigMap) -> ClientConfig {
    let mut config = client_config(settings, &ConfigMap::new());
    for (key, value) in PRODUCER_DEFAULTS {
        config.set(*key, *value);
    }
    for (key, value) in overrides {
        config.set(key, value);
    }
    config
}

/// Creates `topic` unless it exists.
pub(crate) async fn ensure_topic(
    settings: &RuntimeSettings,
    topic: &str,
    partitions: i32,
    replication: i32,
    configs: &[(&str, &str)],
) -> Result<(), ConnectError> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings, &ConfigMap::new())
        .create()
        .map_err(|err| {
            kafka_error(
                format!(
                    "cannot create an admin client for {}",
                    settings.bootstrap_servers
                ),
                err,
            )
        })?;
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
    for (key, value) in configs {
        new_topic = new_topic.set(key, value);
    }
    let options = AdminOptions::new()
        .request_timeout(Some(ADMIN_TIMEOUT))
        .operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(|err| kafka_error(format!("cannot create topic {topic}"), err))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(ConnectError::external(format!(
                    "cannot create topic {topic}: {code}"
                )));
            }
        }
    }
    Ok(())
}

/// An error from librdkafka, as an external (retryable) error with context.
pub(crate) fn kafka_error(context: impl Into<String>, err: KafkaError) -> ConnectError {
    ConnectError::external(context).with_source(err)
}
