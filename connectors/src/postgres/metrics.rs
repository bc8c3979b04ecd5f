//! The slot's gauges on the worker's `/metrics`: how far the slot lags the server's
//! WAL and how much WAL it keeps there, read from `pg_replication_slots` every few
//! seconds, and the position last confirmed.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use weir_connect::SourceContext;

use super::catalog;

/// How often the slot's lag is read from the server.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct SlotMetrics {
    slot: String,
    lag: Arc<AtomicI64>,
    retained: Arc<AtomicI64>,
    confirmed: Arc<AtomicI64>,
    refreshed: Option<Instant>,
}

impl SlotMetrics {
    pub(crate) fn new(context: &SourceContext, slot: &str) -> SlotMetrics {
        let lag = context.gauge(
            "weir_postgres_slot_lag_bytes",
            "WAL bytes between the server's current position and what the slot has confirmed.",
        );
        let retained = context.gauge(
            "weir_postgres_slot_wal_retained_bytes",
            "WAL bytes the server keeps for the slot (from its restart point).",
        );
        let confirmed = context.gauge(
            "weir_postgres_slot_confirmed_lsn",
            "The last WAL position the connector confirmed to the slot.",
        );
        lag.store(-1, Ordering::Relaxed);
        retained.store(-1, Ordering::Relaxed);
        SlotMetrics {
            slot: slot.to_string(),
            lag,
            retained,
            confirmed,
            refreshed: None,
        }
    }

    /// Reads the slot's lag when the last reading is old.
    pub(crate) async fn refresh(&mut self, conn: &mut PgConnection) {
        if self
            .refreshed
            .is_some_and(|at| at.elapsed() < REFRESH_EVERY)
        {
            return;
        }
        self.refreshed = Some(Instant::now());
        match catalog::slot_lag(conn, &self.slot).await {
            Ok(Some((lag, retained))) => {
                self.lag.store(lag, Ordering::Relaxed);
                self.retained.store(retained, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(slot = %self.slot, "reading the slot's lag: {}", e.chain()),
        }
    }

    pub(crate) fn confirmed(&self, lsn: u64) {
        self.confirmed.store(lsn as i64, Ordering::Relaxed);
    }
}
