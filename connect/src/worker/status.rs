//! Status transitions of connectors and tasks, as pure functions.
//!
//! A task is RUNNING or PAUSED while it runs here, FAILED with its error chain when it
//! stopped on its own (it stays FAILED until restarted, as in Kafka Connect),
//! RESTARTING between a restart request and its new start, and UNASSIGNED when the
//! worker that ran it gave its slot away. A connector's status follows its target
//! state, or is FAILED when its config cannot be used on the worker reporting it.
//!
//! Generations order the reports of different workers: a worker's generation is one
//! more than the highest it has seen in the status topic whenever it gets a new
//! assignment (a Lamport clock), so the worker that took a task over always reports
//! in a higher generation than the one that gave it away.

use crate::herder::{State, TargetState};

use super::records::{RestartRequest, StatusRecord};

/// Whether a worker may write `new` over `existing` when the write might be stale
/// (a task it stopped because it lost the slot): only its own report, or one of an
/// older generation, as Kafka Connect's `putSafe`.
pub(crate) fn can_write_safely(existing: Option<&StatusRecord>, new: &StatusRecord) -> bool {
    match existing {
        None => true,
        Some(existing) => {
            existing.worker_id == new.worker_id || existing.generation <= new.generation
        }
    }
}

/// The status a connector's owner reports: from the target state, or FAILED with the
/// reason its config cannot be used.
pub(crate) fn connector_state(
    target: TargetState,
    failure: Option<&str>,
) -> (State, Option<String>) {
    if let Some(reason) = failure {
        return (State::Failed, Some(reason.to_string()));
    }
    let state = match target {
        TargetState::Started => State::Running,
        TargetState::Paused => State::Paused,
        TargetState::Stopped => State::Stopped,
    };
    (state, None)
}

/// The status of a task that is running here.
pub(crate) fn running_task_state(target: TargetState) -> State {
    if target == TargetState::Paused {
        State::Paused
    } else {
        State::Running
    }
}

/// What a restart request restarts, from the statuses the worker taking the request
/// sees: Kafka Connect's `RestartRequest` semantics.
pub(crate) fn restart_plan(
    connector: Option<State>,
    tasks: &[(u32, Option<State>)],
    include_tasks: bool,
    only_failed: bool,
) -> RestartRequest {
    let selected = |state: Option<State>| !only_failed || state == Some(State::Failed);
    RestartRequest {
        include_tasks,
        only_failed,
        connector: selected(connector),
        tasks: if include_tasks {
            tasks
                .iter()
                .filter(|(_, state)| selected(*state))
                .map(|(task, _)| *task)
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// The RESTARTING report written for a restart that is pending: the owner's report
/// with only the state changed, so the owner's next report replaces it.
pub(crate) fn restarting(existing: &StatusRecord) -> StatusRecord {
    StatusRecord {
        state: State::Restarting,
        trace: None,
        ..existing.clone()
    }
}

/// The generation a worker reports in after a new assignment.
pub(crate) fn next_generation(own: u64, highest_seen: u64) -> u64 {
    own.max(highest_seen) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: State, worker: &str, generation: u64) -> StatusRecord {
        StatusRecord {
            state,
            trace: None,
            worker_id: worker.into(),
            generation,
        }
    }

    #[test]
    fn a_stale_unassigned_never_hides_the_new_owner() {
        let new_owner = status(State::Running, "b:8083", 5);
        let stale = status(State::Unassigned, "a:8083", 4);
        assert!(!can_write_safely(Some(&new_owner), &stale));
        assert!(can_write_safely(None, &stale));
        // Its own earlier report, or an older one of anyone, may be replaced.
        let own = status(State::Running, "a:8083", 4);
        assert!(can_write_safely(Some(&own), &stale));
        let older = status(State::Running, "b:8083", 3);
        assert!(can_write_safely(Some(&older), &stale));
    }

    #[test]
    fn connector_status_follows_the_target_state_unless_it_failed() {
        assert_eq!(
            connector_state(TargetState::Started, None),
            (State::Running, None)
        );
        assert_eq!(
            connector_state(TargetState::Paused, None),
            (State::Paused, None)
        );
        assert_eq!(
            connector_state(TargetState::Stopped, None),
            (State::Stopped, None)
        );
        assert_eq!(
            connector_state(TargetState::Started, Some("topic: missing")),
            (State::Failed, Some("topic: missing".into()))
        );
        assert_eq!(running_task_state(TargetState::Paused), State::Paused);
        assert_eq!(running_task_state(TargetState::Started), State::Running);
    }

    #[test]
    fn restart_selects_as_kafka_connect() {
        let tasks = [
            (0, Some(State::Running)),
            (1, Some(State::Failed)),
            (2, None),
        ];
        let plain = restart_plan(Some(State::Running), &tasks, false, false);
        assert!(plain.connector);
        assert!(plain.tasks.is_empty());

        let all = restart_plan(Some(State::Running), &tasks, true, false);
        assert!(all.connector);
        assert_eq!(all.tasks, [0, 1, 2]);

        let failed = restart_plan(Some(State::Running), &tasks, true, true);
        assert!(!failed.connector);
        assert_eq!(failed.tasks, [1]);

        let failed_connector = restart_plan(Some(State::Failed), &tasks, false, true);
        assert!(failed_connector.connector);
        assert!(failed_connector.tasks.is_empty());
    }

    #[test]
    fn restarting_keeps_the_owner_so_its_next_report_wins() {
        let mut failed = status(State::Failed, "a:8083", 2);
        failed.trace = Some("boom".into());
        let pending = restarting(&failed);
        assert_eq!(pending.state, State::Restarting);
        assert_eq!(pending.trace, None);
        assert_eq!(
            (pending.worker_id.as_str(), pending.generation),
            ("a:8083", 2)
        );
        assert!(can_write_safely(
            Some(&pending),
            &status(State::Running, "a:8083", 2)
        ));
    }

    #[test]
    fn generations_grow_past_everything_seen() {
        assert_eq!(next_generation(0, 0), 1);
        assert_eq!(next_generation(3, 7), 8);
        assert_eq!(next_generation(9, 7), 10);
    }
}
