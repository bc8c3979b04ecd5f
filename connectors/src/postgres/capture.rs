//! Streamed changes into change events, one transaction at a time and in commit order.
//!
//! The last record made is held back until the next one exists or its transaction's
//! Commit arrives, so the record that closes a transaction carries the transaction's
//! end as its position: resuming from it repeats nothing, and with
//! `transaction.boundary=connector` a Kafka transaction ends exactly there.

use std::sync::Arc;

use serde_json::Value;
use sqlx::PgConnection;
use weir_connect::{ConnectError, Record, SourceRecord};

use super::config::PostgresConfig;
use super::events::{self, Change, EventContext, SnapshotMarker, SourceInfo, PG_EPOCH_OFFSET_US};
use super::incremental::IncrementalSnapshot;
use super::pgoutput::{Message, OldTuple};
use super::position::{self, Position};
use super::registry::TableRegistry;
use super::replication::Event;
use super::table::RowError;

/// The transaction being read.
#[derive(Debug)]
struct Transaction {
    xid: u32,
    commit_lsn: u64,
    ts_us: i64,
    /// The last change whose records are all made.
    proc_lsn: Option<u64>,
    /// Changes up to here were delivered before a restart.
    skip_until: Option<u64>,
    total_order: u64,
    per_table: Vec<(String, u64)>,
    begin_written: bool,
}

impl Transaction {
    fn id(&self) -> String {
        format!("{}:{}", self.xid, self.commit_lsn)
    }

    /// Counts one event of `table`; returns its order in the transaction and in the table.
    fn count(&mut self, table: &str) -> (u64, u64) {
        self.total_order += 1;
        let n = match self.per_table.iter_mut().find(|(t, _)| t == table) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.per_table.push((table.to_string(), 1));
                1
            }
        };
        (self.total_order, n)
    }
}

/// Stream state between polls.
#[derive(Debug)]
pub(crate) struct Capture {
    config: Arc<PostgresConfig>,
    events: Arc<EventContext>,
    partition: Value,
    pub(crate) tables: TableRegistry,
    /// Signals from the signal table and the incremental snapshot they drive.
    pub(crate) incremental: IncrementalSnapshot,
    txn: Option<Transaction>,
    /// The end of the last whole transaction: where a restart begins.
    resume_lsn: u64,
    /// The previous transaction's commit, for `source.sequence`.
    last_commit_lsn: Option<u64>,
    /// From a stored position: the transaction to skip into, and how far.
    skip: Option<(u64, u64)>,
    /// Its position is made into an offset only when it is handed out: it changes
    /// while the record is held.
    held: Option<(Record, Position)>,
    /// The server's WAL end from a keepalive while no transaction was open.
    idle_lsn: u64,
    transaction_topic: String,
    message_topic: String,
}

/// What one `apply` did to the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Nothing that ends a transaction.
    Continue,
    /// A transaction committed: the batch may end here.
    Committed,
}

impl Capture {
    pub(crate) fn new(
        config: Arc<PostgresConfig>,
        events: Arc<EventContext>,
        start: &Position,
    ) -> Capture {
        let d = &config.topic_delimiter;
        Capture {
            partition: position::partition(&config.topic_prefix),
            tables: TableRegistry::new(config.clone()),
            incremental: IncrementalSnapshot::new(config.clone(), events.clone()),
            transaction_topic: format!("{}{d}{}", config.topic_prefix, config.topic_transaction),
            message_topic: format!("{}{d}message", config.topic_prefix),
            config,
            events,
            txn: None,
            resume_lsn: start.lsn,
            last_commit_lsn: None,
            skip: start.skip(),
            held: None,
            idle_lsn: start.lsn,
        }
    }

    /// Whether no transaction is open and no record is held: the stream is between
    /// transactions, so a heartbeat may carry the current position.
    pub(crate) fn is_idle(&self) -> bool {
        self.txn.is_none() && self.held.is_none() && self.skip.is_none()
    }

    /// The position a heartbeat stores while idle.
    pub(crate) fn idle_position(&self) -> Position {
        Position {
            lsn: self.resume_lsn.max(self.idle_lsn),
            ..Position::default()
        }
    }

    /// Where a new replication session must start, and what it must skip, to carry on
    /// after the last record handed out.
    pub(crate) fn restart_point(&mut self) -> u64 {
        if let Some(txn) = self.txn.take() {
            if let Some(proc) = txn.proc_lsn.or(txn.skip_until) {
                self.skip = Some((txn.commit_lsn, proc));
            }
        }
        self.resume_lsn
    }

    /// Hands out the held record (when the stream is known to have gone quiet after
    /// a commit, it was released already; a record inside a transaction stays held).
    pub(crate) fn take_held_if_closed(&mut self) -> Option<SourceRecord> {
        if self.txn.is_none() && self.skip.is_none() {
            self.held
                .take()
                .map(|(record, at)| self.source_record(record, at))
        } else {
            None
        }
    }

    fn source_record(&self, record: Record, at: Position) -> SourceRecord {
        let mut source_offset = at.to_offset();
        self.incremental.annotate(&mut source_offset);
        SourceRecord {
            record,
            source_partition: self.partition.clone(),
            source_offset,
        }
    }

    /// The incremental snapshot's database work, when some is due (see
    /// `IncrementalSnapshot::step`).
    pub(crate) async fn incremental_step(&mut self) -> Result<(), ConnectError> {
        self.incremental.step(&mut self.tables).await
    }

    /// A heartbeat record at the idle position.
    pub(crate) fn heartbeat(&self, topic: &str) -> SourceRecord {
        let mut source_offset = self.idle_position().to_offset();
        self.incremental.annotate(&mut source_offset);
        SourceRecord {
            record: self.events.heartbeat(topic),
            source_partition: self.partition.clone(),
            source_offset,
        }
    }

    /// Applies one stream event, appending finished records to `out`.
    pub(crate) async fn apply(
        &mut self,
        conn: &mut PgConnection,
        event: Event,
        out: &mut Vec<SourceRecord>,
    ) -> Result<Applied, ConnectError> {
        match event {
            Event::KeepAlive { wal_end } => {
                if self.is_idle() {
                    self.idle_lsn = self.idle_lsn.max(wal_end);
                }
            }
            Event::Begin {
                final_lsn,
                xid,
                commit_time_us,
            } => {
                let skip_until = match self.skip {
                    Some((commit, proc)) if commit == final_lsn => Some(proc),
                    _ => None,
                };
                self.skip = None;
                self.txn = Some(Transaction {
                    xid,
                    commit_lsn: final_lsn,
                    ts_us: commit_time_us + PG_EPOCH_OFFSET_US,
                    proc_lsn: None,
                    skip_until,
                    total_order: 0,
                    per_table: Vec::new(),
                    begin_written: skip_until.is_some(),
                });
            }
            Event::Commit {
                commit_lsn,
                end_lsn,
            } => {
                let txn = self.txn.take();
                self.resume_lsn = self.resume_lsn.max(end_lsn);
                self.last_commit_lsn = Some(commit_lsn);
                let Some(txn) = txn else {
                    return Ok(Applied::Continue);
                };
                if self.config.provide_transaction_metadata && txn.total_order > 0 {
                    let end = self.events.transaction(
                        &self.transaction_topic,
                        &txn.id(),
                        txn.ts_us,
                        Some((txn.total_order, &txn.per_table)),
                    );
                    let at = self.position_in(&txn);
                    self.push(end, at, out);
                }
                if let Some((last, _)) = self.held.take() {
                    let at = Position {
                        lsn: end_lsn,
                        tx_id: Some(txn.xid),
                        ts_us: Some(txn.ts_us),
                        ..Position::default()
                    };
                    out.push(self.source_record(last, at));
                    return Ok(Applied::Committed);
                }
            }
            Event::LogicalMessage {
                transactional,
                lsn,
                prefix,
                content,
            } => {
                let (ts_us, tx_id) = match &self.txn {
                    Some(txn) if transactional => (txn.ts_us, Some(txn.xid)),
                    _ => (events::now_us(), None),
                };
                let info = SourceInfo {
                    ts_us,
                    tx_id,
                    lsn: Some(lsn),
                    last_commit_lsn: self.last_commit_lsn,
                    snapshot: SnapshotMarker::False,
                };
                let record = self
                    .events
                    .message(&self.message_topic, &prefix, &content, &info);
                match self.txn.as_ref() {
                    Some(txn) if transactional => {
                        if txn.skip_until.is_some_and(|s| lsn <= s) {
                            return Ok(Applied::Continue);
                        }
                        let at = self.position_in(txn);
                        self.push(record, at, out);
                        if let Some(txn) = self.txn.as_mut() {
                            txn.proc_lsn = Some(lsn);
                        }
                        self.reposition_held(lsn);
                    }
                    _ => {
                        let at = Position {
                            lsn: self.resume_lsn,
                            ..Position::default()
                        };
                        self.push(record, at, out);
                    }
                }
            }
            Event::Change { lsn, message } => self.change(conn, lsn, message, out).await?,
        }
        Ok(Applied::Continue)
    }

    async fn change(
        &mut self,
        conn: &mut PgConnection,
        lsn: u64,
        message: Message,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), ConnectError> {
        let relation = match &message {
            Message::Relation(relation) => {
                self.incremental.relation(relation);
                return self.tables.describe(conn, relation).await;
            }
            Message::Insert { relation, .. }
            | Message::Update { relation, .. }
            | Message::Delete { relation, .. } => *relation,
            Message::Truncate { relations, .. } => {
                for &relation in relations {
                    self.truncate(relation, lsn, out)?;
                }
                self.processed(lsn);
                return Ok(());
            }
            // Types are looked up in the catalog; origins do not change events.
            _ => return Ok(()),
        };
        if self.incremental.is_signal(relation) {
            self.signal(lsn, &message, out);
            return Ok(());
        }
        let Some(table) = self.tables.get(relation)?.cloned() else {
            return Ok(());
        };
        let Some(txn) = self.txn.as_mut() else {
            return Err(ConnectError::internal(format!(
                "a change at {lsn} arrived outside a transaction"
            )));
        };
        let skipped = txn.skip_until.is_some_and(|s| lsn <= s);
        let filtered = match message {
            Message::Insert { .. } => self.config.skip_create,
            Message::Update { .. } => self.config.skip_update,
            Message::Delete { .. } => self.config.skip_delete,
            _ => true,
        };
        if filtered {
            return Ok(());
        }
        // Counted whether or not it is delivered again, so the orders after a restart
        // are those of the first delivery.
        let (total, in_table) = txn.count(&table.qualified);
        if skipped {
            return Ok(());
        }
        let id = self.config.provide_transaction_metadata.then(|| txn.id());
        let transaction = id.as_deref().map(|id| (id, total, in_table));
        let info = SourceInfo {
            ts_us: txn.ts_us,
            tx_id: Some(txn.xid),
            lsn: Some(lsn),
            last_commit_lsn: self.last_commit_lsn,
            snapshot: SnapshotMarker::False,
        };
        let row_error = |e: RowError| {
            ConnectError::user(format!(
                "a change to {} could not be read: {e}",
                table.qualified
            ))
        };
        let change = |op, key, before, after| Change {
            op,
            key,
            before,
            after,
            transaction,
        };
        let events = &self.events;
        let mut records: Vec<Record> = Vec::with_capacity(3);
        match message {
            Message::Insert { new, .. } => {
                let key = table.key_from_tuple(&new.0).map_err(row_error)?;
                let after = table.row_from_tuple(&new.0).map_err(row_error)?;
                records.push(events.change(&table, change("c", key, None, Some(&after)), &info));
            }
            Message::Update { old, new, .. } => {
                let new_key = table.key_from_tuple(&new.0).map_err(row_error)?;
                let after = table.row_from_tuple(&new.0).map_err(row_error)?;
                let (old_key, before) = match &old {
                    Some(OldTuple::Key(t)) => {
                        (table.key_from_tuple(&t.0).map_err(row_error)?, None)
                    }
                    // Only a full old row is a `before`; a key-only one just says the
                    // key moved.
                    Some(OldTuple::Full(t)) => (
                        table.key_from_tuple(&t.0).map_err(row_error)?,
                        Some(table.row_from_tuple(&t.0).map_err(row_error)?),
                    ),
                    None => (None, None),
                };
                match old_key {
                    Some(old_key) if Some(&old_key) != new_key.as_ref() => {
                        let mut delete = events.change(
                            &table,
                            change("d", Some(old_key.clone()), before.as_deref(), None),
                            &info,
                        );
                        if let Some(new_key) = &new_key {
                            delete
                                .headers
                                .push(events::key_header("__debezium.newkey", new_key));
                        }
                        let tombstone = self
                            .config
                            .tombstones_on_delete
                            .then(|| events.tombstone(&delete));
                        records.push(delete);
                        records.extend(tombstone);
                        let mut create =
                            events.change(&table, change("c", new_key, None, Some(&after)), &info);
                        create
                            .headers
                            .push(events::key_header("__debezium.oldkey", &old_key));
                        records.push(create);
                    }
                    _ => records.push(events.change(
                        &table,
                        change("u", new_key, before.as_deref(), Some(&after)),
                        &info,
                    )),
                }
            }
            Message::Delete { old, .. } => {
                let (OldTuple::Key(t) | OldTuple::Full(t)) = &old;
                let key = table.key_from_tuple(&t.0).map_err(row_error)?;
                let before = table.row_from_tuple(&t.0).map_err(row_error)?;
                let delete = events.change(&table, change("d", key, Some(&before), None), &info);
                let tombstone = self
                    .config
                    .tombstones_on_delete
                    .then(|| events.tombstone(&delete));
                records.push(delete);
                records.extend(tombstone);
            }
            _ => unreachable!("filtered above"),
        }
        self.incremental.streamed(&table, &records);
        self.write_begin(out);
        let at = self.position_in(self.txn.as_ref().expect("checked above"));
        for record in records {
            self.push(record, at, out);
        }
        self.processed(lsn);
        Ok(())
    }

    /// A change of the signal table: never an event itself, it may release an
    /// incremental snapshot's chunk, whose records carry the snapshot's progress
    /// from before the chunk until the last of them.
    fn signal(&mut self, lsn: u64, message: &Message, out: &mut Vec<SourceRecord>) {
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        if txn.skip_until.is_some_and(|s| lsn <= s) {
            return;
        }
        let at = self.position_in(txn);
        for record in self.incremental.signal(message, lsn) {
            self.push(record, at, out);
        }
        self.incremental.delivered();
        self.processed(lsn);
    }

    fn truncate(
        &mut self,
        relation: u32,
        lsn: u64,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), ConnectError> {
        if self.config.skip_truncate {
            return Ok(());
        }
        let Some(table) = self.tables.get(relation)?.cloned() else {
            return Ok(());
        };
        let Some(txn) = self.txn.as_ref() else {
            return Ok(());
        };
        if txn.skip_until.is_some_and(|s| lsn <= s) {
            return Ok(());
        }
        let info = SourceInfo {
            ts_us: txn.ts_us,
            tx_id: Some(txn.xid),
            lsn: Some(lsn),
            last_commit_lsn: self.last_commit_lsn,
            snapshot: SnapshotMarker::False,
        };
        self.write_begin(out);
        let record = self.events.truncate(&table, &info);
        let at = self.position_in(self.txn.as_ref().expect("checked above"));
        self.push(record, at, out);
        Ok(())
    }

    /// The BEGIN event before a transaction's first change, with transaction metadata.
    fn write_begin(&mut self, out: &mut Vec<SourceRecord>) {
        if !self.config.provide_transaction_metadata {
            return;
        }
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        if txn.begin_written {
            return;
        }
        txn.begin_written = true;
        let record = self
            .events
            .transaction(&self.transaction_topic, &txn.id(), txn.ts_us, None);
        let at = self.position_in(self.txn.as_ref().expect("checked above"));
        self.push(record, at, out);
    }

    /// The position of a record inside `txn`, before the change being made.
    fn position_in(&self, txn: &Transaction) -> Position {
        Position {
            lsn: self.resume_lsn,
            lsn_commit: Some(txn.commit_lsn),
            lsn_proc: txn.proc_lsn.or(txn.skip_until),
            tx_id: Some(txn.xid),
            ts_us: Some(txn.ts_us),
            ..Position::default()
        }
    }

    /// All records of the change at `lsn` are made: the held one, its last, now
    /// says so.
    fn processed(&mut self, lsn: u64) {
        if let Some(txn) = self.txn.as_mut() {
            txn.proc_lsn = Some(lsn);
        }
        self.reposition_held(lsn);
    }

    fn reposition_held(&mut self, lsn: u64) {
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        let at = Position {
            lsn_proc: Some(lsn),
            ..self.position_in(txn)
        };
        if let Some((_, held_at)) = self.held.as_mut() {
            *held_at = at;
        }
    }

    fn push(&mut self, record: Record, at: Position, out: &mut Vec<SourceRecord>) {
        if let Some((previous, at)) = self.held.replace((record, at)) {
            out.push(self.source_record(previous, at));
        }
    }
}
