//! This worker's view of the cluster: connector configs, target states, restart
//! requests and statuses, as applied from the config and status topics (or, in
//! standalone mode, from memory).
//!
//! One `View` behind a std mutex, shared by the REST side (reads) and the task
//! controller (reads, then acts). Every section is short and never awaits. Applying a
//! record wakes the controller, which compares the view with the tasks it runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::config::ConfigMap;
use crate::herder::{ConnectorTaskId, TargetState};
use crate::{ConnectorType, Plugins};

use super::records::{ActiveTopic, ConfigRecord, StatusRecord, Subject, TopicStatus};
use super::slots::{plan_slots, SlotPlan};

/// How long a claim on a name holds against later ones: enough for its create to
/// store the config, so a worker that died between the two does not block the name.
const CLAIM_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// A connector's stored config and what follows from it.
#[derive(Debug, Clone)]
pub(crate) struct ConnectorEntry {
    /// As given: env references unresolved.
    pub(crate) props: ConfigMap,
    /// Changes whenever the stored config changes; a task started from an older
    /// version restarts.
    pub(crate) version: u64,
    pub(crate) connector_type: Option<ConnectorType>,
    /// The plugin's split into task configs, or why it could not split. The same on
    /// every worker, since it depends only on the stored config.
    pub(crate) tasks: Result<Arc<Vec<ConfigMap>>, String>,
}

impl ConnectorEntry {
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.as_ref().map_or(0, |t| t.len())
    }
}

#[derive(Debug)]
pub(crate) struct View {
    plugins: Plugins,
    connectors: BTreeMap<String, ConnectorEntry>,
    target_states: BTreeMap<String, TargetState>,
    statuses: BTreeMap<Subject, StatusRecord>,
    /// Restart counters: a change restarts the subject wherever it runs.
    restarts: BTreeMap<Subject, u64>,
    /// The first live claim on each name that had no connector, and when it was read.
    claims: BTreeMap<String, (String, std::time::Instant)>,
    /// Active topics (KIP-558) by connector, then topic.
    topics: BTreeMap<String, BTreeMap<String, TopicStatus>>,
    /// Counts removed active topics, so tasks report the topics they use again.
    topics_epoch: u64,
    highest_generation: u64,
    next_version: u64,
}

impl View {
    pub(crate) fn new(plugins: Plugins) -> View {
        View {
            plugins,
            connectors: BTreeMap::new(),
            target_states: BTreeMap::new(),
            statuses: BTreeMap::new(),
            restarts: BTreeMap::new(),
            claims: BTreeMap::new(),
            topics: BTreeMap::new(),
            topics_epoch: 0,
            highest_generation: 0,
            next_version: 1,
        }
    }

    /// Applies a config record. A restart request read while replaying history
    /// (`live` false) was handled before this worker started and is skipped.
    pub(crate) fn apply_config(&mut self, record: ConfigRecord, live: bool) {
        match record {
            ConfigRecord::Connector(name, Some(props)) => {
                if self.connectors.get(&name).is_some_and(|e| e.props == props) {
                    return;
                }
                let entry = ConnectorEntry {
                    connector_type: self.connector_type(&props),
                    tasks: split(&self.plugins, &props).map(Arc::new),
                    version: self.next_version,
                    props,
                };
                self.next_version += 1;
                self.connectors.insert(name, entry);
            }
            ConfigRecord::Connector(name, None) => {
                self.connectors.remove(&name);
            }
            ConfigRecord::TargetState(name, Some(state)) => {
                self.target_states.insert(name, state);
            }
            ConfigRecord::TargetState(name, None) => {
                self.target_states.remove(&name);
            }
            ConfigRecord::Restart(name, request) if live => {
                let mut bump = |subject: Subject| *self.restarts.entry(subject).or_default() += 1;
                if request.connector {
                    bump(Subject::Connector(name.clone()));
                }
                for task in request.tasks {
                    bump(Subject::Task(ConnectorTaskId {
                        connector: name.clone(),
                        task,
                    }));
                }
            }
            ConfigRecord::Restart(..) => {}
            ConfigRecord::Claim(name, claim) if live => {
                let free = !self.connectors.contains_key(&name)
                    && self
                        .claims
                        .get(&name)
                        .is_none_or(|(_, at)| at.elapsed() >= CLAIM_TTL);
                if free {
                    self.claims.insert(name, (claim, std::time::Instant::now()));
                }
            }
            // Claims matter only to the creates waiting on them.
            ConfigRecord::Claim(..) => {}
        }
    }

    /// Whether `claim` is the claim that may create `name`.
    pub(crate) fn won_claim(&self, name: &str, claim: &str) -> bool {
        self.claims.get(name).is_some_and(|(won, _)| won == claim)
    }

    /// Applies a status record; `None` removes it (the connector is gone).
    pub(crate) fn apply_status(&mut self, subject: Subject, status: Option<StatusRecord>) {
        match status {
            Some(status) => {
                self.highest_generation = self.highest_generation.max(status.generation);
                self.statuses.insert(subject, status);
            }
            None => {
                self.statuses.remove(&subject);
            }
        }
    }

    /// Applies an active-topic record; `None` removes it (reset).
    pub(crate) fn apply_topic(&mut self, topic: ActiveTopic, status: Option<TopicStatus>) {
        match status {
            Some(status) => {
                self.topics
                    .entry(topic.connector)
                    .or_default()
                    .insert(topic.topic, status);
            }
            None => {
                if let Some(topics) = self.topics.get_mut(&topic.connector) {
                    if topics.remove(&topic.topic).is_some() {
                        self.topics_epoch += 1;
                    }
                    if topics.is_empty() {
                        self.topics.remove(&topic.connector);
                    }
                }
            }
        }
    }

    /// The topics the connector's tasks have used, sorted.
    pub(crate) fn active_topics(&self, connector: &str) -> Vec<String> {
        self.topics
            .get(connector)
            .map(|topics| topics.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn is_active_topic(&self, connector: &str, topic: &str) -> bool {
        self.topics
            .get(connector)
            .is_some_and(|topics| topics.contains_key(topic))
    }

    pub(crate) fn topics_epoch(&self) -> u64 {
        self.topics_epoch
    }

    fn connector_type(&self, props: &ConfigMap) -> Option<ConnectorType> {
        let class = props.get("connector.class")?;
        Some(self.plugins.find(class)?.connector_type())
    }

    pub(crate) fn connector(&self, name: &str) -> Option<&ConnectorEntry> {
        self.connectors.get(name)
    }

    pub(crate) fn connectors(&self) -> impl Iterator<Item = (&String, &ConnectorEntry)> {
        self.connectors.iter()
    }

    /// The target state; `STARTED` unless set otherwise.
    pub(crate) fn target_state(&self, name: &str) -> TargetState {
        self.target_states
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started)
    }

    pub(crate) fn status(&self, subject: &Subject) -> Option<&StatusRecord> {
        self.statuses.get(subject)
    }

    /// Every stored status of the connector and its tasks (also of tasks that no
    /// longer exist).
    pub(crate) fn statuses_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Subject> {
        self.statuses.keys().filter(move |s| s.connector() == name)
    }

    pub(crate) fn restart_epoch(&self, subject: &Subject) -> u64 {
        self.restarts.get(subject).copied().unwrap_or(0)
    }

    pub(crate) fn highest_generation(&self) -> u64 {
        self.highest_generation
    }

    /// The task ids a connector has now: none while it is stopped.
    pub(crate) fn task_ids(&self, name: &str) -> Vec<ConnectorTaskId> {
        let count = match self.connectors.get(name) {
            Some(_) if self.target_state(name) == TargetState::Stopped => 0,
            Some(entry) => entry.task_count(),
            None => 0,
        };
        (0..count as u32)
            .map(|task| ConnectorTaskId {
                connector: name.to_string(),
                task,
            })
            .collect()
    }

    pub(crate) fn plan(&self, slots: i32) -> SlotPlan {
        plan_slots(
            self.connectors
                .iter()
                .map(|(name, entry)| (name.as_str(), self.target_state(name), entry.task_count())),
            slots,
        )
    }
}

/// Splits a stored config into task configs with its plugin.
fn split(plugins: &Plugins, props: &ConfigMap) -> Result<Vec<ConfigMap>, String> {
    let class = props
        .get("connector.class")
        .ok_or("connector.class is not set")?;
    let plugin = plugins
        .find(class)
        .ok_or_else(|| format!("no connector plugin named {class} is installed"))?;
    let tasks_max = match props.get("tasks.max") {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("tasks.max must be a positive number, not {text}"))?,
    };
    plugin.task_configs(props, tasks_max.max(1)).map_err(|e| {
        format!(
            "the connector could not make its task configs: {}",
            e.chain()
        )
    })
}

/// The view and the signal that it changed.
#[derive(Debug)]
pub(crate) struct Shared {
    view: Mutex<View>,
    /// Wakes the controller; a notification sent while it is busy is kept for it.
    pub(crate) changed: Notify,
    /// The view's active-topics epoch, readable by tasks without the lock.
    topics_epoch: AtomicU64,
}

impl Shared {
    pub(crate) fn new(plugins: Plugins) -> Shared {
        Shared {
            view: Mutex::new(View::new(plugins)),
            changed: Notify::new(),
            topics_epoch: AtomicU64::new(0),
        }
    }

    /// Reads the view. A panic elsewhere while holding the lock left the view as
    /// applied so far, which is still the best knowledge there is.
    pub(crate) fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut View)) {
        {
            let mut view = self.view();
            change(&mut view);
            self.topics_epoch
                .store(view.topics_epoch(), Ordering::Relaxed);
        }
        self.changed.notify_one();
    }

    /// [`View::topics_epoch`] without taking the lock.
    pub(crate) fn topics_epoch(&self) -> u64 {
        self.topics_epoch.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigDef, ParsedConfig};
    use crate::herder::State;
    use crate::worker::records::RestartRequest;
    use crate::{ConnectError, ConnectorPlugin, Task};

    #[derive(Debug)]
    struct Split;

    impl ConnectorPlugin for Split {
        fn class(&self) -> &'static str {
            "io.weir.test.SplitSink"
        }
        fn connector_type(&self) -> ConnectorType {
            ConnectorType::Sink
        }
        fn version(&self) -> &'static str {
            "1"
        }
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new()
        }
        fn create_task(&self, _: &ParsedConfig) -> Result<Task, ConnectError> {
            Err(ConnectError::internal("not used"))
        }
    }

    fn view() -> View {
        View::new(Plugins::new(vec![Arc::new(Split)]))
    }

    use crate::config::config_map as props;

    #[test]
    fn a_changed_config_gets_a_new_version_and_the_same_one_does_not() {
        let mut view = view();
        let config = props(&[("connector.class", "SplitSink"), ("tasks.max", "3")]);
        view.apply_config(
            ConfigRecord::Connector("s".into(), Some(config.clone())),
            true,
        );
        let first = view.connector("s").unwrap().clone();
        assert_eq!(first.task_count(), 3);
        assert_eq!(first.connector_type, Some(ConnectorType::Sink));
        view.apply_config(ConfigRecord::Connector("s".into(), Some(config)), true);
        assert_eq!(view.connector("s").unwrap().version, first.version);
        let changed = props(&[("connector.class", "SplitSink"), ("tasks.max", "2")]);
        view.apply_config(ConfigRecord::Connector("s".into(), Some(changed)), true);
        assert!(view.connector("s").unwrap().version > first.version);
        assert_eq!(view.task_ids("s").len(), 2);
    }

    #[test]
    fn a_stopped_connector_has_no_tasks_and_unknown_plugins_say_why() {
        let mut view = view();
        let config = props(&[("connector.class", "SplitSink"), ("tasks.max", "2")]);
        view.apply_config(ConfigRecord::Connector("s".into(), Some(config)), true);
        assert_eq!(view.target_state("s"), TargetState::Started);
        view.apply_config(
            ConfigRecord::TargetState("s".into(), Some(TargetState::Stopped)),
            true,
        );
        assert!(view.task_ids("s").is_empty());
        assert!(view.plan(4).tasks.is_empty());
        assert_eq!(view.plan(4).connectors.len(), 1);

        let bad = props(&[("connector.class", "Nope")]);
        view.apply_config(ConfigRecord::Connector("b".into(), Some(bad)), true);
        let entry = view.connector("b").unwrap();
        assert_eq!(
            entry.tasks.as_ref().unwrap_err(),
            "no connector plugin named Nope is installed"
        );
        assert_eq!(entry.task_count(), 0);
    }

    #[test]
    fn the_first_live_claim_on_a_free_name_wins() {
        let mut view = view();
        let claim = |id: &str| ConfigRecord::Claim("s".into(), id.into());
        view.apply_config(claim("old"), false);
        assert!(!view.won_claim("s", "old"));
        view.apply_config(claim("a"), true);
        view.apply_config(claim("b"), true);
        assert!(view.won_claim("s", "a"));
        assert!(!view.won_claim("s", "b"));
        // A name taken by a connector cannot be claimed.
        let config = props(&[("connector.class", "SplitSink")]);
        view.apply_config(ConfigRecord::Connector("t".into(), Some(config)), true);
        view.apply_config(ConfigRecord::Claim("t".into(), "c".into()), true);
        assert!(!view.won_claim("t", "c"));
    }

    #[test]
    fn restart_requests_count_only_when_live() {
        let mut view = view();
        let request = RestartRequest {
            include_tasks: true,
            only_failed: false,
            connector: true,
            tasks: vec![1],
        };
        let task = Subject::Task(ConnectorTaskId {
            connector: "s".into(),
            task: 1,
        });
        view.apply_config(ConfigRecord::Restart("s".into(), request.clone()), false);
        assert_eq!(view.restart_epoch(&task), 0);
        view.apply_config(ConfigRecord::Restart("s".into(), request), true);
        assert_eq!(view.restart_epoch(&task), 1);
        assert_eq!(view.restart_epoch(&Subject::Connector("s".into())), 1);
    }

    #[test]
    fn active_topics_are_listed_per_connector_and_a_reset_bumps_the_epoch() {
        let mut view = view();
        let topic = |topic: &str, connector: &str| ActiveTopic {
            topic: topic.into(),
            connector: connector.into(),
        };
        let status = |name: &str| TopicStatus {
            name: name.into(),
            connector: "s".into(),
            task: 0,
            discover_timestamp: 1,
        };
        view.apply_topic(topic("b", "s"), Some(status("b")));
        view.apply_topic(topic("a", "s"), Some(status("a")));
        view.apply_topic(topic("c", "other"), Some(status("c")));
        assert_eq!(view.active_topics("s"), ["a", "b"]);
        assert!(view.is_active_topic("s", "a"));
        assert!(!view.is_active_topic("s", "c"));
        assert_eq!(view.topics_epoch(), 0);
        view.apply_topic(topic("a", "s"), None);
        view.apply_topic(topic("a", "s"), None);
        assert_eq!(view.active_topics("s"), ["b"]);
        assert_eq!(view.topics_epoch(), 1);
        assert!(view.active_topics("nope").is_empty());
    }

    #[test]
    fn statuses_track_the_highest_generation_and_tombstones_remove_them() {
        let mut view = view();
        let subject = Subject::Connector("s".into());
        let status = StatusRecord {
            state: State::Running,
            trace: None,
            worker_id: "a".into(),
            generation: 7,
        };
        view.apply_status(subject.clone(), Some(status));
        assert_eq!(view.highest_generation(), 7);
        assert_eq!(view.statuses_of("s").count(), 1);
        view.apply_status(subject.clone(), None);
        assert!(view.status(&subject).is_none());
        assert_eq!(view.highest_generation(), 7);
    }
}
