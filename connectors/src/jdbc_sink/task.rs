//! The database sink task: each `write` converts the records into row changes,
//! reduces them per key, and writes them in one database transaction; it returns only
//! after the commit, so `flush` has nothing left to wait for and the runtime commits
//! the consumer offsets only after the rows are durable. A replay after a crash (the
//! runtime sends every record since the last commit again) writes the same final rows:
//! upserts and deletes by key are idempotent, and a batch is applied whole or not at
//! all.
//!
//! Errors:
//! - a record that cannot become a row is a [`RecordFailure`] (dead-letter topic or
//!   task failure per `errors.tolerance`), before anything is written;
//! - a database that cannot be reached (or a deadlock) is retried `max.retries` times,
//!   `retry.backoff.ms` apart, on a new connection; then the task fails naming the
//!   server;
//! - a statement the database refuses (rights, types, constraints) fails the batch
//!   with the table, column and server message, and is not retried.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use weir_connect::{ConnectError, RecordFailure, Sink, SinkContext, SinkRecord};

use super::buffer::{ReductionBuffer, TableBatch};
use super::config::JdbcSinkConfig;
use super::connection::{server_message, Db, Fault};
use super::dialect::Dialect;
use super::row::{change, Column, Columns};
use super::schema_evolution::{ensure, Evolution, TableError, TableInfo};
use super::table_name::TableId;
use super::writer::{write_mysql, write_postgres, WriteFailure, WriteSettings};

#[derive(Debug)]
pub(crate) struct JdbcSinkTask {
    config: JdbcSinkConfig,
    settings: WriteSettings,
    /// `None` until the first connect and after any connection failure.
    db: Option<Db>,
    /// Tables as last read from the catalog; dropped whenever a write fails.
    tables: HashMap<TableId, Arc<TableInfo>>,
}

impl JdbcSinkTask {
    pub(crate) fn new(config: JdbcSinkConfig) -> JdbcSinkTask {
        let settings = WriteSettings {
            dialect: Dialect {
                kind: config.url.kind,
                quote: config.quote_identifiers,
            },
            mode: config.insert_mode,
            batch_size: config.batch_size,
        };
        JdbcSinkTask {
            config,
            settings,
            db: None,
            tables: HashMap::new(),
        }
    }

    async fn db(&mut self) -> Result<&mut Db, ConnectError> {
        if self.db.is_none() {
            let db = Db::connect(&self.config).await?;
            tracing::info!(database = %self.config.url, "connected");
            self.db = Some(db);
        }
        Ok(self.db.as_mut().expect("connected above"))
    }

    /// Writes the batch, retrying what a retry can help.
    async fn apply(&mut self, batches: Vec<TableBatch>) -> Result<(), ConnectError> {
        let mut attempt = 0;
        loop {
            match self.try_apply(&batches).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    self.tables.clear();
                    if !err.is_retryable() {
                        return Err(err);
                    }
                    if let Some(db) = self.db.take() {
                        db.close().await;
                    }
                    if attempt >= self.config.max_retries {
                        return Err(ConnectError::external(format!(
                            "giving up on {} after {} retries (max.retries): {}",
                            self.config.url,
                            self.config.max_retries,
                            err.chain()
                        ))
                        .no_retry());
                    }
                    attempt += 1;
                    tracing::warn!(
                        database = %self.config.url,
                        attempt,
                        "writing a batch failed, retrying in {:?}: {}",
                        self.config.retry_backoff,
                        err.chain()
                    );
                    tokio::time::sleep(self.config.retry_backoff).await;
                }
            }
        }
    }

    async fn try_apply(&mut self, batches: &[TableBatch]) -> Result<(), ConnectError> {
        let evolution = Evolution {
            create: self.config.auto_create,
            add_columns: self.config.auto_evolve,
        };
        let dialect = self.settings.dialect;
        let mut planned = Vec::with_capacity(batches.len());
        for batch in batches {
            let wanted = wanted_columns(batch);
            let known = self
                .tables
                .get(&batch.table)
                .filter(|info| wanted.columns.iter().all(|c| info.find(&c.name).is_some()));
            let info = match known {
                Some(info) => Arc::clone(info),
                None => {
                    let db = self.db().await?;
                    // Only deletes for a table that does not exist: nothing to delete,
                    // and no row to create the table from.
                    let evolution = match batch.upserts.is_empty() {
                        true => Evolution {
                            create: false,
                            ..evolution
                        },
                        false => evolution,
                    };
                    let info = match ensure(db, &dialect, evolution, &batch.table, &wanted).await {
                        Ok(info) => Arc::new(info),
                        Err(TableError::Missing(_)) if batch.upserts.is_empty() => continue,
                        Err(err) => return Err(err.into()),
                    };
                    self.tables.insert(batch.table.clone(), Arc::clone(&info));
                    info
                }
            };
            planned.push((batch, info));
        }
        let settings = self.settings;
        let db = self.db().await?;
        let result = match db {
            Db::Postgres(conn) => write_postgres(conn, &settings, &planned).await,
            Db::MySql(conn) => write_mysql(conn, &settings, &planned).await,
        };
        result.map_err(|failure| self.write_error(failure))
    }

    fn write_error(&self, failure: WriteFailure) -> ConnectError {
        let fault = Fault::of(&failure.error);
        let server = server_message(&failure.error);
        let Some(table) = &failure.table else {
            return ConnectError::external(format!(
                "{} failed at {}: {server}",
                failure.statement, self.config.url
            ))
            .with_source(failure.error);
        };
        if fault == Fault::Transient {
            return ConnectError::external(format!(
                "{} on table {table} at {} failed: {server}",
                failure.statement, self.config.url
            ))
            .with_source(failure.error);
        }
        let columns: Vec<String> = failure
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.cast))
            .collect();
        let column = match &failure.column {
            Some(column) => format!(", column {column}"),
            None => String::new(),
        };
        let hint = match &failure.error {
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("42501") | Some("42000") => "check the user's rights on the table",
                Some(code) if code.starts_with("22") => {
                    "the records' values do not fit the column's type: change the column or \
                     the data"
                }
                Some("42P10") => {
                    "the table needs a primary key or a unique index on the key columns"
                }
                _ => "check the table's definition against the records",
            },
            _ => "check the table's definition against the records",
        };
        ConnectError::user(format!(
            "{} refused {} on table {table}{column}: {server} (writing {}) (hint: {hint})",
            self.config.url,
            failure.statement,
            columns.join(", ")
        ))
        .with_source(failure.error)
    }
}

/// Every column a table's changes use, keys first, each typed by its first change.
fn wanted_columns(batch: &TableBatch) -> Columns {
    let mut columns: Vec<Column> = Vec::new();
    let mut key_len = 0;
    for change in batch.upserts.iter().chain(&batch.deletes) {
        if columns.is_empty() {
            key_len = change.columns.key_len;
        }
        for column in &change.columns.columns[..change.cells.len()] {
            if !columns.iter().any(|c| c.name == column.name) {
                columns.push(column.clone());
            }
        }
    }
    Columns { columns, key_len }
}

#[async_trait]
impl Sink for JdbcSinkTask {
    /// Connects early so wrong credentials or a missing database fail the task at
    /// once; an unreachable server only delays the first write, which retries.
    async fn open(&mut self, context: SinkContext) -> Result<(), ConnectError> {
        match self.db().await {
            Ok(_) => Ok(()),
            Err(err) if err.is_retryable() => {
                tracing::warn!(
                    connector = %context.connector,
                    task = context.task,
                    error = %err.chain(),
                    "the database is not reachable yet; the first write will connect"
                );
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    async fn write(&mut self, records: &[SinkRecord]) -> Result<Vec<RecordFailure>, ConnectError> {
        let mut failures = Vec::new();
        let mut buffer = ReductionBuffer::default();
        for (index, record) in records.iter().enumerate() {
            match change(&self.config, record) {
                Ok(Some(change)) => buffer.push(change),
                Ok(None) => {}
                Err(error) => failures.push(RecordFailure { index, error }),
            }
        }
        if buffer.pushed() > 0 {
            self.apply(buffer.drain()).await?;
        }
        Ok(failures)
    }

    async fn flush(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn close(&mut self) -> Result<(), ConnectError> {
        if let Some(db) = self.db.take() {
            db.close().await;
        }
        Ok(())
    }
}
