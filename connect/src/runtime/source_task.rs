//! Runs a source task: poll, transform, convert, produce; store and commit upstream
//! positions only after the log acknowledged every record before them.
//!
//! Polled batches are pipelined: up to [`MAX_IN_FLIGHT`] batches are being produced
//! while the next one is polled. Batches settle strictly in order, so acknowledged
//! positions never cover a record of a later batch that is not yet acknowledged.
//! Acknowledged positions are stored (and committed upstream) at most every
//! `offset.flush.interval.ms` while data flows, and at once when the source goes idle,
//! pauses or stops: storing after every batch would put an offsets round trip on the
//! path of every batch, and a crash only costs re-producing what came after the last
//! stored position.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::config::{ConfigMap, ConnectorConfig};
use crate::herder::ConnectorTaskId;
use crate::{
    ConnectError, Record, Source, SourceContext, SourceOffset, SourcePartition, SourceRecord,
};

use super::active_topics::TopicTracker;
use super::error_policy::{Backoff, ErrorReporter, FailedRecord, Stage};
use super::metrics::TaskMetrics;
use super::offset_store::OffsetStore;
use super::topic_creation::TopicCreator;
use super::{RuntimeSettings, TaskControl};
use crate::kafka::{kafka_error, producer_config};

/// Polled batches being produced at once.
const MAX_IN_FLIGHT: usize = 4;

/// What one poll of the source gave.
pub(super) enum Polled {
    Batch(Vec<SourceRecord>),
    /// The poll failed in a way worth retrying, and the backoff has been waited out.
    Retry,
    /// The task was cancelled while polling or backing off.
    Cancelled,
}

/// Produced batches not yet acknowledged, and acknowledged positions not yet stored.
#[derive(Default)]
pub(super) struct Progress {
    in_flight: VecDeque<InFlight>,
    acknowledged: Offsets,
    stored_at: Option<Instant>,
}

/// A produced batch waiting for acknowledgements, with the positions it covers.
struct InFlight {
    deliveries: Vec<DeliveryFuture>,
    offsets: Offsets,
}

/// The latest offset per source partition, in first-seen order.
#[derive(Default)]
pub(super) struct Offsets {
    pub(super) entries: Vec<(SourcePartition, SourceOffset)>,
}

impl Offsets {
    pub(super) fn record(&mut self, partition: SourcePartition, offset: SourceOffset) {
        match self.entries.iter_mut().find(|(p, _)| *p == partition) {
            Some(entry) => entry.1 = offset,
            None => self.entries.push((partition, offset)),
        }
    }
}

pub(crate) struct SourceTaskRun<'a> {
    pub(crate) settings: &'a RuntimeSettings,
    pub(crate) id: ConnectorTaskId,
    pub(crate) config: Arc<ConnectorConfig>,
    /// Creates a topic before its first record when the connector asks for it.
    pub(crate) creator: TopicCreator,
    pub(crate) offsets: OffsetStore,
    pub(crate) metrics: Arc<TaskMetrics>,
    pub(crate) topics: TopicTracker,
    pub(crate) control: TaskControl,
}

impl SourceTaskRun<'_> {
    pub(crate) async fn run(self, mut source: Box<dyn Source>) -> Result<(), ConnectError> {
        let stored = self.offsets.read(&self.id.connector).await?;
        tracing::info!(connector = %self.id.connector, task = self.id.task, positions = stored.len(), "source task starting");
        source
            .open(
                SourceContext::new(&self.id.connector, self.id.task, stored)
                    .with_batch_max_records(self.config.batch_max_records)
                    .with_metrics(Arc::clone(&self.metrics)),
            )
            .await?;
        let result = self.run_open(source.as_mut()).await;
        if let Err(err) = source.close().await {
            tracing::warn!(connector = %self.id.connector, task = self.id.task, "closing the source failed: {}", err.chain());
        }
        result
    }

    async fn run_open(&self, source: &mut dyn Source) -> Result<(), ConnectError> {
        if let Some(prefix) = &self.settings.transactional_id_prefix {
            return self.run_transactional(source, prefix).await;
        }
        let producer: FutureProducer =
            producer_config(self.settings, &self.config.producer_overrides)
                .create()
                .map_err(|err| kafka_error("cannot create the source task's producer", err))?;
        let reporter = ErrorReporter::new(
            self.settings,
            self.id.clone(),
            self.config.errors.clone(),
            &ConfigMap::new(),
            Arc::clone(&self.metrics),
        )
        .await?;
        let mut progress = Progress::default();
        let mut backoff: Option<Backoff> = None;
        let cancel = self.control.cancel.clone();
        let mut paused = self.control.paused.clone();
        loop {
            if cancel.is_cancelled() {
                break;
            }
            if *paused.borrow_and_update() {
                self.settle_all(source, &mut progress).await?;
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = paused.changed() => continue,
                }
            }
            let batch = match self.poll(source, &mut backoff).await? {
                Polled::Batch(batch) => batch,
                Polled::Retry => continue,
                Polled::Cancelled => break,
            };
            if batch.is_empty() {
                self.settle_all(source, &mut progress).await?;
                continue;
            }
            TaskMetrics::add(&self.metrics.records_in, batch.len());
            let mut offsets = Offsets::default();
            let mut deliveries = Vec::with_capacity(batch.len());
            for polled in batch {
                offsets.record(polled.source_partition, polled.source_offset);
                let Some((record, key, value)) = self.prepare(polled.record, &reporter).await?
                else {
                    continue;
                };
                let delivery = self
                    .send(
                        source,
                        &producer,
                        &record,
                        key.as_deref(),
                        value.as_deref(),
                        &mut progress,
                    )
                    .await?;
                deliveries.push(delivery);
            }
            progress.in_flight.push_back(InFlight {
                deliveries,
                offsets,
            });
            while progress.in_flight.len() > MAX_IN_FLIGHT {
                self.settle_front(source, &mut progress).await?;
            }
        }
        // Stopping: what was produced is acknowledged and its positions stored, so a
        // restarted task resumes exactly after it.
        self.settle_all(source, &mut progress).await
    }

    /// Polls the source once; a retryable failure is logged and backed off here
    /// (`backoff` grows across consecutive failures and resets on success).
    pub(super) async fn poll(
        &self,
        source: &mut dyn Source,
        backoff: &mut Option<Backoff>,
    ) -> Result<Polled, ConnectError> {
        let cancel = &self.control.cancel;
        let polled = tokio::select! {
            _ = cancel.cancelled() => return Ok(Polled::Cancelled),
            polled = source.poll() => polled,
        };
        match polled {
            Ok(batch) => {
                *backoff = None;
                Ok(Polled::Batch(batch))
            }
            Err(err) if err.is_retryable() => {
                tracing::warn!(connector = %self.id.connector, task = self.id.task, "poll failed, retrying: {}", err.chain());
                self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                let policy = &self.config.errors;
                let backoff =
                    backoff.get_or_insert_with(|| Backoff::new(policy.retry_delay_max, None));
                if backoff.wait(cancel).await {
                    Ok(Polled::Retry)
                } else {
                    Ok(Polled::Cancelled)
                }
            }
            Err(err) => Err(err),
        }
    }

    /// Transforms and converts one record; `None` when it was filtered or failed and
    /// the error policy skipped it.
    pub(super) async fn prepare(
        &self,
        record: Record,
        reporter: &ErrorReporter,
    ) -> Result<Option<(Record, Option<Bytes>, Option<Bytes>)>, ConnectError> {
        let record = match self.config.transforms.apply(record) {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.metrics
                    .records_filtered
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Err(error) => {
                reporter
                    .report(FailedRecord {
                        stage: Stage::Transformation,
                        class: "transforms",
                        error: &error,
                        origin: None,
                        key: None,
                        value: None,
                        headers: &[],
                    })
                    .await?;
                return Ok(None);
            }
        };
        let key = match self.config.key_converter.serialize_with_schema(
            &record.topic,
            &record.key,
            record.key_schema.as_ref(),
        ) {
            Ok(key) => key,
            Err(error) => {
                reporter
                    .report(FailedRecord {
                        stage: Stage::KeyConverter,
                        class: "key.converter",
                        error: &error,
                        origin: None,
                        key: None,
                        value: None,
                        headers: &record.headers,
                    })
                    .await?;
                return Ok(None);
            }
        };
        let value = match self.config.value_converter.serialize_with_schema(
            &record.topic,
            &record.value,
            record.value_schema.as_ref(),
        ) {
            Ok(value) => value,
            Err(error) => {
                reporter
                    .report(FailedRecord {
                        stage: Stage::ValueConverter,
                        class: "value.converter",
                        error: &error,
                        origin: None,
                        key: key.as_deref(),
                        value: None,
                        headers: &record.headers,
                    })
                    .await?;
                return Ok(None);
            }
        };
        Ok(Some((record, key, value)))
    }

    /// Queues one record, first creating its topic when topic creation asks for it
    /// (the record is past its transforms, so a routed topic counts); when
    /// librdkafka's queue is full, settles the oldest batch (or waits briefly) and
    /// tries again.
    pub(super) async fn send(
        &self,
        source: &mut dyn Source,
        producer: &FutureProducer,
        record: &Record,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        progress: &mut Progress,
    ) -> Result<DeliveryFuture, ConnectError> {
        self.creator.ensure(&record.topic).await?;
        loop {
            let mut kafka_record = FutureRecord::<[u8], [u8]>::to(&record.topic);
            if let Some(key) = key {
                kafka_record = kafka_record.key(key);
            }
            if let Some(value) = value {
                kafka_record = kafka_record.payload(value);
            }
            if let Some(partition) = record.partition {
                kafka_record = kafka_record.partition(partition);
            }
            if let Some(timestamp) = record.timestamp {
                kafka_record = kafka_record.timestamp(timestamp);
            }
            if !record.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
                for header in &record.headers {
                    headers = headers.insert(KafkaHeader {
                        key: &header.key,
                        value: header.value.as_deref(),
                    });
                }
                kafka_record = kafka_record.headers(headers);
            }
            match producer.send_result(kafka_record) {
                Ok(delivery) => {
                    self.topics.record(&record.topic);
                    return Ok(delivery);
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if progress.in_flight.is_empty() {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    } else {
                        self.settle_front(source, progress).await?;
                    }
                }
                Err((err, _)) => {
                    return Err(
                        kafka_error(format!("cannot produce to {}", record.topic), err).no_retry(),
                    );
                }
            }
        }
    }

    /// Settles every batch and stores the positions: the source is idle, paused or
    /// stopping.
    async fn settle_all(
        &self,
        source: &mut dyn Source,
        progress: &mut Progress,
    ) -> Result<(), ConnectError> {
        while !progress.in_flight.is_empty() {
            self.settle_front(source, progress).await?;
        }
        self.store(source, progress).await
    }

    /// Waits for the oldest batch's acknowledgements and adds its positions to the
    /// acknowledged ones; stores them when the last store is old enough.
    async fn settle_front(
        &self,
        source: &mut dyn Source,
        progress: &mut Progress,
    ) -> Result<(), ConnectError> {
        let Some(batch) = progress.in_flight.pop_front() else {
            return Ok(());
        };
        let produced = batch.deliveries.len();
        for delivery in batch.deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((err, message))) => {
                    use rdkafka::Message as _;
                    return Err(kafka_error(
                        format!("the log did not acknowledge a record for {}; the task stops so that its position is not committed past it", message.topic()),
                        err,
                    ));
                }
                Err(_) => {
                    return Err(ConnectError::internal(
                        "the producer went away before acknowledging a record",
                    ))
                }
            }
        }
        TaskMetrics::add(&self.metrics.records_out, produced);
        for (partition, offset) in batch.offsets.entries {
            progress.acknowledged.record(partition, offset);
        }
        if progress
            .stored_at
            .is_none_or(|at| at.elapsed() >= self.settings.offset_flush_interval)
        {
            self.store(source, progress).await?;
        }
        Ok(())
    }

    /// Stores the acknowledged positions in the offsets topic, then tells the source
    /// to commit them upstream.
    async fn store(
        &self,
        source: &mut dyn Source,
        progress: &mut Progress,
    ) -> Result<(), ConnectError> {
        progress.stored_at = Some(Instant::now());
        if progress.acknowledged.entries.is_empty() {
            return Ok(());
        }
        let positions = std::mem::take(&mut progress.acknowledged.entries);
        self.offsets.write(&self.id.connector, &positions).await?;
        tracing::debug!(connector = %self.id.connector, task = self.id.task, partitions = positions.len(), "source positions stored");
        source.commit(&positions).await
    }
}
