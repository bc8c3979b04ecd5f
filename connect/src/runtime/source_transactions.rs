//! Exactly-once source tasks (KIP-618): a task's records and its source positions are
//! written in one transaction of the task's own transactional producer.
//!
//! The transactional id is `<group>-<connector>-<task>`, so a task's next instance,
//! wherever it starts, fences every earlier one when it initializes its producer: a
//! zombie (a paused or partitioned worker still running the task) can no longer
//! commit, and whatever it had in flight is aborted. Positions are read back with
//! read_committed, so a restarted task resumes exactly after the last committed
//! transaction, whose records a read_committed consumer sees once; the source is told
//! to commit upstream only after the transaction committed.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};

use crate::config::{ConfigMap, TransactionBoundary};
use crate::{ConnectError, Source};

use super::error_policy::{Backoff, ErrorReporter};
use super::metrics::TaskMetrics;
use super::source_task::{Offsets, Polled, Progress, SourceTaskRun};
use crate::kafka::{blocking, kafka_error, producer_config};

/// How long initializing, committing or aborting a transaction may take.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The transaction a task has open: since when, the positions it covers, and how many
/// records it holds.
struct Open {
    started: Instant,
    offsets: Offsets,
    records: usize,
}

impl SourceTaskRun<'_> {
    pub(super) async fn run_transactional(
        &self,
        source: &mut dyn Source,
        prefix: &str,
    ) -> Result<(), ConnectError> {
        let transactional_id = format!("{prefix}-{}-{}", self.id.connector, self.id.task);
        let producer: FutureProducer =
            producer_config(self.settings, &self.config.producer_overrides)
                .set("transactional.id", &transactional_id)
                .set("enable.idempotence", "true")
                .set("max.in.flight.requests.per.connection", "5")
                .create()
                .map_err(|err| kafka_error("cannot create the source task's producer", err))?;
        let init = producer.clone();
        blocking(move || init.init_transactions(TRANSACTION_TIMEOUT))
            .await?
            .map_err(|err| transaction_error("cannot initialize transactions", err))?;
        tracing::info!(connector = %self.id.connector, task = self.id.task, %transactional_id, "source task writes in transactions; earlier instances are fenced");
        let reporter = ErrorReporter::new(
            self.settings,
            self.id.clone(),
            self.config.errors.clone(),
            &ConfigMap::new(),
            std::sync::Arc::clone(&self.metrics),
        )
        .await?;
        let result = self.transact(source, &producer, &reporter).await;
        if result.is_err() {
            // A transaction left open would hold back every read_committed consumer of
            // its partitions until the broker times it out.
            self.abort(&producer).await;
        }
        result
    }

    /// Polls, produces and commits until the task is cancelled (`Ok`) or fails.
    async fn transact(
        &self,
        source: &mut dyn Source,
        producer: &FutureProducer,
        reporter: &ErrorReporter,
    ) -> Result<(), ConnectError> {
        let interval = match self.config.transaction_boundary {
            TransactionBoundary::Interval(every) => {
                Some(every.unwrap_or(self.settings.offset_flush_interval))
            }
            _ => None,
        };
        // `send` waits for room in librdkafka's queue through this; nothing settles in
        // it, since the commit is what waits for the log.
        let mut queue = Progress::default();
        let mut open: Option<Open> = None;
        let mut backoff: Option<Backoff> = None;
        let cancel = self.control.cancel.clone();
        let mut paused = self.control.paused.clone();
        loop {
            if cancel.is_cancelled() {
                break;
            }
            if *paused.borrow_and_update() {
                self.commit(producer, source, open.take()).await?;
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
            let interval_over = |open: &Option<Open>| {
                open.as_ref()
                    .zip(interval)
                    .is_some_and(|(open, every)| open.started.elapsed() >= every)
            };
            if batch.is_empty() {
                // Idle: an interval transaction still ends on time.
                if interval_over(&open) {
                    self.commit(producer, source, open.take()).await?;
                }
                continue;
            }
            TaskMetrics::add(&self.metrics.records_in, batch.len());
            if open.is_none() {
                producer
                    .begin_transaction()
                    .map_err(|err| transaction_error("cannot begin a transaction", err))?;
                open = Some(Open {
                    started: Instant::now(),
                    offsets: Offsets::default(),
                    records: 0,
                });
            }
            let Some(transaction) = open.as_mut() else {
                continue;
            };
            for polled in batch {
                transaction
                    .offsets
                    .record(polled.source_partition, polled.source_offset);
                let Some((record, key, value)) = self.prepare(polled.record, reporter).await?
                else {
                    continue;
                };
                // The commit reports a record the log refused; its delivery is not
                // awaited one by one.
                drop(
                    self.send(
                        source,
                        producer,
                        &record,
                        key.as_deref(),
                        value.as_deref(),
                        &mut queue,
                    )
                    .await?,
                );
                transaction.records += 1;
            }
            let ends = match self.config.transaction_boundary {
                TransactionBoundary::Poll => true,
                TransactionBoundary::Interval(_) => interval_over(&open),
                TransactionBoundary::Connector => source.end_of_transaction(),
            };
            if ends {
                self.commit(producer, source, open.take()).await?;
            }
        }
        // Stopping: what was polled is committed, so a restarted task resumes after it.
        self.commit(producer, source, open.take()).await
    }

    /// Adds the transaction's positions to it, commits it, and then tells the source.
    /// A failed commit fails the task (which aborts the transaction): its next
    /// instance resumes from the last committed positions, so nothing is lost or
    /// doubled.
    async fn commit(
        &self,
        producer: &FutureProducer,
        source: &mut dyn Source,
        open: Option<Open>,
    ) -> Result<(), ConnectError> {
        let Some(open) = open else {
            return Ok(());
        };
        let positions = open.offsets.entries;
        self.offsets
            .queue(producer, &self.id.connector, &positions)?;
        settle(producer).await?;
        let committing = producer.clone();
        blocking(move || committing.commit_transaction(TRANSACTION_TIMEOUT))
            .await?
            .map_err(|err| transaction_error("cannot commit a transaction", err))?;
        TaskMetrics::add(&self.metrics.records_out, open.records);
        source.commit(&positions).await
    }

    /// Aborts the open transaction, if the producer still can (a fenced one cannot).
    async fn abort(&self, producer: &FutureProducer) {
        let aborting = producer.clone();
        match blocking(move || aborting.abort_transaction(TRANSACTION_TIMEOUT)).await {
            Ok(Ok(())) | Err(_) => {}
            // No transaction open: nothing to abort.
            Ok(Err(err)) if err.rdkafka_error_code() == Some(RDKafkaErrorCode::State) => {}
            Ok(Err(err)) => {
                tracing::warn!(connector = %self.id.connector, task = self.id.task, error = %err, "cannot abort the transaction (a fenced instance's was aborted by its successor; any other is aborted when it times out)")
            }
        }
    }
}

/// Waits until every record of the open transaction was acknowledged or refused.
///
/// The commit would wait for them too, but it flushes by polling the producer's queue
/// in steps of 100 ms while the producer's own thread takes the acknowledgements from
/// it, so every commit took at least one step. A refused record still fails the
/// commit.
async fn settle(producer: &FutureProducer) -> Result<(), ConnectError> {
    const STEP: Duration = Duration::from_millis(1);
    let deadline = Instant::now() + TRANSACTION_TIMEOUT;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(ConnectError::external(format!(
                "records of the transaction not acknowledged within {} s",
                TRANSACTION_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(STEP).await;
    }
    Ok(())
}

/// A transaction call's failure. Being fenced is final: a newer instance of the task
/// runs elsewhere, and this one must stop writing.
fn transaction_error(what: &str, err: KafkaError) -> ConnectError {
    let fenced = matches!(
        err.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::Fenced
        )
    ) || matches!(&err, KafkaError::Transaction(e) if e.is_fatal());
    if fenced {
        kafka_error(
            format!(
                "{what}: this task instance was fenced (a newer instance of the task took over)"
            ),
            err,
        )
        .no_retry()
    } else {
        kafka_error(what.to_string(), err)
    }
}
