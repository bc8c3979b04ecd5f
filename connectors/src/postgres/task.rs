//! The CDC source task: decides at start whether a snapshot is due and where
//! streaming resumes, then hands out snapshot rows and streamed changes, and confirms
//! the slot only for positions the runtime reports stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use weir_connect::{
    ConnectError, Source, SourceContext, SourceOffset, SourcePartition, SourceRecord,
};

use super::capture::{Applied, Capture};
use super::catalog::{self, format_lsn, CatalogTable, SlotState};
use super::config::{PostgresConfig, SnapshotMode};
use super::events::EventContext;
use super::metrics::SlotMetrics;
use super::position::{self, Position};
use super::replication::ReplicationStream;
use super::signal;
use super::snapshot::Snapshot;

/// How long a poll with records in hand waits for more before returning them.
const LINGER: Duration = Duration::from_millis(2);

/// How long a batch keeps taking in whole transactions after its first commit.
const BATCH_LINGER: Duration = Duration::from_millis(5);

#[derive(Debug)]
enum Phase {
    /// Not opened yet.
    Closed,
    Snapshot(Box<Snapshot>),
    Streaming,
    /// `snapshot.mode=initial_only` after its snapshot.
    Done,
}

#[derive(Debug)]
pub(crate) struct PostgresSourceTask {
    config: Arc<PostgresConfig>,
    events: Arc<EventContext>,
    conn: Option<PgConnection>,
    stream: Option<ReplicationStream>,
    capture: Option<Capture>,
    phase: Phase,
    /// The committed transaction ended the last batch (`transaction.boundary=connector`).
    closed_transaction: bool,
    last_heartbeat: Instant,
    heartbeat_topic: String,
    metrics: Option<SlotMetrics>,
    /// What the task was opened with, for starting over after a failed snapshot.
    context: Option<SourceContext>,
    /// This task made the slot and has confirmed nothing from it yet: a snapshot
    /// that starts over makes it again, to meet the stream exactly.
    own_unconfirmed_slot: bool,
}

impl PostgresSourceTask {
    pub(crate) fn new(config: PostgresConfig) -> PostgresSourceTask {
        let heartbeat_topic = format!(
            "{}{}{}",
            config.heartbeat_topics_prefix, config.topic_delimiter, config.topic_prefix
        );
        let events = Arc::new(EventContext::new(&config.topic_prefix, &config.dbname));
        PostgresSourceTask {
            metrics: None,
            context: None,
            own_unconfirmed_slot: false,
            config: Arc::new(config),
            events,
            conn: None,
            stream: None,
            capture: None,
            phase: Phase::Closed,
            closed_transaction: false,
            last_heartbeat: Instant::now(),
            heartbeat_topic,
        }
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("opened")
    }

    /// The captured tables, as the publication and the snapshot see them.
    async fn captured_tables(&mut self) -> Result<Vec<CatalogTable>, ConnectError> {
        let config = self.config.clone();
        Ok(catalog::tables(self.conn())
            .await?
            .into_iter()
            .filter(|t| config.tables.captures(&t.schema, &t.name))
            .collect())
    }

    /// Whether the start needs a snapshot, given what is stored and the slot.
    fn snapshot_due(&self, stored: Option<&Position>, slot: Option<&SlotState>) -> bool {
        match (self.config.snapshot_mode, stored) {
            (SnapshotMode::NoData, _) => false,
            (SnapshotMode::Always, _) => true,
            (_, None) => true,
            (_, Some(p)) if p.in_unfinished_snapshot() => true,
            (SnapshotMode::WhenNeeded, Some(p)) => match slot {
                None => true,
                Some(slot) => {
                    slot.wal_status.as_deref() == Some("lost")
                        || slot.confirmed_flush.is_some_and(|c| c > p.lsn)
                }
            },
            _ => false,
        }
    }

    async fn start(&mut self, context: &SourceContext) -> Result<(), ConnectError> {
        let config = self.config.clone();
        self.metrics = Some(SlotMetrics::new(context, &config.slot_name));
        let mut conn = catalog::connect(&config).await?;
        catalog::check_server(&mut conn, &config.user).await?;
        self.conn = Some(conn);
        let tables = self.captured_tables().await?;
        let published = signal::with_signal_table(self.conn(), &config, &tables).await?;
        catalog::ensure_publication(self.conn(), &config, &published).await?;
        signal::check_published(self.conn(), &config).await?;

        let stored = context
            .offset(&position::partition(&config.topic_prefix))
            .and_then(Position::from_offset);
        let mut slot = catalog::slot(self.conn(), &config.slot_name).await?;
        if let Some(state) = &slot {
            if state.plugin != "pgoutput" {
                return Err(ConnectError::user(format!(
                    "the replication slot '{}' uses the plugin '{}', and Weir reads pgoutput: \
                     drop the slot or choose another slot.name",
                    config.slot_name, state.plugin
                )));
            }
            if let Some(pid) = state.active_pid {
                return Err(ConnectError::external(format!(
                    "the replication slot '{}' is in use by another process (PID {pid}): stop \
                     the other consumer, or give this connector its own slot.name",
                    config.slot_name
                )));
            }
        }
        let snapshot = self.snapshot_due(stored.as_ref(), slot.as_ref());
        // Nothing was ever confirmed from a slot whose snapshot never finished: it is
        // made again, with an exported snapshot at its new starting point, so snapshot
        // and stream meet exactly. So is a lost slot, when a snapshot replaces it.
        let recreate = snapshot
            && slot.is_some()
            && (stored
                .as_ref()
                .is_some_and(Position::in_unfinished_snapshot)
                || self.own_unconfirmed_slot
                || slot.as_ref().and_then(|s| s.wal_status.as_deref()) == Some("lost"));
        if recreate {
            tracing::info!(slot = %config.slot_name, "recreating the slot for a new snapshot");
            catalog::drop_slot(self.conn(), &config.slot_name).await?;
            slot = None;
        }
        if slot.is_none() && stored.is_some() && !snapshot {
            return Err(ConnectError::user(format!(
                "the replication slot '{}' is gone, and the stored position {} needs it: \
                 changes since then cannot be read. Set snapshot.mode=when_needed to snapshot \
                 again, or reset the connector's offsets",
                config.slot_name,
                format_lsn(stored.as_ref().map_or(0, |p| p.lsn))
            )));
        }
        if let Some(state) = &slot {
            if state.wal_status.as_deref() == Some("lost") {
                return Err(ConnectError::user(format!(
                    "the replication slot '{}' is lost: the server removed WAL it still needed \
                     (max_slot_wal_keep_size). Set snapshot.mode=when_needed to snapshot again",
                    config.slot_name
                )));
            }
        }

        let resume = match (&stored, snapshot) {
            (Some(p), false) => *p,
            _ => Position::default(),
        };
        let mut stream = ReplicationStream::connect(&config, resume.lsn).await?;
        let mut exported = None;
        let mut start_lsn = resume.lsn;
        if slot.is_none() {
            let created = stream.create_slot(&config, snapshot).await?;
            tracing::info!(slot = %config.slot_name, at = %format_lsn(created.consistent_point), "replication slot created");
            exported = created.snapshot;
            start_lsn = created.consistent_point;
            self.own_unconfirmed_slot = snapshot;
        } else if snapshot {
            // A snapshot over a slot that already exists (`always`, or a slot made
            // before the connector): the transaction's own snapshot is read and the
            // stream resumes where the slot is, so changes between the two may be seen
            // twice, as Debezium does.
            start_lsn = stored.as_ref().map_or(0, |p| p.lsn);
        }
        let start = Position {
            lsn: start_lsn,
            ..resume
        };
        let mut capture = Capture::new(config.clone(), self.events.clone(), &start);
        let offset = context
            .offset(&position::partition(&config.topic_prefix))
            .filter(|_| !snapshot);
        capture.incremental.start(context, offset);
        self.capture = Some(capture);
        if snapshot {
            let events = self.events.clone();
            let snapshot = Snapshot::begin(
                self.conn.as_mut().expect("opened"),
                exported.as_deref(),
                tables,
                events,
                start_lsn,
                config.snapshot_fetch_size,
            )
            .await?;
            self.phase = Phase::Snapshot(Box::new(snapshot));
        } else {
            stream.start(&config).await?;
            self.phase = Phase::Streaming;
        }
        self.stream = Some(stream);
        Ok(())
    }

    async fn poll_snapshot(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let Phase::Snapshot(snapshot) = &mut self.phase else {
            unreachable!("called in the snapshot phase")
        };
        let conn = self.conn.as_mut().expect("opened");
        let capture = self.capture.as_mut().expect("opened");
        let batch = snapshot
            .next_batch(conn, &mut capture.tables, self.config.max_batch_size)
            .await?;
        let done = batch.is_empty() || {
            // The snapshot's last record carries its end.
            batch.last().is_some_and(|r| {
                Position::from_offset(&r.source_offset).is_some_and(|p| p.last_snapshot_record)
            })
        };
        self.closed_transaction = true;
        if !done {
            return Ok(batch);
        }
        let empty = snapshot.was_empty();
        let lsn = snapshot.lsn();
        if self.config.snapshot_mode == SnapshotMode::InitialOnly {
            self.phase = Phase::Done;
        } else {
            let config = self.config.clone();
            self.stream.as_mut().expect("opened").start(&config).await?;
            self.phase = Phase::Streaming;
        }
        if empty {
            tracing::info!(at = %format_lsn(lsn), "the snapshot found no rows");
        }
        Ok(batch)
    }

    async fn poll_stream(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let config = self.config.clone();
        let max = config.max_batch_size;
        let mut out = Vec::with_capacity(max.min(1024));
        let started = Instant::now();
        let deadline = started + config.poll_interval;
        self.closed_transaction = false;
        self.capture
            .as_mut()
            .expect("opened")
            .incremental_step()
            .await?;
        loop {
            let now = Instant::now();
            let wait = if out.is_empty() {
                deadline.saturating_duration_since(now)
            } else {
                LINGER
            };
            let stream = self.stream.as_mut().expect("opened");
            let event = match stream.next(&config, wait).await {
                Ok(event) => event,
                Err(err) => {
                    self.reconnect_later();
                    if out.is_empty() {
                        return Err(err);
                    }
                    tracing::warn!("replication stream failed, reconnecting: {}", err.chain());
                    break;
                }
            };
            let Some(event) = event else {
                if out.is_empty() && Instant::now() < deadline {
                    continue;
                }
                break;
            };
            let conn = self.conn.as_mut().expect("opened");
            let capture = self.capture.as_mut().expect("opened");
            let before = out.len();
            let applied = match capture.apply(conn, event, &mut out).await {
                Ok(applied) => applied,
                // The records made so far are handed out, their changes being behind
                // the capture's position; the next poll reconnects and meets the
                // failure again if it is not passing.
                Err(err) if !out.is_empty() => {
                    tracing::warn!(
                        "a change failed, handing out what came before it: {}",
                        err.chain()
                    );
                    self.conn = None;
                    self.reconnect_later();
                    break;
                }
                Err(err) => return Err(err),
            };
            if applied == Applied::Committed {
                self.closed_transaction = true;
                // Whole transactions ready at once share a batch (and a Kafka
                // transaction), but not for long: each waits for the ones after it.
                if out.len() >= max || started.elapsed() >= BATCH_LINGER {
                    break;
                }
            } else if out.len() > before {
                self.closed_transaction = false;
                if out.len() >= max {
                    break;
                }
            }
            // An incremental snapshot's next step waits for no more of the stream.
            if capture.incremental.due() {
                break;
            }
        }
        let capture = self.capture.as_mut().expect("opened");
        if let Some(record) = capture.take_held_if_closed() {
            out.push(record);
            self.closed_transaction = true;
        }
        if out.is_empty() {
            self.heartbeat(&mut out).await?;
        }
        if let (Some(metrics), Some(conn)) = (self.metrics.as_mut(), self.conn.as_mut()) {
            metrics.refresh(conn).await;
        }
        Ok(out)
    }

    /// A heartbeat when one is due and the stream is between transactions.
    async fn heartbeat(&mut self, out: &mut Vec<SourceRecord>) -> Result<(), ConnectError> {
        let Some(interval) = self.config.heartbeat_interval else {
            return Ok(());
        };
        if self.last_heartbeat.elapsed() < interval {
            return Ok(());
        }
        self.last_heartbeat = Instant::now();
        if let Some(query) = self.config.heartbeat_action_query.clone() {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(query))
                .execute(self.conn())
                .await
            {
                tracing::warn!("heartbeat.action.query failed: {e}");
            }
        }
        let capture = self.capture.as_ref().expect("opened");
        if capture.is_idle() {
            out.push(capture.heartbeat(&self.heartbeat_topic));
            self.closed_transaction = true;
        }
        Ok(())
    }

    /// Drops the broken session; the next poll starts a new one after the last
    /// record handed out.
    fn reconnect_later(&mut self) {
        self.stream = None;
    }

    async fn reconnect(&mut self) -> Result<(), ConnectError> {
        let config = self.config.clone();
        if self.conn.is_none() {
            self.conn = Some(catalog::connect(&config).await?);
        }
        let capture = self.capture.as_mut().expect("opened");
        let from = capture.restart_point();
        let mut stream = ReplicationStream::connect(&config, from).await?;
        stream.start(&config).await?;
        self.stream = Some(stream);
        tracing::info!(from = %format_lsn(from), "replication stream reconnected");
        Ok(())
    }
}

#[async_trait]
impl Source for PostgresSourceTask {
    async fn open(&mut self, context: SourceContext) -> Result<(), ConnectError> {
        self.context = Some(context.clone());
        self.start(&context).await
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let polled = match self.phase {
            Phase::Closed => {
                // A snapshot that failed is taken again from the start.
                let Some(context) = self.context.clone() else {
                    return Err(ConnectError::internal("poll before open"));
                };
                self.start(&context).await.map(|()| Vec::new())
            }
            Phase::Snapshot(_) => self.poll_snapshot().await,
            Phase::Streaming => {
                if self.stream.is_none() || self.conn.is_none() {
                    self.reconnect().await?;
                }
                self.poll_stream().await
            }
            Phase::Done => {
                tokio::time::sleep(self.config.poll_interval).await;
                Ok(Vec::new())
            }
        };
        if polled.is_err() {
            // A connection that failed is not trusted again: the next poll makes new
            // ones, and carries on after the last record handed out. A snapshot
            // cannot resume in a new transaction, so it starts over.
            self.conn = None;
            if let Some(stream) = self.stream.take() {
                stream.close().await;
            }
            if matches!(self.phase, Phase::Snapshot(_)) {
                self.phase = Phase::Closed;
            }
        }
        polled
    }

    async fn commit(
        &mut self,
        offsets: &[(SourcePartition, SourceOffset)],
    ) -> Result<(), ConnectError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        // A snapshot's positions name the slot's start, which the slot already has.
        if let Some(at) = offsets
            .iter()
            .filter_map(|(_, o)| Position::from_offset(o))
            .filter(|p| !p.snapshot)
            .map(|p| p.lsn)
            .max()
        {
            stream.confirm(at);
            self.own_unconfirmed_slot = false;
            if let Some(metrics) = &self.metrics {
                metrics.confirmed(at);
            }
        }
        Ok(())
    }

    fn end_of_transaction(&mut self) -> bool {
        self.closed_transaction
    }

    async fn close(&mut self) -> Result<(), ConnectError> {
        if let Some(stream) = self.stream.take() {
            stream.close().await;
        }
        if self.config.slot_drop_on_stop {
            if let Some(conn) = self.conn.as_mut() {
                // The server ends the replication session a moment after the client
                // leaves; until then the slot is active and cannot be dropped.
                let deadline = Instant::now() + Duration::from_secs(10);
                while catalog::slot(conn, &self.config.slot_name)
                    .await?
                    .is_some_and(|s| s.active_pid.is_some())
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                catalog::drop_slot(conn, &self.config.slot_name).await?;
            }
        }
        self.conn = None;
        self.phase = Phase::Closed;
        Ok(())
    }
}
