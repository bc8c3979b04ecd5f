//! Runs a sink task: a consumer-group member that converts and transforms batches,
//! writes them to the external system, and commits consumer offsets only after the
//! system accepted the batch (`Sink::flush` returned).
//!
//! Commits are asynchronous, so the task goes on with the next batch while the
//! coordinator writes them; the last position is committed synchronously when the
//! task stops or pauses, so a restart does not write the last batches again.
//!
//! A paused task leaves the consumer group (its partitions move to the connector's
//! other tasks) and rejoins on resume: librdkafka would otherwise evict a member that
//! stops polling for `max.poll.interval.ms`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Headers, Message, OwnedMessage};
use rdkafka::util::DefaultRuntime;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::ConnectorConfig;
use crate::herder::ConnectorTaskId;
use crate::{ConnectError, Header, Record, Sink, SinkContext, SinkRecord};

use super::active_topics::TopicTracker;
use super::error_policy::{Backoff, ErrorReporter, FailedRecord, Stage};
use super::metrics::TaskMetrics;
use super::sink_consumer::{SinkConsumerContext, STATISTICS_INTERVAL_MS};
use super::{RuntimeSettings, TaskControl};
use crate::kafka::{client_config, kafka_error};

type SinkConsumer = StreamConsumer<SinkConsumerContext, DefaultRuntime>;

/// Why the consuming loop returned.
enum Stop {
    Cancelled,
    Paused,
}

pub(crate) struct SinkTaskRun<'a> {
    pub(crate) settings: &'a RuntimeSettings,
    pub(crate) id: ConnectorTaskId,
    pub(crate) config: Arc<ConnectorConfig>,
    pub(crate) metrics: Arc<TaskMetrics>,
    pub(crate) topics: TopicTracker,
    pub(crate) control: TaskControl,
}

/// The consumer group of a sink connector's tasks, as Kafka Connect names it.
pub(crate) fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

impl SinkTaskRun<'_> {
    pub(crate) async fn run(self, mut sink: Box<dyn Sink>) -> Result<(), ConnectError> {
        sink.open(SinkContext {
            connector: self.id.connector.clone(),
            task: self.id.task,
        })
        .await?;
        let result = self.run_open(sink.as_mut()).await;
        if let Err(err) = sink.close().await {
            tracing::warn!(connector = %self.id.connector, task = self.id.task, "closing the sink failed: {}", err.chain());
        }
        result
    }

    async fn run_open(&self, sink: &mut dyn Sink) -> Result<(), ConnectError> {
        let reporter = ErrorReporter::new(
            self.settings,
            self.id.clone(),
            self.config.errors.clone(),
            &self.config.producer_overrides,
            Arc::clone(&self.metrics),
        )
        .await?;
        let cancel = self.control.cancel.clone();
        let mut paused = self.control.paused.clone();
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            if *paused.borrow_and_update() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = paused.changed() => continue,
                }
            }
            let consumer = self.subscribe()?;
            tracing::info!(connector = %self.id.connector, task = self.id.task, group = %group_id(&self.id.connector), "sink task consuming");
            match self
                .consume(&consumer, sink, &reporter, &mut paused)
                .await?
            {
                Stop::Cancelled => return Ok(()),
                Stop::Paused => continue,
            }
        }
    }

    fn subscribe(&self) -> Result<SinkConsumer, ConnectError> {
        let mut config = client_config(self.settings);
        config
            .set("group.id", group_id(&self.id.connector))
            .set(
                "client.id",
                format!("connector-consumer-{}-{}", self.id.connector, self.id.task),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // A dynamic member, as in Kafka Connect: a stopped task leaves the group
            // at once, so its offsets can be reset right after it stops (librdkafka
            // sends no LeaveGroup for a static member). A crashed task's partitions
            // wait out this session before its successor gets them.
            .set("session.timeout.ms", "10000")
            // A chained pipeline's sink usually subscribes before its source has
            // created the topic; librdkafka only notices a new topic on a metadata
            // refresh (every 5 minutes by default).
            .set("topic.metadata.refresh.interval.ms", "3000")
            // Measured: a file -> topic -> Redis pipeline at 20,000 records/s had a p50
            // of ~480 ms end to end with librdkafka's 500 ms default, ~39 ms with 100 ms.
            .set("fetch.wait.max.ms", "100")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
        let worker = &self.settings.consumer_config;
        for (key, value) in worker.iter().chain(&self.config.consumer_overrides) {
            config.set(key, value);
        }
        let context = SinkConsumerContext {
            id: self.id.clone(),
            metrics: Arc::clone(&self.metrics),
        };
        let consumer: SinkConsumer = config
            .create_with_context(context)
            .map_err(|err| kafka_error("cannot create the sink task's consumer", err))?;
        let patterns: Vec<String> = match &self.config.topics_regex {
            // librdkafka treats a subscription starting with `^` as a regex.
            Some(regex) if regex.starts_with('^') => vec![regex.clone()],
            Some(regex) => vec![format!("^{regex}")],
            None => self.config.topics.clone(),
        };
        let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
        consumer.subscribe(&patterns).map_err(|err| {
            kafka_error(format!("cannot subscribe to {}", patterns.join(",")), err).no_retry()
        })?;
        Ok(consumer)
    }

    async fn consume(
        &self,
        consumer: &SinkConsumer,
        sink: &mut dyn Sink,
        reporter: &ErrorReporter,
        paused: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<Stop, ConnectError> {
        let mut last = None;
        let stop = self
            .consume_batches(consumer, sink, reporter, paused, &mut last)
            .await;
        if let Some(positions) = last {
            if let Err(err) = consumer.commit(&positions, CommitMode::Sync) {
                tracing::warn!(connector = %self.id.connector, task = self.id.task, %err, "committing the last offsets failed; the records after the last commit will be written again");
            }
        }
        stop
    }

    /// Consumes, writes and commits batches until the task stops or pauses; `last` is
    /// the position after the last batch written.
    async fn consume_batches(
        &self,
        consumer: &SinkConsumer,
        sink: &mut dyn Sink,
        reporter: &ErrorReporter,
        paused: &mut tokio::sync::watch::Receiver<bool>,
        last: &mut Option<TopicPartitionList>,
    ) -> Result<Stop, ConnectError> {
        let cancel = &self.control.cancel;
        let max_records = self.config.batch_max_records.max(1);
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => return Ok(Stop::Cancelled),
                _ = paused.changed() => {
                    if *paused.borrow_and_update() { return Ok(Stop::Paused) }
                    continue;
                }
                message = consumer.recv() => message,
            };
            let Some(first) = self.consumed(first)? else {
                continue;
            };
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.config.batch_max_ms;
            while batch.len() < max_records {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(Stop::Cancelled),
                    _ = tokio::time::sleep_until(deadline) => break,
                    message = consumer.recv() => {
                        if let Some(message) = self.consumed(message)? {
                            batch.push(message);
                        }
                    }
                }
            }
            TaskMetrics::add(&self.metrics.records_in, batch.len());
            let records = self.prepare(&batch, reporter).await?;
            if !records.is_empty() && !self.deliver(sink, &batch, &records, reporter).await? {
                return Ok(Stop::Cancelled);
            }
            tracing::debug!(connector = %self.id.connector, task = self.id.task, records = batch.len(), "sink batch written");
            let positions = next_positions(&batch);
            if let Err(err) = consumer.commit(&positions, CommitMode::Async) {
                tracing::warn!(connector = %self.id.connector, task = self.id.task, %err, "cannot queue the offset commit");
            }
            *last = Some(positions);
        }
    }

    /// A consumed message, or `None` for an error librdkafka recovers from by itself
    /// (a subscribed topic that does not exist yet, a broker connection being
    /// re-established): those are logged and consuming goes on, as a Kafka consumer
    /// does. Only fatal consumer errors fail the task.
    fn consumed(
        &self,
        message: KafkaResult<BorrowedMessage<'_>>,
    ) -> Result<Option<OwnedMessage>, ConnectError> {
        match message {
            Ok(message) => Ok(Some(message.detach())),
            Err(err @ KafkaError::MessageConsumptionFatal(_)) => {
                Err(kafka_error("cannot consume", err).no_retry())
            }
            Err(err) => {
                tracing::warn!(connector = %self.id.connector, task = self.id.task, %err, "consumer error; librdkafka retries");
                Ok(None)
            }
        }
    }

    /// Converts and transforms a batch; failed records go to the error policy.
    async fn prepare(
        &self,
        batch: &[OwnedMessage],
        reporter: &ErrorReporter,
    ) -> Result<Vec<SinkRecord>, ConnectError> {
        let mut records = Vec::with_capacity(batch.len());
        for message in batch {
            let topic = message.topic();
            self.topics.record(topic);
            let headers: Vec<Header> = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| Header {
                            key: h.key.to_string(),
                            value: h.value.map(bytes::Bytes::copy_from_slice),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let origin = Some((topic, message.partition(), message.offset()));
            let failed = |stage, class, error| FailedRecord {
                stage,
                class,
                error,
                origin,
                key: message.key(),
                value: message.payload(),
                headers: &[],
            };
            let (key, key_schema) = match self
                .config
                .key_converter
                .deserialize_with_schema(topic, message.key())
            {
                Ok(key) => key,
                Err(error) => {
                    reporter
                        .report(FailedRecord {
                            headers: &headers,
                            ..failed(Stage::KeyConverter, "key.converter", &error)
                        })
                        .await?;
                    continue;
                }
            };
            let (value, value_schema) = match self
                .config
                .value_converter
                .deserialize_with_schema(topic, message.payload())
            {
                Ok(value) => value,
                Err(error) => {
                    reporter
                        .report(FailedRecord {
                            headers: &headers,
                            ..failed(Stage::ValueConverter, "value.converter", &error)
                        })
                        .await?;
                    continue;
                }
            };
            let record = Record {
                topic: topic.to_string(),
                partition: Some(message.partition()),
                key,
                value,
                headers: headers.clone(),
                timestamp: message.timestamp().to_millis(),
                offset: Some(message.offset()),
                key_schema,
                value_schema,
            };
            match self.config.transforms.apply(record) {
                Ok(Some(record)) => records.push(SinkRecord {
                    record,
                    origin_topic: topic.to_string(),
                    origin_partition: message.partition(),
                    offset: message.offset(),
                }),
                Ok(None) => {
                    self.metrics
                        .records_filtered
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    reporter
                        .report(FailedRecord {
                            headers: &headers,
                            ..failed(Stage::Transformation, "transforms", &error)
                        })
                        .await?;
                }
            }
        }
        Ok(records)
    }

    /// Writes and flushes `records`, retrying retryable failures with backoff until
    /// they succeed; `false` when the task was cancelled while retrying.
    async fn deliver(
        &self,
        sink: &mut dyn Sink,
        batch: &[OwnedMessage],
        records: &[SinkRecord],
        reporter: &ErrorReporter,
    ) -> Result<bool, ConnectError> {
        let mut backoff = Backoff::new(self.config.errors.retry_delay_max, None);
        let mut reported = false;
        loop {
            let attempt = match sink.write(records).await {
                Ok(failures) => {
                    if !reported {
                        for failure in &failures {
                            let record = &records[failure.index];
                            let original = batch.iter().find(|m| {
                                m.offset() == record.offset
                                    && m.partition() == record.origin_partition
                                    && m.topic() == record.origin_topic
                            });
                            reporter
                                .report(FailedRecord {
                                    stage: Stage::TaskPut,
                                    class: self.config.plugin.class(),
                                    error: &failure.error,
                                    origin: Some((
                                        &record.origin_topic,
                                        record.origin_partition,
                                        record.offset,
                                    )),
                                    key: original.and_then(|m| m.key()),
                                    value: original.and_then(|m| m.payload()),
                                    headers: &record.record.headers,
                                })
                                .await?;
                        }
                        reported = true;
                        TaskMetrics::add(&self.metrics.records_out, records.len() - failures.len());
                    }
                    sink.flush().await
                }
                Err(err) => Err(err),
            };
            match attempt {
                Ok(()) => return Ok(true),
                Err(err) if err.is_retryable() => {
                    self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(connector = %self.id.connector, task = self.id.task, records = records.len(), "writing a batch failed, retrying it whole: {}", err.chain());
                    if !backoff.wait(&self.control.cancel).await {
                        return Ok(false);
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// The position after `batch` on each of its partitions.
fn next_positions(batch: &[OwnedMessage]) -> TopicPartitionList {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for message in batch {
        let entry = next
            .entry((message.topic(), message.partition()))
            .or_insert(0);
        *entry = (*entry).max(message.offset() + 1);
    }
    let mut positions = TopicPartitionList::with_capacity(next.len());
    for ((topic, partition), offset) in next {
        positions
            .add_partition_offset(topic, partition, Offset::Offset(offset))
            .expect("an absolute offset is always valid");
    }
    positions
}
