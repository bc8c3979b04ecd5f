//! The replication connection: slot creation with an exported snapshot, the pgoutput
//! stream, and the flush position reported back to the server. The position only
//! moves when the task confirms one, which it does only for changes the log holds.

use std::time::Duration;

use bytes::Bytes;
use pgwire_replication::{
    Lsn, PgWireError, ReplicationClient, ReplicationConfig, ReplicationEvent,
};
use weir_connect::ConnectError;

use super::catalog::{format_lsn, parse_lsn, SESSION_SETTINGS};
use super::config::PostgresConfig;
use super::pgoutput::{self, Message};

/// What the stream delivers, in WAL order.
#[derive(Debug)]
pub(crate) enum Event {
    Begin {
        final_lsn: u64,
        xid: u32,
        commit_time_us: i64,
    },
    Commit {
        commit_lsn: u64,
        end_lsn: u64,
    },
    /// A decoded pgoutput message within a transaction; `lsn` is the change's WAL
    /// position.
    Change {
        lsn: u64,
        message: Message,
    },
    /// `pg_logical_emit_message`.
    LogicalMessage {
        transactional: bool,
        lsn: u64,
        prefix: String,
        content: Bytes,
    },
    /// The server's WAL end, sent when it has nothing more for now.
    KeepAlive {
        wal_end: u64,
    },
}

/// A slot the connector just created.
#[derive(Debug)]
pub(crate) struct CreatedSlot {
    pub(crate) consistent_point: u64,
    /// The exported snapshot's name, valid until the replication session runs its
    /// next command.
    pub(crate) snapshot: Option<String>,
}

/// One replication session.
pub(crate) struct ReplicationStream {
    client: ReplicationClient,
    started: bool,
    confirmed: u64,
    slot: String,
}

fn replication_config(config: &PostgresConfig, start: u64) -> ReplicationConfig {
    let options = SESSION_SETTINGS
        .iter()
        .map(|(k, v)| format!("-c {k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    ReplicationConfig::new(
        config.hostname.clone(),
        config.user.clone(),
        config.password.clone(),
        config.dbname.clone(),
        config.slot_name.clone(),
        config.publication_name.clone(),
    )
    .with_port(config.port)
    .with_tls(pgwire_replication::TlsConfig::disabled())
    .with_start_lsn(Lsn::from_u64(start))
    .with_ack_lsn(Lsn::from_u64(start))
    .with_status_interval(config.status_update_interval)
    .with_wakeup_interval(Duration::from_secs(1))
    .with_buffer_size(config.max_queue_size)
    .with_options(options)
    .with_application_name("weir-postgres-cdc")
}

impl std::fmt::Debug for ReplicationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationStream")
            .field("slot", &self.slot)
            .field("started", &self.started)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

impl ReplicationStream {
    /// A session that has authenticated and waits before streaming, for slot creation.
    /// `start` is where streaming will begin (0: the slot's confirmed position).
    pub(crate) async fn connect(
        config: &PostgresConfig,
        start: u64,
    ) -> Result<ReplicationStream, ConnectError> {
        let client = ReplicationClient::connect_gated(replication_config(config, start))
            .await
            .map_err(|e| replication_error(config, e))?;
        Ok(ReplicationStream {
            client,
            started: false,
            confirmed: start,
            slot: config.slot_name.clone(),
        })
    }

    /// Creates the slot; with `export`, also exports a snapshot at its starting point
    /// for the initial snapshot to read.
    pub(crate) async fn create_slot(
        &mut self,
        config: &PostgresConfig,
        export: bool,
    ) -> Result<CreatedSlot, ConnectError> {
        let sql = format!(
            "CREATE_REPLICATION_SLOT \"{}\" LOGICAL pgoutput (SNAPSHOT '{}')",
            self.slot,
            if export { "export" } else { "nothing" }
        );
        let rows = self
            .client
            .simple_query(&sql)
            .await
            .map_err(|e| replication_error(config, e))?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| ConnectError::external("CREATE_REPLICATION_SLOT returned no row"))?;
        let text = |i: usize| {
            row.get(i)
                .and_then(|v| v.as_ref())
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let consistent_point = text(1).and_then(|t| parse_lsn(&t)).ok_or_else(|| {
            ConnectError::external("CREATE_REPLICATION_SLOT returned no consistent point")
        })?;
        self.confirmed = consistent_point;
        Ok(CreatedSlot {
            consistent_point,
            snapshot: text(2),
        })
    }

    /// Starts streaming.
    pub(crate) async fn start(&mut self, config: &PostgresConfig) -> Result<(), ConnectError> {
        if self.started {
            return Ok(());
        }
        self.client
            .start()
            .await
            .map_err(|e| replication_error(config, e))?;
        self.client
            .wait_started()
            .await
            .map_err(|e| replication_error(config, e))?;
        self.started = true;
        tracing::info!(slot = %self.slot, from = %format_lsn(self.confirmed), "streaming changes");
        Ok(())
    }

    /// The next event, or `None` when nothing arrived within `wait`.
    pub(crate) async fn next(
        &mut self,
        config: &PostgresConfig,
        wait: Duration,
    ) -> Result<Option<Event>, ConnectError> {
        let event = match tokio::time::timeout(wait, self.client.recv()).await {
            Err(_) => return Ok(None),
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) => {
                return Err(ConnectError::external(
                    "the replication stream ended: the server closed it",
                ))
            }
            Ok(Err(e)) => return Err(replication_error(config, e)),
        };
        Ok(Some(match event {
            ReplicationEvent::Begin {
                final_lsn,
                xid,
                commit_time_micros,
            } => Event::Begin {
                final_lsn: final_lsn.as_u64(),
                xid,
                commit_time_us: commit_time_micros,
            },
            ReplicationEvent::Commit { lsn, end_lsn, .. } => Event::Commit {
                commit_lsn: lsn.as_u64(),
                end_lsn: end_lsn.as_u64(),
            },
            ReplicationEvent::XLogData {
                wal_start, data, ..
            } => {
                let message = pgoutput::decode(&data).map_err(|e| {
                    ConnectError::external(format!(
                        "a pgoutput message at {} could not be read: {e}",
                        format_lsn(wal_start.as_u64())
                    ))
                    .no_retry()
                })?;
                Event::Change {
                    lsn: wal_start.as_u64(),
                    message,
                }
            }
            ReplicationEvent::Message {
                transactional,
                lsn,
                prefix,
                content,
            } => Event::LogicalMessage {
                transactional,
                lsn: lsn.as_u64(),
                prefix,
                content,
            },
            ReplicationEvent::KeepAlive { wal_end, .. } => Event::KeepAlive {
                wal_end: wal_end.as_u64(),
            },
            ReplicationEvent::StoppedAt { reached } => {
                return Err(ConnectError::internal(format!(
                    "the replication stream stopped at {reached}, and no stop was asked for"
                )))
            }
        }))
    }

    /// Reports `lsn` as flushed: the server may release WAL before it. Never moves
    /// back.
    pub(crate) fn confirm(&mut self, lsn: u64) {
        if lsn > self.confirmed {
            self.confirmed = lsn;
            self.client.update_applied_lsn(Lsn::from_u64(lsn));
        }
    }

    /// Ends the session, sending the last confirmed position first.
    pub(crate) async fn close(mut self) {
        if let Err(e) = self.client.shutdown().await {
            tracing::debug!(slot = %self.slot, "closing the replication session: {e}");
        }
    }
}

/// A replication failure, explained where the cause is known.
fn replication_error(config: &PostgresConfig, error: PgWireError) -> ConnectError {
    let slot = &config.slot_name;
    let text = error.to_string();
    let user = |message: String| ConnectError::user(message).with_source(error.clone());
    if text.contains("is active for PID") {
        return ConnectError::external(format!(
            "the replication slot '{slot}' is in use by another process ({text}): stop the \
             other consumer, or give this connector its own slot.name"
        ))
        .with_source(error);
    }
    if text.contains("publication") && text.contains("does not exist") {
        return user(format!(
            "the publication '{}' does not exist (was it dropped?): create it again, or set \
             publication.autocreate.mode=all_tables or filtered so the connector creates it",
            config.publication_name
        ));
    }
    if text.contains("replication slot") && text.contains("does not exist") {
        return user(format!(
            "the replication slot '{slot}' does not exist (was it dropped?): changes since the \
             stored position are gone; set snapshot.mode=when_needed to snapshot again"
        ));
    }
    if text.contains("can no longer get changes") || text.contains("has been invalidated") {
        return user(format!(
            "the replication slot '{slot}' is lost: the server removed WAL it still needed \
             (max_slot_wal_keep_size). Drop the slot and the stored offsets and snapshot again \
             (snapshot.mode=when_needed does it)"
        ));
    }
    if error.is_auth() || text.contains("28P01") || text.contains("password authentication") {
        return user(format!(
            "PostgreSQL refused the replication login of '{}': check database.user and \
             database.password ({text})",
            config.user
        ));
    }
    if text.contains("42501")
        || text.contains("must be superuser or replication role")
        || text.contains("permission denied")
    {
        return user(format!(
            "the user '{}' may not use replication ({text}): ALTER ROLE \"{}\" REPLICATION",
            config.user, config.user
        ));
    }
    if text.contains("pg_hba.conf") {
        return user(format!(
            "PostgreSQL's pg_hba.conf refuses replication connections from this host for '{}': \
             add a `host replication {} <address> scram-sha-256` line ({text})",
            config.user, config.user
        ));
    }
    ConnectError::external(format!(
        "the replication connection to {}:{} failed: {text}",
        config.hostname, config.port
    ))
    .with_source(error)
}
