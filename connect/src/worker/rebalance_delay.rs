//! `scheduled.rebalance.max.delay.ms` (KIP-415): slots whose tasks were last run by
//! a worker that has left the group wait before their tasks start here.
//!
//! A worker that restarts, or drops out for a moment, would otherwise cost the
//! cluster two rounds of task moves (its tasks to the others, then some back). Slots
//! that come from a live worker (a rebalance for a joining worker) and slots whose
//! tasks never ran start at once. The delay counts from the assignment, which comes
//! right after the group noticed the departure (at once for a worker that left, after
//! its session timeout for one that died).
//!
//! A worker's first assignment is never held back: as a Kafka Connect leader that
//! just started, it has no earlier view of the group to compare with, so a lone
//! worker restarted under a new address runs its tasks at once.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::controller::Controller;
use super::records::{StatusRecord, Subject};

impl Controller {
    /// Takes `slots` from the group: at once, or after the delay for slots of a
    /// departed worker. `members` are the group's worker ids, when known.
    pub(super) fn assign(&mut self, slots: BTreeSet<i32>, members: Option<&BTreeSet<String>>) {
        let delay = self.rebalance_delay;
        let first = !self.assigned_before;
        self.assigned_before |= !slots.is_empty();
        let departed = match members {
            Some(members) if !delay.is_zero() && !first => self.departed_workers(&slots, members),
            _ => BTreeSet::new(),
        };
        let until = Instant::now() + delay;
        for slot in slots {
            if departed.iter().any(|(s, _)| *s == slot) {
                self.ownership.delayed.insert(slot, until);
            } else {
                self.ownership.owned.insert(slot);
            }
        }
        let workers: BTreeSet<&str> = departed.iter().map(|(_, w)| w.as_str()).collect();
        if !workers.is_empty() {
            let held: Vec<i32> = departed.iter().map(|(s, _)| *s).collect();
            tracing::info!(slots = ?held, ?workers, ?delay, "slots of departed workers wait scheduled.rebalance.max.delay.ms before their tasks start here");
        }
    }

    /// Moves the slots whose delay is over into the owned ones.
    pub(super) fn promote_delayed(&mut self) {
        let now = Instant::now();
        let due: Vec<i32> = self
            .ownership
            .delayed
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(slot, _)| *slot)
            .collect();
        if !due.is_empty() {
            tracing::info!(slots = ?due, "the rebalance delay is over; starting the tasks of these slots");
        }
        for slot in due {
            self.ownership.delayed.remove(&slot);
            self.ownership.owned.insert(slot);
        }
    }

    pub(super) fn next_delayed(&self) -> Option<Instant> {
        self.ownership.delayed.values().min().copied()
    }

    /// The slots of `slots` holding a connector or task last reported by a worker
    /// other than this one that is not among `members`, with that worker.
    fn departed_workers(
        &self,
        slots: &BTreeSet<i32>,
        members: &BTreeSet<String>,
    ) -> BTreeSet<(i32, String)> {
        let view = self.shared.view();
        let plan = view.plan(self.ownership.slots);
        let departed = |status: Option<&StatusRecord>| {
            status
                .map(|s| s.worker_id.as_str())
                .filter(|w| !w.is_empty() && *w != self.worker_id && !members.contains(*w))
                .map(str::to_string)
        };
        let tasks = plan
            .tasks
            .iter()
            .map(|(id, slot)| (Subject::Task(id.clone()), *slot));
        let connectors = plan
            .connectors
            .iter()
            .map(|(name, slot)| (Subject::Connector(name.clone()), *slot));
        tasks
            .chain(connectors)
            .filter(|(_, slot)| slots.contains(slot))
            .filter_map(|(subject, slot)| Some((slot, departed(view.status(&subject))?)))
            .collect()
    }
}
