//! One connection to Redis, and what its failures mean for the pipeline.
//!
//! The connection is redis-rs' multiplexed connection on a socket this module opens,
//! so the timeout and the error messages are Weir's, and the task that drives the
//! socket lives in a `JoinSet` owned here: dropping the connection stops it. A broken
//! connection is never reused; the sink drops it and opens a new one on its next write.
//!
//! Failures are sorted as the runtime needs them: a refused, lost or silent connection
//! is an External error worth retrying; credentials, a missing database or a replica
//! are the user's to fix and are not retried.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, RedisConnectionInfo, RedisError, Value};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use weir_connect::ConnectError;

use super::config::RedisSinkConfig;

/// An open, authenticated connection with its database selected.
#[derive(Debug)]
pub(crate) struct RedisConnection {
    connection: MultiplexedConnection,
    /// The task reading replies off the socket; it ends when the socket closes.
    driver: JoinSet<()>,
    /// `host:port`, for messages.
    address: String,
    timeout: Duration,
}

impl RedisConnection {
    /// Connects, authenticates, selects the database and checks with `PING` that
    /// commands are accepted, all within the configured timeout.
    pub(crate) async fn open(config: &RedisSinkConfig) -> Result<RedisConnection, ConnectError> {
        let uri = &config.uri;
        let address = uri.address();
        let stream = within(config.timeout, &address, "connecting", async {
            TcpStream::connect((uri.host.as_str(), uri.port)).await
        })
        .await?
        .map_err(|e| {
            ConnectError::external(format!("cannot connect to Redis at {address}")).with_source(e)
        })?;
        // Batches are written whole; Nagle's delay would only add latency.
        let _ = stream.set_nodelay(true);
        let info = RedisConnectionInfo {
            db: uri.db,
            username: uri.username.clone(),
            password: config.password.as_ref().map(|s| s.expose().to_string()),
            ..RedisConnectionInfo::default()
        };
        let (mut connection, driver) = within(config.timeout, &address, "authenticating", async {
            MultiplexedConnection::new_with_config(&info, stream, AsyncConnectionConfig::new())
                .await
        })
        .await?
        .map_err(|e| setup_error(config, e))?;
        // The password's copy lives only as long as the handshake.
        drop(info);
        let mut tasks = JoinSet::new();
        tasks.spawn(driver);
        let pong = within(config.timeout, &address, "waiting for PING", async {
            connection.send_packed_command(&redis::cmd("PING")).await
        })
        .await?
        .map_err(|e| lost(&address, "PING", e))?;
        if let Some(error) = ErrorReply::from_value(pong) {
            return Err(server_error(config, &error, "PING", None));
        }
        Ok(RedisConnection {
            connection,
            driver: tasks,
            address,
            timeout: config.timeout,
        })
    }

    /// Whether the socket is known to be closed (the driver task has ended).
    pub(crate) fn is_closed(&mut self) -> bool {
        while self.driver.try_join_next().is_some() {}
        self.driver.is_empty()
    }

    /// Sends a pipeline and returns its `count` replies; a server's error replies are
    /// `Value::ServerError` among them. An `Err` means the connection failed and must
    /// be dropped.
    pub(crate) async fn send(
        &mut self,
        pipeline: &redis::Pipeline,
        count: usize,
    ) -> Result<Vec<Value>, ConnectError> {
        let connection = &mut self.connection;
        let replies = within(self.timeout, &self.address, "waiting for a reply", async {
            connection.send_packed_commands(pipeline, 0, count).await
        })
        .await?;
        replies.map_err(|e| lost(&self.address, "a batch", e))
    }
}

/// Runs `future` with the configured timeout; a timeout is a retryable External error.
async fn within<T>(
    timeout: Duration,
    address: &str,
    doing: &str,
    future: impl std::future::Future<Output = T>,
) -> Result<T, ConnectError> {
    tokio::time::timeout(timeout, future).await.map_err(|_| {
        ConnectError::external(format!(
            "timed out after {} ms {doing} at Redis {address}; raise redis.timeout.ms if Redis \
             is slow",
            timeout.as_millis()
        ))
    })
}

fn lost(address: &str, what: &str, error: RedisError) -> ConnectError {
    ConnectError::external(format!(
        "lost the connection to Redis at {address} while sending {what}"
    ))
    .with_source(error)
}

/// An error while authenticating or selecting the database.
fn setup_error(config: &RedisSinkConfig, error: RedisError) -> ConnectError {
    let address = config.uri.address();
    let user = config.uri.username.as_deref().unwrap_or("default");
    match error.kind() {
        ErrorKind::AuthenticationFailed => ConnectError::user(format!(
            "Redis at {address} refused the password for user '{user}'; check redis.password \
             and redis.username"
        )),
        ErrorKind::ResponseError if error.to_string().contains("database") => {
            ConnectError::user(format!(
                "Redis at {address} has no database {}; the /db in redis.uri must be below the \
                 server's 'databases' setting (16 by default)",
                config.uri.db
            ))
            .with_source(error)
        }
        ErrorKind::IoError => lost(&address, "the handshake", error),
        _ => ConnectError::external(format!("Redis at {address} refused the connection setup"))
            .with_source(error),
    }
}

/// An error reply that fails a connection setup or a whole batch (whose transaction
/// Redis then discarded). `key` is the key of the rejected command, when one is known.
pub(crate) fn server_error(
    config: &RedisSinkConfig,
    error: &ErrorReply,
    command: &str,
    key: Option<&str>,
) -> ConnectError {
    let address = config.uri.address();
    let on_key = key.map(|k| format!(" on key '{k}'")).unwrap_or_default();
    let reply = &error.text;
    match error.code.as_str() {
        "NOAUTH" => ConnectError::user(format!(
            "Redis at {address} requires a password ({reply}); set redis.password"
        )),
        "WRONGPASS" => ConnectError::user(format!(
            "Redis at {address} refused the credentials ({reply}); check redis.password and \
             redis.username"
        )),
        "NOPERM" => ConnectError::user(format!(
            "Redis at {address} does not let user '{}' run {command}{on_key} ({reply}); grant \
             it in the server's ACL or use another redis.username",
            config.uri.username.as_deref().unwrap_or("default")
        )),
        "READONLY" => ConnectError::user(format!(
            "Redis at {address} is a read-only replica ({reply}); point redis.uri at the primary"
        )),
        "MOVED" | "ASK" | "CROSSSLOT" | "CLUSTERDOWN" => ConnectError::user(format!(
            "Redis at {address} is a cluster node ({reply}); Redis Cluster is not supported, \
             point redis.uri at a standalone server"
        )),
        "OOM" | "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" => ConnectError::external(format!(
            "Redis at {address} cannot take writes now: {command}{on_key}: {reply}"
        )),
        _ => ConnectError::user(format!(
            "Redis at {address} rejected {command}{on_key}: {reply}"
        )),
    }
}

/// An error reply from Redis: its code and the whole line, e.g. `WRONGTYPE` and
/// `WRONGTYPE Operation against a key holding the wrong kind of value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorReply {
    pub(crate) code: String,
    pub(crate) text: String,
}

impl ErrorReply {
    /// The error in `value`, when it is an error reply.
    pub(crate) fn from_value(value: Value) -> Option<ErrorReply> {
        if !matches!(value, Value::ServerError(_)) {
            return None;
        }
        let error = value.extract_error().err()?;
        let code = error.code().unwrap_or("ERR").to_string();
        let text = match error.detail() {
            Some(detail) => format!("{code} {detail}"),
            None => code.clone(),
        };
        Some(ErrorReply { code, text })
    }

    /// Whether Redis rejected the command for its own arguments or the data it met,
    /// rather than for the connection's rights or the server's state, which fail every
    /// command alike.
    pub(crate) fn is_about_data(&self) -> bool {
        !matches!(
            self.code.as_str(),
            "NOAUTH"
                | "WRONGPASS"
                | "NOPERM"
                | "READONLY"
                | "MOVED"
                | "ASK"
                | "CROSSSLOT"
                | "CLUSTERDOWN"
                | "OOM"
                | "LOADING"
                | "BUSY"
                | "MASTERDOWN"
                | "TRYAGAIN"
        )
    }
}
