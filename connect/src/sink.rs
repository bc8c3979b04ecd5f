//! The sink contract: write batches to an external system; offsets are committed only
//! after the system accepted them.

use std::fmt;

use async_trait::async_trait;

use crate::{ConnectError, SinkRecord};

/// A sink task: a consumer-group member writing records into an external system.
///
/// The runtime consumes a batch (bounded by `batch.max.records` and `batch.max.ms`),
/// converts and transforms it, calls `write` and then `flush`, and commits the
/// consumer offsets after `flush` returns. On a retryable error from either call the
/// sink must drop whatever it buffered; the runtime waits with backoff and calls
/// `write` again with every record since the last successful `flush`, in the same
/// order, so a key's writes are never lost or reordered. Writes must therefore be safe
/// to repeat (Kafka Connect's at-least-once delivery).
#[async_trait]
pub trait Sink: Send + fmt::Debug {
    async fn open(&mut self, context: SinkContext) -> Result<(), ConnectError>;

    /// Sends or buffers `records`, in order. Records the system rejected for their own
    /// content (not retryable) are returned as failures, so the error policy can skip
    /// them or send them to the dead-letter topic; an `Err` fails the whole batch.
    async fn write(&mut self, records: &[SinkRecord]) -> Result<Vec<RecordFailure>, ConnectError>;

    /// Returns once the system has accepted every record written so far.
    async fn flush(&mut self) -> Result<(), ConnectError>;

    /// Releases connections; called once when the task stops.
    async fn close(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// One record of a batch that the external system rejected.
#[derive(Debug)]
pub struct RecordFailure {
    /// Its index in the slice given to [`Sink::write`].
    pub index: usize,
    pub error: ConnectError,
}

/// What a sink task is told when it opens.
#[derive(Debug, Clone, Default)]
pub struct SinkContext {
    pub connector: String,
    pub task: u32,
}
