//! What should run on this worker, compared with what does: the controller's one
//! decision, taken again after every change.
//!
//! From the view: every connector and task of the cluster gets a slot
//! ([`super::slots`]); this worker reports the status of the connectors in its slots
//! and runs the tasks in its slots. A task runs with the config version and restart
//! count it was started with (its [`Stamp`]); when either changes it is restarted,
//! when its slot goes elsewhere it is stopped as revoked, and when it no longer exists
//! it is stopped as removed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::{ConfigMap, ConnectorConfig};
use crate::herder::{ConnectorTaskId, State, TargetState};

use super::controller::{Controller, Stamp, StopReason};
use super::records::Subject;
use super::status::{connector_state, running_task_state};

/// A task this worker should run.
#[derive(Debug)]
struct TaskDuty {
    stamp: Stamp,
    target: TargetState,
    config: ConfigMap,
}

/// A connector whose status this worker reports.
#[derive(Debug)]
struct ConnectorDuty {
    target: TargetState,
    /// Why the connector cannot make tasks, if it cannot.
    split_error: Option<String>,
}

/// What the view says this worker should do.
#[derive(Debug, Default)]
struct Duties {
    tasks: BTreeMap<ConnectorTaskId, TaskDuty>,
    connectors: BTreeMap<String, ConnectorDuty>,
    /// Every task of the cluster, wherever it runs.
    planned: BTreeSet<ConnectorTaskId>,
    /// Every connector that exists.
    existing: BTreeSet<String>,
    /// Config, version and connector restart count of every connector with a duty here.
    configs: BTreeMap<String, (u64, u64, ConfigMap)>,
}

impl Controller {
    pub(super) fn reconcile(&mut self) {
        let duties = self.duties();

        let current: Vec<(ConnectorTaskId, Stamp)> = self
            .running
            .iter()
            .filter(|(_, r)| r.stop.is_none())
            .map(|(id, r)| (id.clone(), r.stamp))
            .collect();
        for (id, stamp) in current {
            match duties.tasks.get(&id) {
                Some(duty) if duty.stamp == stamp => {}
                Some(_) => self.stop(&id, StopReason::Restart),
                None if duties.planned.contains(&id) => self.stop(&id, StopReason::Revoked),
                None => self.stop(&id, StopReason::Removed),
            }
        }
        self.ended.retain(|id, _| duties.tasks.contains_key(id));

        for (name, duty) in &duties.connectors {
            let failure = duty
                .split_error
                .clone()
                .or_else(|| self.parse(name, &duties).err());
            let (state, trace) = connector_state(duty.target, failure.as_deref());
            self.report(Subject::Connector(name.clone()), state, trace);
        }
        let given_up: Vec<String> = self
            .connectors
            .iter()
            .filter(|name| !duties.connectors.contains_key(*name))
            .cloned()
            .collect();
        for name in given_up {
            if duties.existing.contains(&name) {
                self.report_safely(Subject::Connector(name), State::Unassigned, None);
            }
        }
        self.connectors = duties.connectors.keys().cloned().collect();

        for (id, duty) in &duties.tasks {
            let subject = Subject::Task(id.clone());
            let paused = duty.target == TargetState::Paused;
            if let Some(running) = self.running.get(id) {
                // A stopping instance is replaced once it has ended.
                if running.stop.is_none() {
                    running
                        .paused
                        .send_if_modified(|p| std::mem::replace(p, paused) != paused);
                    self.report(subject, running_task_state(duty.target), None);
                }
                continue;
            }
            if let Some((stamp, trace)) = self.ended.get(id) {
                if *stamp == duty.stamp {
                    let trace = trace.clone();
                    self.report(subject, State::Failed, Some(trace));
                    continue;
                }
            }
            match self.parse(&id.connector, &duties) {
                Ok(config) => {
                    self.start(id.clone(), duty.stamp, config, duty.config.clone(), paused);
                    self.report(subject, running_task_state(duty.target), None);
                }
                Err(trace) => {
                    self.report(subject, State::Failed, Some(trace.clone()));
                    self.ended.insert(id.clone(), (duty.stamp, trace));
                }
            }
        }

        self.parsed.retain(|name, _| duties.existing.contains(name));
    }

    fn duties(&self) -> Duties {
        let view = self.shared.view();
        let plan = view.plan(self.ownership.slots);
        let mut duties = Duties {
            planned: plan.tasks.keys().cloned().collect(),
            existing: plan.connectors.keys().cloned().collect(),
            ..Duties::default()
        };
        let keep_config = |duties: &mut Duties, name: &str| {
            if let Some(entry) = view.connector(name) {
                let restart = view.restart_epoch(&Subject::Connector(name.to_string()));
                duties
                    .configs
                    .entry(name.to_string())
                    .or_insert_with(|| (entry.version, restart, entry.props.clone()));
            }
        };
        for (name, slot) in &plan.connectors {
            let Some(entry) = view.connector(name) else {
                continue;
            };
            if self.ownership.holds(*slot) {
                let duty = ConnectorDuty {
                    target: view.target_state(name),
                    split_error: entry.tasks.as_ref().err().cloned(),
                };
                duties.connectors.insert(name.clone(), duty);
                keep_config(&mut duties, name);
            }
        }
        for (id, slot) in &plan.tasks {
            if !self.ownership.holds(*slot) {
                continue;
            }
            let Some(entry) = view.connector(&id.connector) else {
                continue;
            };
            let Some(config) = entry
                .tasks
                .as_ref()
                .ok()
                .and_then(|tasks| tasks.get(id.task as usize))
            else {
                continue;
            };
            let duty = TaskDuty {
                stamp: Stamp {
                    version: entry.version,
                    restart: view.restart_epoch(&Subject::Task(id.clone())),
                },
                target: view.target_state(&id.connector),
                config: config.clone(),
            };
            duties.tasks.insert(id.clone(), duty);
            keep_config(&mut duties, &id.connector);
        }
        duties
    }

    /// The connector's parsed config (env references resolved here), parsed again
    /// when the config changes or the connector is restarted.
    fn parse(&mut self, name: &str, duties: &Duties) -> Result<Arc<ConnectorConfig>, String> {
        let Some((version, restart, props)) = duties.configs.get(name) else {
            return Err(format!("connector {name} has no config"));
        };
        let key = (*version, *restart);
        if let Some((cached, parsed)) = self.parsed.get(name) {
            if *cached == key {
                return parsed.clone();
            }
        }
        let parsed = (self.runtime.settings())
            .parse_connector(self.runtime.plugins(), props)
            .map(Arc::new)
            .map_err(|issues| {
                let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
                format!(
                    "the connector config is invalid on worker {}: {}",
                    self.worker_id,
                    lines.join("; ")
                )
            });
        self.parsed.insert(name.to_string(), (key, parsed.clone()));
        parsed
    }
}
