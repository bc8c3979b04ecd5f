//! What happens to a record that fails: Kafka Connect's `errors.*` policy.
//!
//! With `errors.tolerance=none` the first failure fails the task. With `all` the record
//! is skipped: logged with its coordinates and, for sinks with
//! `errors.deadletterqueue.topic.name`, written as it was read (original key, value and
//! headers) to the dead-letter topic, with `__connect.errors.*` context headers when
//! `errors.deadletterqueue.context.headers.enable` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigMap, ErrorPolicy, Tolerance};
use crate::herder::ConnectorTaskId;
use crate::{ConnectError, Header};

use super::metrics::TaskMetrics;
use super::RuntimeSettings;
use crate::kafka::{ensure_topics, kafka_error, producer_config, InternalTopic};

/// Where in the pipeline a record failed; names as Kafka Connect's `Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    KeyConverter,
    ValueConverter,
    Transformation,
    TaskPut,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
        }
    }
}

/// A failed record, as it was read from the log (sinks) or polled (sources).
#[derive(Debug)]
pub(crate) struct FailedRecord<'a> {
    pub(crate) stage: Stage,
    /// What failed: the converter, transform or connector class.
    pub(crate) class: &'a str,
    pub(crate) error: &'a ConnectError,
    /// (topic, partition, offset) for records read from the log.
    pub(crate) origin: Option<(&'a str, i32, i64)>,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) headers: &'a [Header],
}

/// Applies a connector's error policy for one task.
#[derive(Debug)]
pub(crate) struct ErrorReporter {
    task: ConnectorTaskId,
    policy: ErrorPolicy,
    dead_letter: Option<DeadLetterQueue>,
    metrics: Arc<TaskMetrics>,
}

struct DeadLetterQueue {
    topic: String,
    producer: FutureProducer,
}

impl std::fmt::Debug for DeadLetterQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterQueue")
            .field("topic", &self.topic)
            .finish()
    }
}

impl ErrorReporter {
    /// Creates the dead-letter topic if one is configured and missing.
    pub(crate) async fn new(
        settings: &RuntimeSettings,
        task: ConnectorTaskId,
        policy: ErrorPolicy,
        producer_overrides: &ConfigMap,
        metrics: Arc<TaskMetrics>,
    ) -> Result<ErrorReporter, ConnectError> {
        let dead_letter = match policy.dlq_topic.as_deref().filter(|t| !t.is_empty()) {
            Some(topic) => {
                let internal = InternalTopic {
                    name: topic,
                    partitions: 1,
                    replication_factor: policy.dlq_replication_factor.into(),
                    compacted: false,
                };
                ensure_topics(settings, &[internal]).await?;
                let producer = producer_config(settings, producer_overrides)
                    .create()
                    .map_err(|err| kafka_error("cannot create the dead-letter producer", err))?;
                Some(DeadLetterQueue {
                    topic: topic.to_string(),
                    producer,
                })
            }
            None => None,
        };
        Ok(ErrorReporter {
            task,
            policy,
            dead_letter,
            metrics,
        })
    }

    /// Handles one failed record: `Err` (fail the task) under `errors.tolerance=none`;
    /// otherwise logs it, writes it to the dead-letter topic if there is one, and
    /// returns `Ok` so the caller skips it.
    pub(crate) async fn report(&self, failed: FailedRecord<'_>) -> Result<(), ConnectError> {
        self.metrics
            .record_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let coordinates = match failed.origin {
            Some((topic, partition, offset)) => format!("{topic}-{partition}@{offset}"),
            None => "a polled record".to_string(),
        };
        if self.policy.tolerance == Tolerance::None {
            return Err(ConnectError::new(
                failed.error.domain(),
                failed.error.retry_hint(),
                format!(
                    "{} failed at stage {} on {coordinates} and errors.tolerance=none: {} (hint: fix the record or the config, or set errors.tolerance=all to skip such records)",
                    failed.class,
                    failed.stage.name(),
                    failed.error.chain()
                ),
            ));
        }
        if self.policy.log_enable || self.dead_letter.is_none() {
            if self.policy.log_include_messages {
                tracing::warn!(
                    connector = %self.task.connector, task = self.task.task, stage = failed.stage.name(), record = %coordinates,
                    key = ?failed.key.map(String::from_utf8_lossy), value = ?failed.value.map(String::from_utf8_lossy),
                    "skipping a failed record: {}", failed.error.chain()
                );
            } else {
                tracing::warn!(
                    connector = %self.task.connector, task = self.task.task, stage = failed.stage.name(), record = %coordinates,
                    "skipping a failed record: {}", failed.error.chain()
                );
            }
        }
        if let Some(dead_letter) = &self.dead_letter {
            self.write_dead_letter(dead_letter, &failed).await?;
            self.metrics
                .dead_letter_records
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    async fn write_dead_letter(
        &self,
        dead_letter: &DeadLetterQueue,
        failed: &FailedRecord<'_>,
    ) -> Result<(), ConnectError> {
        let mut headers = OwnedHeaders::new_with_capacity(failed.headers.len() + 10);
        for header in failed.headers {
            headers = headers.insert(KafkaHeader {
                key: &header.key,
                value: header.value.as_deref(),
            });
        }
        if self.policy.dlq_context_headers {
            for (key, value) in context_headers(&self.task, failed) {
                headers = headers.insert(KafkaHeader {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&dead_letter.topic).headers(headers);
        if let Some(key) = failed.key {
            record = record.key(key);
        }
        if let Some(value) = failed.value {
            record = record.payload(value);
        }
        match dead_letter
            .producer
            .send(record, Duration::from_secs(30))
            .await
        {
            Ok(_) => Ok(()),
            Err((err, _)) => Err(kafka_error(
                format!(
                    "cannot write a failed record to the dead-letter topic {}",
                    dead_letter.topic
                ),
                err,
            )),
        }
    }
}

/// Kafka Connect's `__connect.errors.*` headers for a failed record.
fn context_headers(
    task: &ConnectorTaskId,
    failed: &FailedRecord<'_>,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::with_capacity(10);
    if let Some((topic, partition, offset)) = failed.origin {
        headers.push(("__connect.errors.topic", topic.to_string()));
        headers.push(("__connect.errors.partition", partition.to_string()));
        headers.push(("__connect.errors.offset", offset.to_string()));
    }
    headers.push(("__connect.errors.connector.name", task.connector.clone()));
    headers.push(("__connect.errors.task.id", task.task.to_string()));
    headers.push(("__connect.errors.stage", failed.stage.name().to_string()));
    headers.push(("__connect.errors.class.name", failed.class.to_string()));
    headers.push((
        "__connect.errors.exception.class.name",
        format!("weir.connect.{}Error", domain_name(failed.error)),
    ));
    headers.push((
        "__connect.errors.exception.message",
        failed.error.to_string(),
    ));
    headers.push((
        "__connect.errors.exception.stacktrace",
        failed.error.chain(),
    ));
    headers
}

fn domain_name(error: &ConnectError) -> &'static str {
    match error.domain() {
        crate::ErrorDomain::User => "User",
        crate::ErrorDomain::External => "External",
        crate::ErrorDomain::Internal => "Internal",
    }
}

/// Backoff between retries of a retryable failure: 100 ms doubling up to `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
    started: Instant,
    deadline: Option<Duration>,
}

impl Backoff {
    /// `deadline`: give up after this long (`None`: retry until cancelled).
    pub(crate) fn new(max: Duration, deadline: Option<Duration>) -> Backoff {
        Backoff {
            next: Duration::from_millis(100).min(max),
            max,
            started: Instant::now(),
            deadline,
        }
    }

    /// Sleeps before the next attempt. `false` when the deadline has passed or `cancel`
    /// fired: the caller stops retrying.
    pub(crate) async fn wait(&mut self, cancel: &CancellationToken) -> bool {
        if self
            .deadline
            .is_some_and(|d| self.started.elapsed() + self.next > d)
        {
            return false;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}
