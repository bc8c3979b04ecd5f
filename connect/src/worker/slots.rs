//! Task slots: how the work of a Connect cluster is shared among its workers.
//!
//! Every worker of a cluster joins one consumer group (`group.id` of the worker) and
//! subscribes to the slots topic, whose partitions are never written: a partition is
//! only a slot. The group hands the slots out among the live members (the
//! `cooperative-sticky` assignor: balanced, and moving as few slots as it can on
//! every join and leave), and moves a dead worker's slots after its session timeout. Every worker sees the same connectors and target
//! states (it tails the config topic), so every worker computes the same mapping from
//! connectors and tasks to slots, and runs exactly the tasks whose slot it holds.
//!
//! Why partitions rather than Kafka Connect's own group protocol (`connect` protocol
//! type with its leader-computed assignment): the partition assignment is the part of
//! the group protocol that every Kafka client, librdkafka included, already implements
//! and every broker, Weir included, already serves. Membership, liveness, fencing of
//! a dead member and the stop-before-reassign order all come from the consumer
//! group, with no leader of our own to elect and no assignment to store; the
//! cooperative protocol revokes a moving slot (its tasks stop) before it is assigned
//! elsewhere.
//!
//! The mapping orders connectors by name and tasks by (connector, task) and gives the
//! n-th one slot `n % slots`, so with fewer tasks than slots each task has its own
//! slot, and a balanced spread of slots spreads them nearly evenly over the workers
//! (by slot, not by task, so the workers' task counts can differ by more than one).

use std::collections::{BTreeMap, BTreeSet};

use crate::herder::{ConnectorTaskId, TargetState};

/// What the cluster runs, as every worker computes it from the config topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SlotPlan {
    /// Every connector, stopped ones too: its slot's holder reports its status.
    pub(crate) connectors: BTreeMap<String, i32>,
    /// The tasks of started and paused connectors.
    pub(crate) tasks: BTreeMap<ConnectorTaskId, i32>,
}

/// The slots this worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ownership {
    /// Partitions of the slots topic (1 in standalone mode).
    pub(crate) slots: i32,
    pub(crate) owned: BTreeSet<i32>,
    /// Assigned slots of a departed worker, held until the instant given
    /// (`scheduled.rebalance.max.delay.ms`); their tasks do not run here yet.
    pub(crate) delayed: BTreeMap<i32, tokio::time::Instant>,
}

impl Ownership {
    /// Standalone: one worker holds everything.
    pub(crate) fn everything() -> Ownership {
        Ownership {
            slots: 1,
            owned: BTreeSet::from([0]),
            delayed: BTreeMap::new(),
        }
    }

    /// A worker that has not joined the group yet holds nothing.
    pub(crate) fn nothing(slots: i32) -> Ownership {
        Ownership {
            slots,
            owned: BTreeSet::new(),
            delayed: BTreeMap::new(),
        }
    }

    pub(crate) fn holds(&self, slot: i32) -> bool {
        self.owned.contains(&slot)
    }
}

/// Maps each connector and each task of an active connector to a slot.
///
/// `connectors` gives each connector's target state and task count; the order they
/// come in does not matter.
pub(crate) fn plan_slots<'a>(
    connectors: impl IntoIterator<Item = (&'a str, TargetState, usize)>,
    slots: i32,
) -> SlotPlan {
    let slots = slots.max(1);
    let mut sorted: Vec<_> = connectors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut plan = SlotPlan::default();
    let mut task_ordinal: i64 = 0;
    for (ordinal, (name, target, task_count)) in sorted.into_iter().enumerate() {
        plan.connectors
            .insert(name.to_string(), (ordinal as i64 % i64::from(slots)) as i32);
        if target == TargetState::Stopped {
            continue;
        }
        for task in 0..task_count {
            let id = ConnectorTaskId {
                connector: name.to_string(),
                task: task as u32,
            };
            plan.tasks
                .insert(id, (task_ordinal % i64::from(slots)) as i32);
            task_ordinal += 1;
        }
    }
    plan
}

/// Slots by worker, spread evenly (slot `s` to member `s % members`), for testing the
/// task spread; the live assignment comes from the group's assignor.
#[cfg(test)]
fn round_robin(slots: i32, members: usize) -> Vec<BTreeSet<i32>> {
    let mut owned = vec![BTreeSet::new(); members];
    if members == 0 {
        return owned;
    }
    for slot in 0..slots.max(0) {
        owned[slot as usize % members].insert(slot);
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(connector: &str, task: u32) -> ConnectorTaskId {
        ConnectorTaskId {
            connector: connector.into(),
            task,
        }
    }

    #[test]
    fn tasks_get_slots_in_sorted_order_whatever_the_input_order() {
        let a = plan_slots(
            [
                ("sink", TargetState::Started, 3),
                ("file", TargetState::Paused, 1),
            ],
            32,
        );
        let b = plan_slots(
            [
                ("file", TargetState::Paused, 1),
                ("sink", TargetState::Started, 3),
            ],
            32,
        );
        assert_eq!(a, b);
        assert_eq!(
            a.tasks.into_iter().collect::<Vec<_>>(),
            [
                (id("file", 0), 0),
                (id("sink", 0), 1),
                (id("sink", 1), 2),
                (id("sink", 2), 3)
            ]
        );
        assert_eq!(a.connectors["file"], 0);
        assert_eq!(a.connectors["sink"], 1);
    }

    #[test]
    fn stopped_connectors_keep_a_status_owner_but_run_no_tasks() {
        let plan = plan_slots(
            [
                ("a", TargetState::Stopped, 4),
                ("b", TargetState::Started, 1),
            ],
            8,
        );
        assert_eq!(plan.connectors.len(), 2);
        assert_eq!(plan.tasks.keys().collect::<Vec<_>>(), [&id("b", 0)]);
        assert_eq!(plan.tasks[&id("b", 0)], 0);
    }

    #[test]
    fn more_tasks_than_slots_wrap_around() {
        let plan = plan_slots([("s", TargetState::Started, 5)], 2);
        let slots: Vec<i32> = plan.tasks.values().copied().collect();
        assert_eq!(slots, [0, 1, 0, 1, 0]);
        // A zero slot count (a topic without partitions) cannot divide by zero.
        let plan = plan_slots([("s", TargetState::Started, 2)], 0);
        assert_eq!(plan.tasks.values().copied().collect::<Vec<_>>(), [0, 0]);
    }

    #[test]
    fn every_task_runs_on_exactly_one_worker_and_the_spread_is_even() {
        let plan = plan_slots(
            [
                ("a", TargetState::Started, 4),
                ("b", TargetState::Started, 3),
                ("c", TargetState::Paused, 2),
            ],
            32,
        );
        for members in 1..=4 {
            let owners = round_robin(32, members);
            let mut counts = vec![0; members];
            for slot in plan.tasks.values() {
                let holders: Vec<usize> =
                    (0..members).filter(|m| owners[*m].contains(slot)).collect();
                assert_eq!(holders.len(), 1, "slot {slot} with {members} workers");
                counts[holders[0]] += 1;
            }
            let (min, max) = (counts.iter().min(), counts.iter().max());
            assert!(max.unwrap() - min.unwrap() <= 1, "{counts:?}");
        }
    }

    #[test]
    fn ownership_of_a_standalone_worker_covers_every_slot() {
        let plan = plan_slots([("a", TargetState::Started, 3)], 1);
        let all = Ownership::everything();
        assert!(plan.tasks.values().all(|slot| all.holds(*slot)));
        assert!(!Ownership::nothing(32).holds(0));
    }
}
