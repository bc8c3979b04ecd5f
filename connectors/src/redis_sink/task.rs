//! The Redis sink task: each `write` is one pipelined `MULTI … EXEC` transaction.
//!
//! Why a transaction: Redis applies an `EXEC` whole or not at all, so a batch lost with
//! its connection before Redis read the `EXEC` leaves nothing behind, and the runtime's
//! resend of the batch does not push a list element or a stream entry twice. (If the
//! connection drops after Redis ran the `EXEC` but before its reply arrived, the resend
//! applies the batch again: delivery stays at-least-once, as in Kafka Connect; SET,
//! HSET, SADD, ZADD and the deletes are idempotent, LPUSH, RPUSH and XADD are not.)
//!
//! Why `flush` does nothing: `write` returns only after the `EXEC` reply, which is
//! Redis' acceptance of every command in the batch, so there is never anything
//! buffered to wait for.
//!
//! Errors are sorted by what Redis says about each command:
//! - a record the sink cannot express as a command (a null key for `${key}`, HSET of a
//!   non-object) is a [`RecordFailure`] before anything is sent;
//! - a command Redis rejects while queueing it aborts the transaction, so nothing was
//!   applied: that record becomes a failure and the rest is sent again as a new
//!   transaction, unless the rejection concerns the connection or the server (no
//!   password, a replica, out of memory), which fails the whole batch;
//! - a command that fails inside `EXEC` (WRONGTYPE) did not apply while the others
//!   did, so it is a failure of its record and the batch succeeds.

use async_trait::async_trait;
use redis::Value;
use weir_connect::{ConnectError, RecordFailure, Sink, SinkContext, SinkRecord};

use super::command::{record_write, RecordWrite};
use super::config::RedisSinkConfig;
use super::connection::{server_error, ErrorReply, RedisConnection};

/// A sink task writing records to one Redis server.
#[derive(Debug)]
pub(crate) struct RedisSinkTask {
    config: RedisSinkConfig,
    /// `None` until the first successful connect and after any connection failure.
    connection: Option<RedisConnection>,
}

/// What Redis did with one transaction.
enum Outcome {
    /// `EXEC` ran every command; these (by position in the transaction) failed alone.
    Applied(Vec<(usize, ConnectError)>),
    /// Redis rejected these commands while queueing and discarded the transaction.
    Discarded(Vec<(usize, ConnectError)>),
}

impl RedisSinkTask {
    pub(crate) fn new(config: RedisSinkConfig) -> RedisSinkTask {
        RedisSinkTask {
            config,
            connection: None,
        }
    }

    /// The open connection, reconnecting if there is none or its socket has closed.
    async fn connection(&mut self) -> Result<&mut RedisConnection, ConnectError> {
        if let Some(mut connection) = self.connection.take() {
            if !connection.is_closed() {
                return Ok(self.connection.insert(connection));
            }
            tracing::info!(uri = %self.config.uri, "Redis closed the connection; reconnecting");
        }
        let connection = RedisConnection::open(&self.config).await?;
        tracing::info!(uri = %self.config.uri, "connected to Redis");
        Ok(self.connection.insert(connection))
    }

    async fn transact(&mut self, writes: &[(usize, RecordWrite)]) -> Result<Outcome, ConnectError> {
        let mut pipeline = redis::pipe();
        pipeline.cmd("MULTI");
        for (_, write) in writes {
            pipeline.add_command(write.cmd.clone());
        }
        pipeline.cmd("EXEC");
        let count = writes.len() + 2;
        let connection = self.connection().await?;
        let replies = match connection.send(&pipeline, count).await {
            Ok(replies) if replies.len() == count => replies,
            Ok(replies) => {
                self.connection = None;
                return Err(ConnectError::internal(format!(
                    "Redis sent {} replies to a transaction of {count} commands",
                    replies.len()
                )));
            }
            Err(err) => {
                self.connection = None;
                return Err(err);
            }
        };
        let mut replies = replies.into_iter();
        if let Some(error) = replies.next().and_then(ErrorReply::from_value) {
            return Err(server_error(&self.config, &error, "MULTI", None));
        }
        let mut rejected = Vec::new();
        for (position, reply) in replies.by_ref().take(writes.len()).enumerate() {
            if let Some(error) = ErrorReply::from_value(reply) {
                let write = &writes[position].1;
                if !error.is_about_data() {
                    return Err(server_error(
                        &self.config,
                        &error,
                        write.name,
                        Some(&write.key),
                    ));
                }
                rejected.push((position, rejection(write, &error)));
            }
        }
        let exec = replies.next().unwrap_or(Value::Nil);
        if let Value::Array(results) = exec {
            if results.len() == writes.len() {
                let failed = results
                    .into_iter()
                    .enumerate()
                    .filter_map(|(position, result)| {
                        let error = ErrorReply::from_value(result)?;
                        Some((position, rejection(&writes[position].1, &error)))
                    })
                    .collect();
                return Ok(Outcome::Applied(failed));
            }
        } else if let Some(error) = ErrorReply::from_value(exec) {
            // EXECABORT after rejected commands; otherwise the server refused the whole
            // transaction (e.g. OOM at EXEC) and applied none of it.
            return match rejected.is_empty() {
                false => Ok(Outcome::Discarded(rejected)),
                true => Err(server_error(&self.config, &error, "EXEC", None)),
            };
        }
        self.connection = None;
        Err(ConnectError::internal(format!(
            "Redis at {} answered EXEC with something other than {} replies",
            self.config.uri.address(),
            writes.len()
        )))
    }
}

/// A record's command that Redis refused for its data, e.g. WRONGTYPE.
fn rejection(write: &RecordWrite, error: &ErrorReply) -> ConnectError {
    ConnectError::user(format!(
        "Redis rejected {} on key '{}': {}",
        write.name, write.key, error.text
    ))
}

#[async_trait]
impl Sink for RedisSinkTask {
    /// Connects early so bad credentials or a missing database fail the task at once;
    /// an unreachable server only delays the first write, which connects again.
    async fn open(&mut self, context: SinkContext) -> Result<(), ConnectError> {
        match self.connection().await {
            Ok(_) => Ok(()),
            Err(err) if err.is_retryable() => {
                tracing::warn!(
                    connector = %context.connector,
                    task = context.task,
                    error = %err.chain(),
                    "Redis is not reachable yet; the first write will connect"
                );
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    async fn write(&mut self, records: &[SinkRecord]) -> Result<Vec<RecordFailure>, ConnectError> {
        let mut failures = Vec::new();
        let mut writes = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            match record_write(&self.config, &record.record) {
                Ok(write) => writes.push((index, write)),
                Err(error) => failures.push(RecordFailure { index, error }),
            }
        }
        // Each discarded round removes at least one command, so this ends.
        while !writes.is_empty() {
            match self.transact(&writes).await? {
                Outcome::Applied(failed) => {
                    failures.extend(failed.into_iter().map(|(position, error)| RecordFailure {
                        index: writes[position].0,
                        error,
                    }));
                    break;
                }
                Outcome::Discarded(rejected) => {
                    for (position, error) in rejected.into_iter().rev() {
                        let (index, _) = writes.remove(position);
                        failures.push(RecordFailure { index, error });
                    }
                }
            }
        }
        failures.sort_by_key(|failure| failure.index);
        Ok(failures)
    }

    async fn flush(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn close(&mut self) -> Result<(), ConnectError> {
        self.connection = None;
        Ok(())
    }
}
