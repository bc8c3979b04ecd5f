//! The Elasticsearch sink task: each `write` turns the batch into bulk requests, sends
//! them, and returns once the server has accepted every record or the record's failure
//! is known — so `flush` has nothing left to wait for, and the runtime commits offsets
//! only for records the server holds.
//!
//! Pipelining without reordering: the batch is cut, in order, into bulk requests of at
//! most `batch.size` actions and `bulk.size.bytes` bytes, and up to
//! `max.in.flight.requests` of them are in flight at once — but a request waits while
//! an earlier unfinished one touches any of its documents (same index and id). Two
//! writes of one document are therefore never in flight together, and they reach the
//! server in record order; documents that do not share requests go in parallel. (With
//! `key.ignore` every id is new, so requests never wait for one another.)
//!
//! Retries: a request that fails as a whole (no connection, a timeout, 429, 5xx) is
//! sent again after `retry.backoff.ms`, doubling, up to `max.retries` times; items the
//! server refused with 429 or 5xx are sent again the same way, each together with the
//! later actions of the same request on the same document, so the last write still
//! lands last. After `max.retries` the batch fails with a retryable error and the
//! runtime writes it again whole, after its own backoff, for as long as it takes: a
//! server that is down holds the pipeline back (records wait in the topic) and loses
//! nothing. Writing a batch again is harmless: keyed index and delete actions carry the
//! record offset as an external version, so the server refuses (409, counted as done)
//! whatever it already has; `key.ignore` ids name one record each; upserts of the same
//! values converge to the same document.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use weir_connect::{ConnectError, RecordFailure, Sink, SinkContext, SinkRecord};

use super::action::{prepare, Action, Op, Prepared};
use super::client::Client;
use super::config::{ElasticsearchSinkConfig, Malformed};
use super::response::{error_body, read_bulk, ItemOutcome, Sent};

/// The longest wait between two retries of a request.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct ElasticsearchSinkTask {
    config: Arc<ElasticsearchSinkConfig>,
    client: Client,
    context: SinkContext,
}

/// One bulk request's share of the batch.
struct Chunk {
    actions: Range<usize>,
    documents: HashSet<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
}

impl ElasticsearchSinkTask {
    pub(crate) fn new(config: ElasticsearchSinkConfig) -> ElasticsearchSinkTask {
        let client = Client::new(&config);
        ElasticsearchSinkTask {
            config: Arc::new(config),
            client,
            context: SinkContext::default(),
        }
    }

    async fn write_batch(
        &self,
        records: &[SinkRecord],
    ) -> Result<Vec<RecordFailure>, ConnectError> {
        let mut failures = Vec::new();
        let mut actions: Vec<(usize, Action)> = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            match prepare(&self.config, record) {
                Prepared::Action(action) => actions.push((index, action)),
                Prepared::Skip => {}
                Prepared::Malformed(error) => self.malformed(index, error, &mut failures),
                Prepared::Fail(error) => failures.push(RecordFailure { index, error }),
            }
        }
        let chunks = self.chunks(&actions);
        let outcomes = self.send_chunks(&actions, &chunks).await?;
        for ((index, action), outcome) in actions.iter().zip(outcomes) {
            let index = *index;
            match outcome {
                ItemOutcome::Done => {}
                ItemOutcome::Malformed(reason) => {
                    let error = ConnectError::user(format!(
                        "Elasticsearch rejected document '{}' for index '{}': {reason}",
                        action.id, action.index
                    ));
                    self.malformed(index, error, &mut failures);
                }
                ItemOutcome::Rejected(reason) => failures.push(RecordFailure {
                    index,
                    error: ConnectError::user(format!(
                        "Elasticsearch rejected the {} of document '{}' in index '{}': {reason}",
                        action.op.name(),
                        action.id,
                        action.index
                    )),
                }),
                // `send_chunk` resolves these or fails the batch.
                ItemOutcome::Retry(_) | ItemOutcome::Blocked(_) => {
                    return Err(ConnectError::internal(
                        "a bulk item was left unresolved after its retries",
                    ))
                }
            }
        }
        failures.sort_by_key(|failure| failure.index);
        Ok(failures)
    }

    fn malformed(&self, index: usize, error: ConnectError, failures: &mut Vec<RecordFailure>) {
        match self.config.malformed {
            Malformed::Ignore => {
                tracing::debug!(connector = %self.context.connector, task = self.context.task, "skipping a malformed document (behavior.on.malformed.documents=ignore): {error}");
            }
            Malformed::Warn => {
                tracing::warn!(connector = %self.context.connector, task = self.context.task, "skipping a malformed document (behavior.on.malformed.documents=warn): {error}");
            }
            Malformed::Fail => failures.push(RecordFailure { index, error }),
        }
    }

    /// Cuts the actions, in order, into bulk requests within both size limits.
    fn chunks(&self, actions: &[(usize, Action)]) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (position, (_, action)) in actions.iter().enumerate() {
            let full = position - start >= self.config.batch_size
                || (position > start && bytes + action.lines.len() > self.config.bulk_size_bytes);
            if full {
                chunks.push(chunk(actions, start..position));
                start = position;
                bytes = 0;
            }
            bytes += action.lines.len();
        }
        if start < actions.len() {
            chunks.push(chunk(actions, start..actions.len()));
        }
        chunks
    }

    /// Sends every chunk, at most `max.in.flight.requests` at once, never two at once
    /// that touch one document; the outcome of every action, in order.
    async fn send_chunks(
        &self,
        actions: &[(usize, Action)],
        chunks: &[Chunk],
    ) -> Result<Vec<ItemOutcome>, ConnectError> {
        let mut outcomes = vec![ItemOutcome::Done; actions.len()];
        let mut states = vec![State::Pending; chunks.len()];
        let mut running = FuturesUnordered::new();
        loop {
            for i in 0..chunks.len() {
                if running.len() >= self.config.max_in_flight {
                    break;
                }
                if states[i] != State::Pending {
                    continue;
                }
                let waits = (0..i).any(|j| {
                    states[j] != State::Done && overlap(&chunks[j].documents, &chunks[i].documents)
                });
                if waits {
                    continue;
                }
                states[i] = State::Running;
                let range = chunks[i].actions.clone();
                running.push(async move { (i, self.send_chunk(&actions[range]).await) });
            }
            match running.next().await {
                None => return Ok(outcomes),
                Some((i, Ok(chunk_outcomes))) => {
                    states[i] = State::Done;
                    let range = chunks[i].actions.clone();
                    for (slot, outcome) in outcomes[range].iter_mut().zip(chunk_outcomes) {
                        *slot = outcome;
                    }
                }
                // Dropping `running` abandons the other requests; the runtime writes
                // the batch again, which the versions make harmless.
                Some((_, Err(err))) => return Err(err),
            }
        }
    }

    /// One bulk request with its retries: the final outcome of each action.
    async fn send_chunk(
        &self,
        actions: &[(usize, Action)],
    ) -> Result<Vec<ItemOutcome>, ConnectError> {
        let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; actions.len()];
        let mut pending: Vec<usize> = (0..actions.len()).collect();
        let mut attempt = 0u32;
        loop {
            let reason = match self.attempt(actions, &pending).await? {
                Attempt::Items(items) => {
                    let mut retry: Vec<usize> = Vec::new();
                    let mut retried: HashSet<(&str, &str)> = HashSet::new();
                    let mut last_reason = String::new();
                    for (&position, item) in pending.iter().zip(items) {
                        let action = &actions[position].1;
                        let document = (action.index.as_str(), action.id.as_str());
                        match item {
                            ItemOutcome::Retry(reason) | ItemOutcome::Blocked(reason) => {
                                last_reason = reason;
                                retried.insert(document);
                                retry.push(position);
                            }
                            // A later write of a document whose earlier write is sent
                            // again must follow it again, or the earlier would win.
                            _ if retried.contains(&document) => retry.push(position),
                            outcome => outcomes[position] = Some(outcome),
                        }
                    }
                    if retry.is_empty() {
                        return Ok(outcomes
                            .into_iter()
                            .map(|o| o.unwrap_or(ItemOutcome::Done))
                            .collect());
                    }
                    pending = retry;
                    format!("{} of its actions: {last_reason}", pending.len())
                }
                Attempt::Failed(err) => err.chain(),
            };
            if attempt >= self.config.max_retries {
                return Err(ConnectError::external(format!(
                    "a bulk request of {} actions was not accepted after {} retries \
                     (max.retries); the batch will be written again: {reason}",
                    pending.len(),
                    self.config.max_retries
                )));
            }
            let delay = backoff(self.config.retry_backoff, attempt);
            tracing::warn!(connector = %self.context.connector, task = self.context.task, attempt = attempt + 1, delay_ms = delay.as_millis() as u64, "retrying a bulk request: {reason}");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Sends the actions at `positions` as one bulk request.
    async fn attempt(
        &self,
        actions: &[(usize, Action)],
        positions: &[usize],
    ) -> Result<Attempt, ConnectError> {
        let size = positions.iter().map(|&p| actions[p].1.lines.len()).sum();
        let mut body = Vec::with_capacity(size);
        let mut sent = Vec::with_capacity(positions.len());
        for &position in positions {
            let action = &actions[position].1;
            body.extend_from_slice(&action.lines);
            sent.push(Sent {
                conflict_is_done: action.version.is_some() || action.op == Op::Create,
                delete: action.op == Op::Delete,
            });
        }
        let response = match self.client.bulk(Bytes::from(body)).await {
            Ok(response) => response,
            Err(err) if err.is_retryable() => return Ok(Attempt::Failed(err)),
            Err(err) => return Err(err),
        };
        let status = response.status;
        match status {
            200..=299 => match read_bulk(&response.body, &sent) {
                Ok(items) => Ok(Attempt::Items(items)),
                Err(err) => Ok(Attempt::Failed(ConnectError::external(format!(
                    "Elasticsearch at {} answered a bulk request with something else: {err}",
                    response.host
                )))),
            },
            429 | 500..=599 => Ok(Attempt::Failed(ConnectError::external(format!(
                "Elasticsearch at {} could not take a bulk request: {}",
                response.host,
                error_body(status, &response.body)
            )))),
            401 | 403 => Err(ConnectError::user(format!(
                "Elasticsearch at {} refused the request: {} (check connection.username and \
                 connection.password, and that the user may write to the indexes)",
                response.host,
                error_body(status, &response.body)
            ))
            .no_retry()),
            413 => Err(ConnectError::user(format!(
                "Elasticsearch at {} refused a bulk request of {size} bytes as too large: {} \
                 (lower bulk.size.bytes or batch.size)",
                response.host,
                error_body(status, &response.body)
            ))
            .no_retry()),
            _ => Err(ConnectError::user(format!(
                "Elasticsearch at {} refused a bulk request: {}",
                response.host,
                error_body(status, &response.body)
            ))
            .no_retry()),
        }
    }
}

/// What one bulk request came to.
enum Attempt {
    /// The server read it: one outcome per action sent.
    Items(Vec<ItemOutcome>),
    /// It failed as a whole, in a way a retry may mend.
    Failed(ConnectError),
}

fn chunk(actions: &[(usize, Action)], range: Range<usize>) -> Chunk {
    let documents = actions[range.clone()]
        .iter()
        .map(|(_, a)| (a.index.clone(), a.id.clone()))
        .collect();
    Chunk {
        actions: range,
        documents,
    }
}

fn overlap(a: &HashSet<(String, String)>, b: &HashSet<(String, String)>) -> bool {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.iter().any(|d| large.contains(d))
}

/// `base * 2^attempt`, at most [`MAX_BACKOFF`], with up to a quarter of jitter so
/// several tasks do not retry in step.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let delay = base
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let quarter = delay.as_nanos() as u64 / 4;
    delay
        + Duration::from_nanos(if quarter == 0 {
            0
        } else {
            u64::from(nanos) % quarter
        })
}

#[async_trait]
impl Sink for ElasticsearchSinkTask {
    /// Asks the server who it is, so wrong credentials fail the task at once; a server
    /// that cannot be reached only delays the first write, which tries again.
    async fn open(&mut self, context: SinkContext) -> Result<(), ConnectError> {
        self.context = context;
        match self.client.get_root().await {
            Ok(response) if response.status == 200 => {
                let about: serde_json::Value =
                    serde_json::from_slice(&response.body).unwrap_or_default();
                tracing::info!(
                    connector = %self.context.connector, task = self.context.task, server = %response.host,
                    version = about["version"]["number"].as_str().unwrap_or("unknown"),
                    distribution = about["version"]["distribution"].as_str().unwrap_or("elasticsearch"),
                    "connected to Elasticsearch"
                );
                Ok(())
            }
            Ok(response) if response.status == 401 || response.status == 403 => {
                Err(ConnectError::user(format!(
                    "Elasticsearch at {} refused the credentials: {} (check connection.username \
                     and connection.password)",
                    response.host,
                    error_body(response.status, &response.body)
                ))
                .no_retry())
            }
            Ok(response) => {
                tracing::warn!(connector = %self.context.connector, task = self.context.task, server = %response.host, "Elasticsearch answered GET / with {}", error_body(response.status, &response.body));
                Ok(())
            }
            Err(err) if err.is_retryable() => {
                tracing::warn!(connector = %self.context.connector, task = self.context.task, error = %err.chain(), "Elasticsearch is not reachable yet; the first write will try again");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    async fn write(&mut self, records: &[SinkRecord]) -> Result<Vec<RecordFailure>, ConnectError> {
        let timeout = self.config.flush_timeout;
        match tokio::time::timeout(timeout, self.write_batch(records)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::external(format!(
                "Elasticsearch did not accept a batch of {} records within {} ms \
                 (flush.timeout.ms); it will be written again",
                records.len(),
                timeout.as_millis()
            ))),
        }
    }

    /// Nothing is buffered: `write` returns only once the server has answered for
    /// every record.
    async fn flush(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for (attempt, low) in [(0, 100), (1, 200), (3, 800), (10, 10_000)] {
            let delay = backoff(base, attempt);
            let low = Duration::from_millis(low);
            assert!(
                delay >= low && delay <= low + low / 4,
                "{attempt}: {delay:?}"
            );
        }
        assert_eq!(backoff(Duration::ZERO, 3), Duration::ZERO);
    }
}
