//! Incremental snapshots: tables named by an `execute-snapshot` signal are read in
//! primary-key order, `incremental.snapshot.chunk.size` rows at a time, while the
//! stream goes on — DBLog's watermark algorithm, as Debezium runs it.
//!
//! For each chunk a `snapshot-window-open` row is written to the signal table, the
//! chunk is read into a buffer keyed by record key, and a `snapshot-window-close` row
//! is written, each in its own autocommit transaction on a connection of its own.
//! When the stream reaches the open marker the window opens: every streamed change
//! of the table whose key is buffered drops that row (the streamed event is newer or
//! as new). At the close marker the rows left are emitted as `r` events with
//! `source.snapshot` = `incremental`, and the next chunk is read. A row read is thus
//! never emitted after a change the stream delivered later, and a deleted row never
//! comes back.
//!
//! Progress — the tables left, the last key read and the table's maximum key when
//! its snapshot began — rides in every record's offset under Debezium's names, so a
//! restarted task reads the chunk after the last one the log holds. The rows of one
//! chunk carry the progress from before it until the last of them: a restart inside
//! a chunk reads it again.
//!
//! All database work happens in [`IncrementalSnapshot::step`], which the task calls
//! before reading the stream; what the stream delivers only changes state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use sqlx::PgConnection;
use weir_connect::{ConnectError, Data, Record, SourceContext, SourceOffset};

use super::catalog::{self, ident, CatalogTable};
use super::config::{PostgresConfig, Watermarking};
use super::events::{self, Change, EventContext, SnapshotMarker, SourceInfo};
use super::pgoutput::{Message, Relation};
use super::position::INCREMENTAL_COLLECTIONS;
use super::registry::TableRegistry;
use super::signal::{self, Signal, SignalRow, SnapshotRequest};
use super::table::Table;

mod progress;
mod sql;

use self::progress::{Collection, Progress};

use self::sql::StepError::{Fail, Skip};
use self::sql::{
    columns, execute, key_order, key_tuple, literal, max_key, read, values, StepError,
};

/// The table being read, as the catalog describes it now.
#[derive(Debug)]
struct Current {
    id: String,
    table: Arc<Table>,
    from: String,
    /// Every column, in the order rows are read.
    columns: Vec<String>,
    /// Indexes into `columns` of the primary key.
    key: Vec<usize>,
}

/// A chunk read and waiting for its close marker.
#[derive(Debug)]
struct Window {
    chunk: String,
    /// The stream passed the open marker.
    open: bool,
    table: Arc<Table>,
    /// Rows in key order; a row dropped by a streamed change is `None`.
    rows: Vec<Option<(Bytes, Vec<u8>)>>,
    by_key: HashMap<Bytes, usize>,
    /// The primary key of the chunk's last row.
    last_key: Vec<String>,
    /// The table is done after this chunk.
    last_chunk: bool,
}

/// Makes chunk ids unique across the tasks of one process.
static CHUNKS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub(crate) struct IncrementalSnapshot {
    config: Arc<PostgresConfig>,
    events: Arc<EventContext>,
    /// The signal table's relation, once the stream described it.
    signal_oid: Option<u32>,
    conn: Option<PgConnection>,
    progress: Progress,
    /// The progress after a chunk whose rows are being handed out.
    after_chunk: Option<Progress>,
    /// `progress` as offset fields; empty when no snapshot runs.
    fields: Vec<(&'static str, Value)>,
    /// Signals read and not yet looked up in the catalog.
    requests: Vec<(String, SnapshotRequest)>,
    paused: bool,
    current: Option<Current>,
    window: Option<Window>,
    /// Unique per task start, the prefix of its chunk ids.
    session: String,
    rows_read: Arc<AtomicI64>,
    table_rows: u64,
}

impl IncrementalSnapshot {
    pub(crate) fn new(config: Arc<PostgresConfig>, events: Arc<EventContext>) -> Self {
        let now = events::now_us();
        IncrementalSnapshot {
            config,
            events,
            signal_oid: None,
            conn: None,
            progress: Progress::default(),
            after_chunk: None,
            fields: Vec::new(),
            requests: Vec::new(),
            paused: false,
            current: None,
            window: None,
            session: format!("{:x}-{:x}", now, std::process::id()),
            rows_read: Arc::new(AtomicI64::new(0)),
            table_rows: 0,
        }
    }

    /// Takes the metrics from `context` and, when streaming resumes from `offset`,
    /// the snapshot it was running.
    pub(crate) fn start(&mut self, context: &SourceContext, offset: Option<&SourceOffset>) {
        self.rows_read = context.gauge(
            "weir_postgres_incremental_snapshot_rows_read",
            "Rows read by incremental snapshots since the task started.",
        );
        let Some(offset) = offset else {
            return;
        };
        if offset.get(INCREMENTAL_COLLECTIONS).is_none() {
            return;
        }
        match Progress::from_offset(offset) {
            Some(progress) => {
                if let Some(first) = progress.collections.front() {
                    tracing::info!(table = %first.id, tables = progress.collections.len(), "incremental snapshot resumes");
                }
                self.progress = progress;
                self.refresh();
            }
            None => tracing::warn!(
                "the stored position's incremental snapshot progress is unreadable: the \
                 snapshot is abandoned; send execute-snapshot again"
            ),
        }
    }

    fn enabled(&self) -> bool {
        self.config.signal_table.is_some()
    }

    fn refresh(&mut self) {
        self.fields = self.progress.fields();
    }

    /// Adds the snapshot's progress to a record's offset.
    pub(crate) fn annotate(&self, offset: &mut SourceOffset) {
        if self.fields.is_empty() {
            return;
        }
        if let Value::Object(map) = offset {
            for (k, v) in &self.fields {
                map.insert((*k).to_string(), v.clone());
            }
        }
    }

    /// Notes which relation is the signal table.
    pub(crate) fn relation(&mut self, relation: &Relation) {
        if let Some((schema, name)) = &self.config.signal_table {
            if relation.namespace.eq_ignore_ascii_case(schema)
                && relation.name.eq_ignore_ascii_case(name)
            {
                self.signal_oid = Some(relation.id);
            } else if self.signal_oid == Some(relation.id) {
                self.signal_oid = None;
            }
        }
    }

    pub(crate) fn is_signal(&self, relation: u32) -> bool {
        self.signal_oid == Some(relation)
    }

    /// Whether [`step`](Self::step) has database work to do: the stream should
    /// pause for it.
    pub(crate) fn due(&self) -> bool {
        !self.requests.is_empty()
            || (!self.paused && self.window.is_none() && !self.progress.collections.is_empty())
    }

    /// A streamed change of a captured table: inside an open window, it drops the
    /// buffered rows with its keys.
    pub(crate) fn streamed(&mut self, table: &Table, records: &[Record]) {
        let Some(window) = self.window.as_mut() else {
            return;
        };
        if !window.open || window.table.qualified != table.qualified {
            return;
        }
        for record in records {
            if let Data::JsonText(key) = &record.key {
                if let Some(i) = window.by_key.remove(key) {
                    window.rows[i] = None;
                }
            }
        }
    }

    /// A change of the signal table at `lsn`: the records it releases (a chunk's
    /// rows, at its close marker). [`delivered`](Self::delivered) must follow once
    /// they are pushed.
    pub(crate) fn signal(&mut self, message: &Message, lsn: u64) -> Vec<Record> {
        let Some(row) = SignalRow::from_change(message) else {
            return Vec::new();
        };
        if row.deleted {
            // `insert_delete` closes a window by deleting its open marker.
            let closes = self.window.as_ref().is_some_and(|w| {
                self.config.watermarking == Watermarking::InsertDelete
                    && row.id == format!("{}-open", w.chunk)
            });
            return if closes { self.close(lsn) } else { Vec::new() };
        }
        let signal = match signal::parse(&row.kind, row.data.as_deref()) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::warn!(id = %row.id, kind = %row.kind, "signal ignored: it {e}");
                return Vec::new();
            }
        };
        match signal {
            Signal::WindowOpen(chunk) => {
                if let Some(window) = self.window.as_mut().filter(|w| w.chunk == chunk) {
                    window.open = true;
                }
            }
            Signal::WindowClose(chunk) => {
                if self.window.as_ref().is_some_and(|w| w.chunk == chunk) {
                    return self.close(lsn);
                }
            }
            Signal::ExecuteSnapshot(request) => {
                tracing::info!(id = %row.id, collections = ?request.collections, "execute-snapshot signal");
                self.requests.push((row.id, request));
            }
            Signal::StopSnapshot(patterns) => self.stop(&row.id, &patterns),
            Signal::PauseSnapshot => {
                tracing::info!(id = %row.id, "incremental snapshot paused");
                self.paused = true;
            }
            Signal::ResumeSnapshot => {
                tracing::info!(id = %row.id, "incremental snapshot resumed");
                self.paused = false;
            }
            Signal::Unknown(kind) => {
                tracing::warn!(id = %row.id, kind = %kind, "signal of an unknown type ignored");
            }
        }
        Vec::new()
    }

    /// The records of a closed window; the progress moves past the chunk once they
    /// are delivered.
    fn close(&mut self, lsn: u64) -> Vec<Record> {
        let Some(window) = self.window.take() else {
            return Vec::new();
        };
        let info = SourceInfo {
            ts_us: events::now_us(),
            tx_id: None,
            lsn: Some(lsn),
            last_commit_lsn: None,
            snapshot: SnapshotMarker::Incremental,
        };
        let records: Vec<Record> = window
            .rows
            .into_iter()
            .flatten()
            .map(|(key, after)| {
                let change = Change {
                    op: "r",
                    key: Some(key),
                    before: None,
                    after: Some(&after),
                    transaction: None,
                };
                self.events.change(&window.table, change, &info)
            })
            .collect();
        self.table_rows += records.len() as u64;
        let mut next = self.progress.clone();
        if window.last_chunk {
            if let Some(done) = next.collections.pop_front() {
                tracing::info!(table = %done.id, rows = self.table_rows, "incremental snapshot of table done");
            }
            next.last_key = None;
            next.max_key = None;
            self.current = None;
            self.table_rows = 0;
            if next.collections.is_empty() {
                tracing::info!("incremental snapshot done");
            }
        } else {
            next.last_key = Some(window.last_key);
        }
        self.after_chunk = Some(next);
        records
    }

    /// The records [`signal`](Self::signal) returned are pushed.
    pub(crate) fn delivered(&mut self) {
        if let Some(next) = self.after_chunk.take() {
            self.progress = next;
            self.refresh();
        }
    }

    fn stop(&mut self, id: &str, patterns: &[String]) {
        let stops = |c: &str| patterns.is_empty() || patterns.iter().any(|p| signal::matches(p, c));
        let before = self.progress.collections.len();
        let first = self.progress.collections.front().cloned();
        self.progress.collections.retain(|c| !stops(&c.id));
        self.requests.retain_mut(|(_, request)| {
            request.collections.retain(|p| !stops(p));
            !request.collections.is_empty()
        });
        if first.is_some() && self.progress.collections.front() != first.as_ref() {
            // The table being read is stopped: its window is dropped.
            self.progress.last_key = None;
            self.progress.max_key = None;
            self.current = None;
            self.window = None;
            self.after_chunk = None;
            self.table_rows = 0;
        }
        tracing::info!(id = %id, stopped = before - self.progress.collections.len(), left = self.progress.collections.len(), "stop-snapshot signal");
        if self.progress.collections.is_empty() {
            self.paused = false;
        }
        self.refresh();
    }

    /// The database work due: looks signalled tables up, and reads the next chunk
    /// between its two markers when no window is waiting. A table that cannot be
    /// read (no primary key, a filter that fails) is skipped with a warning; a
    /// failing connection is an error, and the work is done again on the next call.
    pub(crate) async fn step(&mut self, tables: &mut TableRegistry) -> Result<(), ConnectError> {
        if !self.enabled() || !self.due() {
            return Ok(());
        }
        let result = self.work(tables).await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn work(&mut self, tables: &mut TableRegistry) -> Result<(), ConnectError> {
        if self.conn.is_none() {
            self.conn = Some(catalog::connect(&self.config).await?);
        }
        if !self.requests.is_empty() {
            self.resolve().await?;
        }
        while !self.paused && self.window.is_none() {
            let Some(collection) = self.progress.collections.front().cloned() else {
                break;
            };
            match self.chunk(tables, &collection).await {
                Ok(()) => {}
                Err(Skip(reason)) => {
                    tracing::warn!(table = %collection.id, "incremental snapshot of table skipped: {reason}");
                    self.finish_table();
                }
                Err(Fail(e)) => return Err(e),
            }
        }
        self.refresh();
        Ok(())
    }

    fn finish_table(&mut self) {
        if let Some(done) = self.progress.collections.pop_front() {
            tracing::info!(table = %done.id, rows = self.table_rows, "incremental snapshot of table done");
        }
        self.progress.last_key = None;
        self.progress.max_key = None;
        self.current = None;
        self.table_rows = 0;
        if self.progress.collections.is_empty() {
            tracing::info!("incremental snapshot done");
        }
        self.refresh();
    }

    /// Adds the tables the signals name that are captured and have a primary key.
    async fn resolve(&mut self) -> Result<(), ConnectError> {
        let conn = self.conn.as_mut().expect("connected");
        let captured: Vec<CatalogTable> = catalog::tables(conn)
            .await?
            .into_iter()
            .filter(|t| self.config.tables.captures(&t.schema, &t.name))
            .collect();
        let was_idle = self.progress.collections.is_empty();
        for (id, request) in std::mem::take(&mut self.requests) {
            for pattern in &request.collections {
                let matched: Vec<&CatalogTable> = captured
                    .iter()
                    .filter(|t| signal::matches(pattern, &t.qualified()))
                    .collect();
                if matched.is_empty() {
                    tracing::warn!(id = %id, collection = %pattern, "execute-snapshot names no captured table: skipped");
                }
                for table in matched {
                    let qualified = table.qualified();
                    if !table.has_primary_key {
                        tracing::warn!(id = %id, table = %qualified, "the table has no primary key, which an incremental snapshot needs: skipped");
                        continue;
                    }
                    if self.progress.collections.iter().any(|c| c.id == qualified) {
                        continue;
                    }
                    let condition = request
                        .conditions
                        .iter()
                        .find(|(p, _)| signal::matches(p, &qualified))
                        .map(|(_, f)| f.clone());
                    tracing::info!(id = %id, table = %qualified, condition = ?condition, "incremental snapshot of table queued");
                    self.progress.collections.push_back(Collection {
                        id: qualified,
                        condition,
                    });
                }
            }
        }
        if was_idle && !self.progress.collections.is_empty() {
            self.paused = false;
            tracing::info!(
                tables = self.progress.collections.len(),
                chunk_size = self.config.incremental_chunk_size,
                "incremental snapshot started"
            );
        }
        self.refresh();
        Ok(())
    }

    /// Reads the next chunk of `collection` inside a window; finishes the table when
    /// nothing is left.
    async fn chunk(
        &mut self,
        tables: &mut TableRegistry,
        collection: &Collection,
    ) -> Result<(), StepError> {
        if self.current.as_ref().is_none_or(|c| c.id != collection.id) {
            self.current = Some(self.load(tables, &collection.id).await?);
            if self.progress.last_key.is_none() {
                tracing::info!(table = %collection.id, "incremental snapshot of table started");
            }
        }
        let signal_table = self.signal_table();
        let current = self.current.as_ref().expect("loaded");
        let conn = self.conn.as_mut().expect("connected");
        let condition = collection.condition.as_deref();
        if self.progress.max_key.is_none() {
            let Some(max) = max_key(conn, current, condition).await? else {
                // Empty, or nothing matches the condition.
                self.finish_table();
                return Ok(());
            };
            self.progress.max_key = Some(max);
        }
        let max = self.progress.max_key.clone().expect("read above");
        let chunk = format!(
            "{}-{}",
            self.session,
            CHUNKS.fetch_add(1, Ordering::Relaxed)
        );
        // The open marker commits before the chunk is read, the close marker after,
        // so the stream meets them around every change the read could have missed.
        execute(
            conn,
            &format!(
                "INSERT INTO {signal_table} VALUES ({}, {}, {})",
                literal(&format!("{chunk}-open")),
                literal(signal::WINDOW_OPEN),
                literal(&chunk)
            ),
        )
        .await?;
        let size = self.config.incremental_chunk_size;
        let mut filter = vec![format!("{} <= {}", key_tuple(current), values(&max))];
        if let Some(last) = &self.progress.last_key {
            filter.insert(0, format!("{} > {}", key_tuple(current), values(last)));
        }
        if let Some(condition) = condition {
            filter.push(format!("({condition})"));
        }
        let select = format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {size}",
            columns(current),
            current.from,
            filter.join(" AND "),
            key_order(current, "")
        );
        let rows = read(conn, &select).await?;
        self.rows_read
            .fetch_add(rows.len() as i64, Ordering::Relaxed);
        let Some(last) = rows.last() else {
            self.finish_table();
            return Ok(());
        };
        let last_key: Vec<String> = current
            .key
            .iter()
            .map(|&i| last[i].clone().unwrap_or_default())
            .collect();
        let mut window = Window {
            chunk: chunk.clone(),
            open: false,
            table: current.table.clone(),
            rows: Vec::with_capacity(rows.len()),
            by_key: HashMap::with_capacity(rows.len()),
            // Fewer rows than asked for, or the maximum key read: nothing is left.
            last_chunk: rows.len() < size || last_key == max,
            last_key,
        };
        for row in &rows {
            let texts: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
            let bad = |e| {
                Skip(format!(
                    "a row of {} could not be read: {e}",
                    current.table.qualified
                ))
            };
            let key = current.table.key_from_text(&texts).map_err(bad)?;
            let after = current.table.row_from_text(&texts).map_err(bad)?;
            let Some(key) = key else {
                return Err(Skip("its rows have no record key".into()));
            };
            window.by_key.insert(key.clone(), window.rows.len());
            window.rows.push(Some((key, after)));
        }
        let close = match self.config.watermarking {
            Watermarking::InsertInsert => format!(
                "INSERT INTO {signal_table} VALUES ({}, {}, {})",
                literal(&format!("{chunk}-close")),
                literal(signal::WINDOW_CLOSE),
                literal(&chunk)
            ),
            Watermarking::InsertDelete => format!(
                "DELETE FROM {signal_table} WHERE {} = {}",
                ident("id"),
                literal(&format!("{chunk}-open"))
            ),
        };
        execute(conn, &close).await?;
        tracing::debug!(table = %collection.id, chunk = %chunk, rows = window.rows.len(), "incremental snapshot chunk read");
        self.window = Some(window);
        Ok(())
    }

    /// The table `id` as the catalog describes it now.
    async fn load(&mut self, tables: &mut TableRegistry, id: &str) -> Result<Current, StepError> {
        let conn = self.conn.as_mut().expect("connected");
        let found = catalog::tables(conn)
            .await?
            .into_iter()
            .find(|t| t.qualified() == id);
        let Some(found) = found else {
            return Err(Skip("the table no longer exists".into()));
        };
        let primary: Vec<String> = catalog::columns(conn, found.oid)
            .await?
            .into_iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name)
            .collect();
        if primary.is_empty() {
            return Err(Skip(
                "the table has no primary key, which an incremental snapshot needs".into(),
            ));
        }
        let (table, columns) = tables.for_snapshot(conn, &found).await?;
        let key = primary
            .iter()
            .filter_map(|p| columns.iter().position(|c| c == p))
            .collect();
        Ok(Current {
            id: id.to_string(),
            table,
            from: format!("{}.{}", ident(&found.schema), ident(&found.name)),
            columns,
            key,
        })
    }

    fn signal_table(&self) -> String {
        let (schema, name) = self.config.signal_table.as_ref().expect("enabled");
        format!("{}.{}", ident(schema), ident(name))
    }
}
