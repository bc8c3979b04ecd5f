//! Reading a compacted topic from its beginning for as long as the worker runs, as
//! Kafka Connect's `KafkaBasedLog`: a consumer without a group, assigned every
//! partition, so every worker sees every record.
//!
//! The tail knows how far it has read per partition. At start it notes each
//! partition's end; records before it are history (written before this worker
//! started), and the worker waits until the tail has read that far before it acts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtime::RuntimeSettings;
use crate::ConnectError;

use super::kafka::partitions;
use crate::kafka::{blocking, client_config, cluster_error, ReadToEndContext, REQUEST_TIMEOUT};

/// Handed every record read: key, value (`None`: tombstone), and whether it was
/// written after this worker started.
pub(crate) type Apply = Box<dyn FnMut(&str, Option<&[u8]>, bool) + Send>;

/// How far a running tail has read.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    topic: String,
    /// Per partition, the offset after the last record applied.
    position: watch::Receiver<BTreeMap<i32, i64>>,
    /// Per partition, the end when the tail started.
    start_end: BTreeMap<i32, i64>,
}

impl Tail {
    /// Starts reading `topic` in a task of `tracker` that stops with `cancel`.
    pub(crate) async fn start(
        settings: &RuntimeSettings,
        topic: &str,
        tracker: &TaskTracker,
        cancel: CancellationToken,
        mut apply: Apply,
    ) -> Result<Tail, ConnectError> {
        // librdkafka assigns partitions only to a consumer with a group id. The tail
        // never joins the group nor commits to it, so the id is only a label.
        let consumer: StreamConsumer<ReadToEndContext> = client_config(settings)
            .set("group.id", format!("{topic}-tail-{}", settings.worker_id))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .create_with_context(ReadToEndContext)
            .map_err(|e| cluster_error(&format!("cannot read topic {topic}"), settings, e))?;
        let consumer = Arc::new(consumer);
        let (probe, name) = (consumer.clone(), topic.to_string());
        let start_end = blocking(move || -> Result<BTreeMap<i32, i64>, String> {
            let mut ends = BTreeMap::new();
            for partition in partitions(probe.client(), &name)? {
                let (_, high) = probe
                    .fetch_watermarks(&name, partition, REQUEST_TIMEOUT)
                    .map_err(|e| e.to_string())?;
                ends.insert(partition, high);
            }
            Ok(ends)
        })
        .await?
        .map_err(|e| {
            ConnectError::external(format!(
                "cannot find the end of topic {topic} on the Kafka cluster at {}: {e}",
                settings.bootstrap_servers
            ))
        })?;

        let mut assignment = TopicPartitionList::new();
        for partition in start_end.keys() {
            assignment
                .add_partition_offset(topic, *partition, Offset::Beginning)
                .map_err(|e| cluster_error(&format!("cannot read topic {topic}"), settings, e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| cluster_error(&format!("cannot read topic {topic}"), settings, e))?;

        let (position_tx, position) = watch::channel(BTreeMap::new());
        let ends = start_end.clone();
        let name = topic.to_string();
        tracker.spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = cancel.cancelled() => break,
                    message = consumer.recv() => message,
                };
                match message {
                    Ok(message) => {
                        let partition = message.partition();
                        let live = message.offset() >= ends.get(&partition).copied().unwrap_or(0);
                        match message.key().map(std::str::from_utf8) {
                            Some(Ok(key)) => apply(key, message.payload(), live),
                            _ => tracing::warn!(
                                topic = %name,
                                offset = message.offset(),
                                "skipping a record without a text key"
                            ),
                        }
                        let next = message.offset() + 1;
                        position_tx.send_modify(|p| {
                            p.insert(partition, next);
                        });
                    }
                    // Read everything there is: at least as far as the start's end.
                    Err(KafkaError::PartitionEOF(partition)) => {
                        let end = ends.get(&partition).copied().unwrap_or(0);
                        position_tx.send_if_modified(|p| {
                            let at = p.entry(partition).or_insert(0);
                            let moved = *at < end;
                            *at = (*at).max(end);
                            moved
                        });
                    }
                    Err(err) => {
                        tracing::warn!(topic = %name, error = %err, "reading a worker topic failed; retrying");
                        tokio::select! {
                            _ = cancel.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
        });
        Ok(Tail {
            topic: topic.to_string(),
            position,
            start_end,
        })
    }

    /// Waits until the tail has read what was in the topic when it started.
    pub(crate) async fn caught_up(&self, timeout: Duration) -> Result<(), ConnectError> {
        let ends = self.start_end.clone();
        self.wait(timeout, move |p| {
            ends.iter()
                .all(|(partition, end)| p.get(partition).copied().unwrap_or(0) >= *end)
        })
        .await
        .map_err(|_| {
            ConnectError::external(format!(
                "could not read topic {} to its end within {timeout:?}",
                self.topic
            ))
        })
    }

    /// Waits until the tail has read past `offset` of `partition`.
    pub(crate) async fn applied(
        &self,
        partition: i32,
        offset: i64,
        timeout: Duration,
    ) -> Result<(), ConnectError> {
        self.wait(timeout, move |p| {
            p.get(&partition).is_some_and(|at| *at > offset)
        })
        .await
        .map_err(|_| {
            ConnectError::external(format!(
                "wrote to topic {} but did not read the write back within {timeout:?}",
                self.topic
            ))
        })
    }

    async fn wait(
        &self,
        timeout: Duration,
        done: impl FnMut(&BTreeMap<i32, i64>) -> bool,
    ) -> Result<(), ()> {
        let mut position = self.position.clone();
        let reached =
            tokio::time::timeout(timeout, async { position.wait_for(done).await.map(|_| ()) })
                .await;
        match reached {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }
}
