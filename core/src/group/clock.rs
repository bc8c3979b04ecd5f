//! Wall-clock milliseconds that advance with tokio's clock.
//!
//! Commit timestamps are wall-clock times (they are persisted and compared across
//! restarts), but the coordinator's tests pause and advance tokio's clock. Anchoring
//! the wall clock once and adding tokio's elapsed time gives both: real timestamps in
//! production, and retention that expires under `tokio::time::advance` in tests.

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    wall_ms_at_start: i64,
    at_start: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            wall_ms_at_start: crate::partition::now_ms(),
            at_start: Instant::now(),
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.wall_ms_at_start + self.at_start.elapsed().as_millis() as i64
    }
}
