//! The source contract: poll records, and commit an upstream position only once the
//! log holds everything before it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use async_trait::async_trait;

use crate::runtime::TaskMetrics;
use crate::{ConnectError, SourceOffset, SourcePartition, SourceRecord};

/// A source task: reads an external system and hands records to the runtime.
///
/// On a worker with exactly-once source support, the records and the positions are
/// written in one transaction instead, and `commit` is called once it committed.
///
/// The runtime calls `open` once, then `poll` in a loop. For each polled batch it
/// applies transforms and converters, produces the records, waits until the log has
/// acknowledged all of them, stores the latest [`SourceOffset`] per partition in the
/// offsets topic, and only then calls `commit` with those positions. A source that
/// must confirm progress upstream (a replication slot) does it in `commit`, never in
/// `poll`. After a crash the task is opened again with the stored positions, so records
/// in flight at the crash are read again (at least once) and nothing is lost.
#[async_trait]
pub trait Source: Send + fmt::Debug {
    /// Starts reading from the positions in `context` (none on a first start).
    async fn open(&mut self, context: SourceContext) -> Result<(), ConnectError>;

    /// The next records, in upstream order. Returns an empty batch within about a
    /// second when there is nothing new, so the runtime can check for shutdown and
    /// pauses. Must not lose records if the runtime stops calling it.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError>;

    /// The log holds every record up to these positions and they are stored.
    async fn commit(
        &mut self,
        offsets: &[(SourcePartition, SourceOffset)],
    ) -> Result<(), ConnectError> {
        let _ = offsets;
        Ok(())
    }

    /// With `transaction.boundary=connector`: whether the records polled so far close
    /// a transaction (a CDC source says so at each upstream transaction's end). Asked
    /// after every batch that was not empty.
    fn end_of_transaction(&mut self) -> bool {
        false
    }

    /// Releases upstream resources; called once when the task stops.
    async fn close(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// What a source task is told when it opens.
#[derive(Debug, Clone, Default)]
pub struct SourceContext {
    pub connector: String,
    pub task: u32,
    /// Stored positions, keyed by the canonical JSON text of the source partition.
    offsets: HashMap<String, SourceOffset>,
    /// The connector's `batch.max.records`: the most records one `poll` should return.
    batch_max_records: Option<usize>,
    /// The task's metrics, for gauges of the connector's own.
    metrics: Option<Arc<TaskMetrics>>,
}

impl SourceContext {
    pub fn new(
        connector: impl Into<String>,
        task: u32,
        offsets: impl IntoIterator<Item = (SourcePartition, SourceOffset)>,
    ) -> SourceContext {
        SourceContext {
            connector: connector.into(),
            task,
            offsets: offsets
                .into_iter()
                .map(|(p, o)| (p.to_string(), o))
                .collect(),
            batch_max_records: None,
            metrics: None,
        }
    }

    /// Lets the task register gauges on the worker's `/metrics`.
    pub fn with_metrics(mut self, metrics: Arc<TaskMetrics>) -> SourceContext {
        self.metrics = Some(metrics);
        self
    }

    /// A gauge of this task on the worker's `/metrics` (see [`TaskMetrics::gauge`]);
    /// one that nothing renders when the runtime gave no metrics (a test).
    pub fn gauge(&self, name: &'static str, help: &'static str) -> Arc<AtomicI64> {
        match &self.metrics {
            Some(metrics) => metrics.gauge(name, help),
            None => Arc::new(AtomicI64::new(0)),
        }
    }

    /// Sets the most records one `poll` should return (`batch.max.records`).
    pub fn with_batch_max_records(mut self, records: usize) -> SourceContext {
        self.batch_max_records = Some(records.max(1));
        self
    }

    /// The connector's `batch.max.records`, when the runtime set it.
    pub fn batch_max_records(&self) -> Option<usize> {
        self.batch_max_records
    }

    /// The stored position for `partition`, if any.
    pub fn offset(&self, partition: &SourcePartition) -> Option<&SourceOffset> {
        self.offsets.get(&partition.to_string())
    }

    /// Every stored position, as (partition text, offset).
    pub fn offsets(&self) -> impl Iterator<Item = (&str, &SourceOffset)> {
        self.offsets.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl fmt::Display for SourceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}
