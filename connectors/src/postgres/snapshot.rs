//! The initial snapshot: every captured table read as `r` events inside one
//! REPEATABLE READ transaction that imported the slot's exported snapshot, so the
//! rows are exactly the database at the slot's starting point — every later change
//! streams, none is missed or doubled. Values are read as text, as the stream sends
//! them, so both go through one type mapping. Tables are read through a cursor,
//! `snapshot.fetch.size` rows at a time, so no table is ever held in memory.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use weir_connect::{ConnectError, SourceRecord};

use super::catalog::{self, ident, query_error, CatalogTable};
use super::events::{Change, EventContext, SnapshotMarker, SourceInfo};
use super::position::{self, Position};
use super::registry::TableRegistry;
use super::table::Table;

const CURSOR: &str = "weir_snapshot";

/// A snapshot in progress.
#[derive(Debug)]
pub(crate) struct Snapshot {
    events: Arc<EventContext>,
    partition: serde_json::Value,
    pending: VecDeque<CatalogTable>,
    current: Option<Arc<Table>>,
    /// Rows fetched and not yet made into records.
    rows: VecDeque<Vec<Option<String>>>,
    exhausted: bool,
    /// The slot's starting point, where streaming continues after the snapshot.
    lsn: u64,
    fetch_size: usize,
    ts_us: i64,
    /// The last row read, made into a record once the next one shows whether it
    /// ends its table or the snapshot (which its `source.snapshot` says).
    held: Option<HeldRow>,
    first: bool,
    first_in_table: bool,
    pub(crate) rows_read: u64,
}

impl Snapshot {
    /// Opens the snapshot transaction on `conn`. `exported` is the slot's exported
    /// snapshot; without one (`snapshot.mode=always` on an existing slot) the
    /// transaction's own snapshot is read, and changes between the slot's position
    /// and it may be seen twice.
    pub(crate) async fn begin(
        conn: &mut PgConnection,
        exported: Option<&str>,
        tables: Vec<CatalogTable>,
        events: Arc<EventContext>,
        lsn: u64,
        fetch_size: usize,
    ) -> Result<Snapshot, ConnectError> {
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *conn)
            .await
            .map_err(query_error("starting the snapshot transaction"))?;
        if let Some(name) = exported {
            let sql = format!("SET TRANSACTION SNAPSHOT '{}'", name.replace('\'', "''"));
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await
                .map_err(query_error("importing the slot's snapshot"))?;
        }
        tracing::info!(tables = tables.len(), at = %catalog::format_lsn(lsn), "snapshot started");
        Ok(Snapshot {
            partition: position::partition(&events.prefix),
            events,
            pending: tables.into(),
            current: None,
            rows: VecDeque::new(),
            exhausted: true,
            lsn,
            fetch_size,
            ts_us: super::events::now_us(),
            held: None,
            first: true,
            first_in_table: true,
            rows_read: 0,
        })
    }

    /// Up to `max` records; an empty batch means the snapshot is over (and its
    /// transaction ended).
    pub(crate) async fn next_batch(
        &mut self,
        conn: &mut PgConnection,
        tables: &mut TableRegistry,
        max: usize,
    ) -> Result<Vec<SourceRecord>, ConnectError> {
        let mut out = Vec::with_capacity(max.min(self.fetch_size));
        while out.len() < max {
            if self.rows.is_empty() && !self.exhausted {
                self.fetch(conn).await?;
            }
            if let Some(row) = self.rows.pop_front() {
                self.read_row(row, &mut out)?;
                continue;
            }
            // The current table is done.
            if let Some(table) = self.current.take() {
                sqlx::raw_sql(AssertSqlSafe(format!("CLOSE {CURSOR}")))
                    .execute(&mut *conn)
                    .await
                    .map_err(query_error("closing the snapshot cursor"))?;
                if let Some(held) = self.held.as_mut() {
                    if held.marker != SnapshotMarker::First {
                        held.marker = SnapshotMarker::LastInTable;
                    }
                }
                tracing::debug!(table = %table.qualified, "table snapshot done");
            }
            let Some(next) = self.pending.pop_front() else {
                self.finish(conn, &mut out).await?;
                return Ok(out);
            };
            self.open(conn, tables, next).await?;
        }
        Ok(out)
    }

    async fn open(
        &mut self,
        conn: &mut PgConnection,
        tables: &mut TableRegistry,
        next: CatalogTable,
    ) -> Result<(), ConnectError> {
        let (table, columns) = tables.for_snapshot(conn, &next).await?;
        let select = columns
            .iter()
            .map(|c| ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let from = format!("{}.{}", ident(&next.schema), ident(&next.name));
        let select = if select.is_empty() {
            "NULL".to_string()
        } else {
            select
        };
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DECLARE {CURSOR} NO SCROLL CURSOR FOR SELECT {select} FROM {from}"
        )))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            ConnectError::user(format!(
                "the snapshot cannot read {from}: the user needs SELECT on it"
            ))
            .with_source(e)
        })?;
        self.current = Some(table);
        self.exhausted = false;
        self.first_in_table = true;
        Ok(())
    }

    async fn fetch(&mut self, conn: &mut PgConnection) -> Result<(), ConnectError> {
        // The simple query protocol returns every value as its type's output function
        // writes it, the same text pgoutput sends (a `::text` cast is not: it writes
        // booleans as `true` and strips char(n) padding).
        let rows = sqlx::raw_sql(AssertSqlSafe(format!(
            "FETCH FORWARD {} FROM {CURSOR}",
            self.fetch_size
        )))
        .fetch_all(&mut *conn)
        .await
        .map_err(query_error("reading a snapshot chunk"))?;
        self.exhausted = rows.len() < self.fetch_size;
        for row in rows {
            let values = (0..row.len())
                .map(|i| row.try_get_unchecked::<Option<String>, _>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(query_error("reading a snapshot row"))?;
            self.rows.push_back(values);
        }
        Ok(())
    }

    fn read_row(
        &mut self,
        row: Vec<Option<String>>,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), ConnectError> {
        let table = self
            .current
            .as_ref()
            .expect("rows come from the open table");
        let texts: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
        let bad = |e| {
            ConnectError::user(format!(
                "a row of {} could not be read: {e}",
                table.qualified
            ))
        };
        let key = table.key_from_text(&texts).map_err(bad)?;
        let after = table.row_from_text(&texts).map_err(bad)?;
        let marker = if self.first {
            SnapshotMarker::First
        } else if self.first_in_table {
            SnapshotMarker::FirstInTable
        } else {
            SnapshotMarker::True
        };
        self.first = false;
        self.first_in_table = false;
        let next = HeldRow {
            table: table.clone(),
            key,
            after,
            marker,
        };
        self.rows_read += 1;
        if let Some(previous) = self.held.replace(next) {
            out.push(self.record(previous, false));
        }
        Ok(())
    }

    /// The `r` event of a row read.
    fn record(&self, row: HeldRow, last: bool) -> SourceRecord {
        let info = SourceInfo {
            ts_us: self.ts_us,
            tx_id: None,
            lsn: Some(self.lsn),
            last_commit_lsn: None,
            snapshot: if last {
                SnapshotMarker::Last
            } else {
                row.marker
            },
        };
        let change = Change {
            op: "r",
            key: row.key,
            before: None,
            after: Some(&row.after),
            transaction: None,
        };
        SourceRecord {
            record: self.events.change(&row.table, change, &info),
            source_partition: self.partition.clone(),
            source_offset: self.position(last).to_offset(),
        }
    }

    async fn finish(
        &mut self,
        conn: &mut PgConnection,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), ConnectError> {
        sqlx::raw_sql("COMMIT")
            .execute(&mut *conn)
            .await
            .map_err(query_error("ending the snapshot transaction"))?;
        if let Some(last) = self.held.take() {
            out.push(self.record(last, true));
        }
        tracing::info!(rows = self.rows_read, "snapshot done");
        Ok(())
    }

    fn position(&self, last: bool) -> Position {
        Position {
            lsn: self.lsn,
            snapshot: true,
            last_snapshot_record: last,
            ..Position::default()
        }
    }

    /// Whether the snapshot read no row at all (its end is then stored by the task).
    pub(crate) fn was_empty(&self) -> bool {
        self.rows_read == 0
    }

    pub(crate) fn lsn(&self) -> u64 {
        self.lsn
    }
}

/// A row read and not yet made into a record.
#[derive(Debug)]
struct HeldRow {
    table: Arc<Table>,
    key: Option<Bytes>,
    after: Vec<u8>,
    marker: SnapshotMarker,
}
