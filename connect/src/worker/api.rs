//! The worker as the REST API sees it: Kafka Connect's herder operations and their
//! error messages.
//!
//! Reads answer from this worker's view. Writes go to the backing store and return
//! once this worker has applied them; the workers running the affected tasks act on
//! them when they read them. A restart is decided here (which tasks, from the statuses
//! seen here), marked RESTARTING, and then carried out by the tasks' owners.

use async_trait::async_trait;

use crate::config::{
    add_issues, closest, config_key_infos, connector_def, mask_secrets, validate_config, ConfigMap,
};
use crate::herder::{
    ConfigInfos, ConfigKeyInfo, ConfigPatch, ConnectorInfo, ConnectorOffsets, ConnectorState,
    ConnectorStateInfo, ConnectorTaskId, Herder, HerderError, PluginInfo, State, TargetState,
    TaskInfo, TaskState, Upserted,
};
use crate::ConnectorType;

use super::errors::{herder_error, invalid_config_message, not_found, stopped_required};
use super::records::{ActiveTopic, ConfigRecord, RestartRequest, StatusRecord, Subject};
use super::status::{restart_plan, restarting};
use super::view::View;
use super::{kafka, Worker};

/// How long an offsets change waits for a stopped connector's tasks to end: their
/// grace period, plus the time for their statuses to reach this worker.
const TASKS_STOPPING_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// How long creating a connector waits for its owner's first status, so a status read
/// right after the create names the worker that runs it.
const FIRST_STATUS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn connector_type(view: &View, name: &str) -> Result<ConnectorType, HerderError> {
    let entry = view.connector(name).ok_or_else(|| not_found(name))?;
    entry.connector_type.ok_or_else(|| {
        let class = entry
            .props
            .get("connector.class")
            .map_or("", String::as_str);
        HerderError::Internal(format!(
            "connector {name} uses plugin {class}, which is not installed on this worker"
        ))
    })
}

fn task_state(id: u32, status: &StatusRecord) -> TaskState {
    TaskState {
        id,
        state: status.state,
        worker_id: status.worker_id.clone(),
        trace: status.trace.clone(),
    }
}

fn state_info(view: &View, name: &str) -> Result<ConnectorStateInfo, HerderError> {
    let connector_type = connector_type(view, name)?;
    // Kafka Connect answers 404 until the connector's owner reported, and lists only
    // the tasks that have; a create waits for that first report (FIRST_STATUS_WAIT).
    let connector = view
        .status(&Subject::Connector(name.to_string()))
        .map(|s| ConnectorState {
            state: s.state,
            worker_id: s.worker_id.clone(),
            trace: s.trace.clone(),
        })
        .ok_or_else(|| HerderError::NotFound(format!("No status found for connector {name}")))?;
    let tasks = view
        .task_ids(name)
        .into_iter()
        .filter_map(|id| {
            let task = id.task;
            view.status(&Subject::Task(id))
                .map(|status| task_state(task, status))
        })
        .collect();
    Ok(ConnectorStateInfo {
        name: name.to_string(),
        connector,
        tasks,
        connector_type,
    })
}

impl Worker {
    fn require(&self, name: &str) -> Result<(), HerderError> {
        match self.shared.view().connector(name) {
            Some(_) => Ok(()),
            None => Err(not_found(name)),
        }
    }

    async fn put(&self, record: ConfigRecord) -> Result<(), HerderError> {
        self.store.put_config(record).await.map_err(herder_error)
    }

    /// Marks what a restart selected RESTARTING, then asks the owners to restart it.
    /// Returns the status as marked, before any owner acted on the request.
    async fn restart(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStateInfo, HerderError> {
        let marks: Vec<(Subject, StatusRecord)> = {
            let view = self.shared.view();
            let subjects = request
                .connector
                .then(|| Subject::Connector(name.to_string()))
                .into_iter()
                .chain(request.tasks.iter().map(|task| {
                    Subject::Task(ConnectorTaskId {
                        connector: name.to_string(),
                        task: *task,
                    })
                }));
            subjects
                .filter_map(|s| {
                    view.status(&s)
                        .map(|status| (s.clone(), restarting(status)))
                })
                .collect()
        };
        // The answer shows the marks even if an owner has already reported again.
        let mut marked = state_info(&self.shared.view(), name)?;
        for (subject, status) in marks {
            match &subject {
                Subject::Connector(_) => {
                    marked.connector.state = status.state;
                    marked.connector.trace = None;
                }
                Subject::Task(id) => {
                    for task in marked.tasks.iter_mut().filter(|t| t.id == id.task) {
                        task.state = status.state;
                        task.trace = None;
                    }
                }
            }
            self.store.put_status(subject, Some(status));
        }
        self.put(ConfigRecord::Restart(name.to_string(), request))
            .await?;
        Ok(marked)
    }

    /// Stores a connector config. A create with an `initial` target state stores the
    /// state first, so a connector created PAUSED or STOPPED never runs.
    async fn upsert(
        &self,
        name: &str,
        mut config: ConfigMap,
        allow_replace: bool,
        initial: Option<TargetState>,
    ) -> Result<Upserted, HerderError> {
        match config.get("name") {
            Some(given) if given != name => {
                return Err(HerderError::BadRequest(format!(
                    "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
                )));
            }
            Some(_) => {}
            None => {
                config.insert("name".to_string(), name.to_string());
            }
        }
        (self.runtime.settings())
            .parse_connector(self.runtime.plugins(), &config)
            .map_err(|issues| HerderError::BadRequest(invalid_config_message(&issues)))?;
        let exists = self.shared.view().connector(name).is_some();
        if exists && !allow_replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        if !exists && !allow_replace {
            self.claim(name).await?;
        }
        if let Some(state) = initial {
            self.put(ConfigRecord::TargetState(name.to_string(), Some(state)))
                .await?;
        }
        self.put(ConfigRecord::Connector(name.to_string(), Some(config)))
            .await?;
        if !exists {
            self.wait_for_first_status(name).await;
        }
        Ok(Upserted {
            created: !exists,
            info: self.connector_info(name).await?,
        })
    }

    /// Claims `name` for a create, so that of two workers creating it at once only
    /// one does: the claim read first (the config topic has one order for every
    /// worker) wins, and the other create is a conflict.
    async fn claim(&self, name: &str) -> Result<(), HerderError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let sequence = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let claim = format!("{}-{nanos}-{sequence}", self.worker_id);
        self.put(ConfigRecord::Claim(name.to_string(), claim.clone()))
            .await?;
        if self.shared.view().won_claim(name, &claim) {
            Ok(())
        } else {
            Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )))
        }
    }

    /// Waits, up to [`FIRST_STATUS_WAIT`], until the connector's owner reported its
    /// state. No owner (every worker busy rebalancing) is not an error: the status
    /// reads 404 until one reports.
    async fn wait_for_first_status(&self, name: &str) {
        let subject = Subject::Connector(name.to_string());
        let deadline = tokio::time::Instant::now() + FIRST_STATUS_WAIT;
        while self.shared.view().status(&subject).is_none()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The connector's type; with `must_be_stopped`, only once it is STOPPED and none
    /// of its tasks runs anywhere any more. A stopping source task stores its last
    /// positions as it ends, so changing offsets before then would be overwritten.
    async fn offsets_type(
        &self,
        name: &str,
        must_be_stopped: bool,
    ) -> Result<ConnectorType, HerderError> {
        let deadline = tokio::time::Instant::now() + TASKS_STOPPING_WAIT;
        loop {
            let still_running = {
                let view = self.shared.view();
                let connector_type = connector_type(&view, name)?;
                if !must_be_stopped {
                    return Ok(connector_type);
                }
                if view.target_state(name) != TargetState::Stopped {
                    return Err(stopped_required(name));
                }
                let running = view.statuses_of(name).any(|subject| {
                    matches!(subject, Subject::Task(_))
                        && view.status(subject).is_some_and(|status| {
                            matches!(
                                status.state,
                                State::Running | State::Paused | State::Restarting
                            )
                        })
                });
                if !running {
                    return Ok(connector_type);
                }
                running
            };
            if still_running && tokio::time::Instant::now() >= deadline {
                return Err(HerderError::Conflict(format!(
                    "The tasks of connector {name} are still stopping; try again in a few seconds"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[async_trait]
impl Herder for Worker {
    fn worker_id(&self) -> &str {
        &self.worker_id
    }

    async fn kafka_cluster_id(&self) -> Result<String, HerderError> {
        self.cluster_id
            .get_or_try_init(|| kafka::cluster_id(self.admin.clone(), self.runtime.settings()))
            .await
            .cloned()
            .map_err(herder_error)
    }

    async fn connectors(&self) -> Vec<String> {
        self.shared
            .view()
            .connectors()
            .map(|(name, _)| name.clone())
            .collect()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let view = self.shared.view();
        let connector_type = connector_type(&view, name)?;
        let entry = view.connector(name).ok_or_else(|| not_found(name))?;
        Ok(ConnectorInfo {
            name: name.to_string(),
            config: mask_secrets(self.runtime.plugins(), &entry.props),
            tasks: view.task_ids(name),
            connector_type,
        })
    }

    async fn connector_config(&self, name: &str) -> Result<ConfigMap, HerderError> {
        let view = self.shared.view();
        let entry = view.connector(name).ok_or_else(|| not_found(name))?;
        Ok(mask_secrets(self.runtime.plugins(), &entry.props))
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
    ) -> Result<Upserted, HerderError> {
        self.upsert(name, config, allow_replace, None).await
    }

    async fn create_connector(
        &self,
        name: &str,
        config: ConfigMap,
        initial: TargetState,
    ) -> Result<Upserted, HerderError> {
        self.upsert(name, config, false, Some(initial)).await
    }

    async fn patch_connector_config(
        &self,
        name: &str,
        patch: ConfigPatch,
    ) -> Result<ConnectorInfo, HerderError> {
        let mut config = {
            let view = self.shared.view();
            view.connector(name)
                .ok_or_else(|| not_found(name))?
                .props
                .clone()
        };
        for (key, value) in patch {
            match value {
                Some(value) => config.insert(key, value),
                None => config.remove(&key),
            };
        }
        Ok(self.upsert(name, config, true, None).await?.info)
    }

    async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        self.require(name)?;
        self.put(ConfigRecord::Connector(name.to_string(), None))
            .await?;
        self.put(ConfigRecord::TargetState(name.to_string(), None))
            .await?;
        let statuses: Vec<Subject> = self.shared.view().statuses_of(name).cloned().collect();
        for subject in statuses {
            self.store.put_status(subject, None);
        }
        Ok(())
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        state_info(&self.shared.view(), name)
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let view = self.shared.view();
        let entry = view.connector(name).ok_or_else(|| not_found(name))?;
        let configs = match &entry.tasks {
            Ok(configs) => configs.clone(),
            Err(_) => return Ok(Vec::new()),
        };
        Ok(view
            .task_ids(name)
            .into_iter()
            .zip(configs.iter())
            .map(|(id, config)| TaskInfo {
                id,
                config: mask_secrets(self.runtime.plugins(), config),
            })
            .collect())
    }

    async fn task_status(&self, id: &ConnectorTaskId) -> Result<TaskState, HerderError> {
        let view = self.shared.view();
        view.connector(&id.connector)
            .ok_or_else(|| not_found(&id.connector))?;
        if !view.task_ids(&id.connector).contains(id) {
            return Err(HerderError::NotFound(format!(
                "No status found for task {}-{}",
                id.connector, id.task
            )));
        }
        view.status(&Subject::Task(id.clone()))
            .map(|status| task_state(id.task, status))
            .ok_or_else(|| {
                HerderError::NotFound(format!(
                    "No status found for task {}-{}",
                    id.connector, id.task
                ))
            })
    }

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), HerderError> {
        self.require(name)?;
        self.put(ConfigRecord::TargetState(name.to_string(), Some(state)))
            .await
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStateInfo, HerderError> {
        let request = {
            let view = self.shared.view();
            let current = state_info(&view, name)?;
            let tasks: Vec<(u32, Option<State>)> = current
                .tasks
                .iter()
                .map(|t| {
                    (
                        t.id,
                        view.status(&Subject::Task(task_id(name, t.id)))
                            .map(|s| s.state),
                    )
                })
                .collect();
            let connector = view
                .status(&Subject::Connector(name.to_string()))
                .map(|s| s.state);
            restart_plan(connector, &tasks, include_tasks, only_failed)
        };
        self.restart(name, request).await
    }

    async fn restart_task(&self, id: &ConnectorTaskId) -> Result<(), HerderError> {
        {
            let view = self.shared.view();
            view.connector(&id.connector)
                .ok_or_else(|| not_found(&id.connector))?;
            if !view.task_ids(&id.connector).contains(id) {
                return Err(HerderError::NotFound(format!(
                    "Task {}-{} not found",
                    id.connector, id.task
                )));
            }
        }
        let request = RestartRequest {
            include_tasks: true,
            only_failed: false,
            connector: false,
            tasks: vec![id.task],
        };
        self.restart(&id.connector, request).await.map(|_| ())
    }

    fn active_topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        if !self.runtime.settings().topic_tracking {
            return Err(tracking_disabled());
        }
        Ok(self.shared.view().active_topics(name))
    }

    async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError> {
        let settings = self.runtime.settings();
        if !settings.topic_tracking {
            return Err(tracking_disabled());
        }
        if !settings.topic_tracking_allow_reset {
            return Err(HerderError::Forbidden(
                "Topic tracking reset is disabled.".to_string(),
            ));
        }
        let topics = self.shared.view().active_topics(name);
        for topic in topics {
            let topic = ActiveTopic {
                topic,
                connector: name.to_string(),
            };
            self.store.put_topic(topic, None);
        }
        Ok(())
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, HerderError> {
        let offsets = match self.offsets_type(name, false).await? {
            ConnectorType::Source => self.runtime.source_offsets(name).await,
            ConnectorType::Sink => self.runtime.sink_offsets(name).await,
        };
        Ok(ConnectorOffsets {
            offsets: offsets.map_err(herder_error)?,
        })
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<(), HerderError> {
        match self.offsets_type(name, true).await? {
            ConnectorType::Source => {
                self.runtime
                    .alter_source_offsets(name, &offsets.offsets)
                    .await
            }
            ConnectorType::Sink => {
                self.runtime
                    .alter_sink_offsets(name, &offsets.offsets)
                    .await
            }
        }
        .map_err(herder_error)
    }

    async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        match self.offsets_type(name, true).await? {
            ConnectorType::Source => self.runtime.reset_source_offsets(name).await,
            ConnectorType::Sink => self.runtime.reset_sink_offsets(name).await,
        }
        .map_err(herder_error)
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        let mut plugins: Vec<PluginInfo> = self
            .runtime
            .plugins()
            .iter()
            .map(|p| PluginInfo {
                class: p.class().to_string(),
                plugin_type: p.connector_type(),
                version: p.version().to_string(),
            })
            .collect();
        plugins.sort_by(|a, b| a.class.cmp(&b.class));
        plugins
    }

    fn plugin_config(&self, plugin: &str) -> Result<Vec<ConfigKeyInfo>, HerderError> {
        let found = self
            .runtime
            .plugins()
            .find(plugin)
            .ok_or_else(|| self.unknown_plugin(plugin))?;
        Ok(config_key_infos(&connector_def(found.as_ref())))
    }

    fn validate(&self, plugin_type: &str, config: &ConfigMap) -> Result<ConfigInfos, HerderError> {
        let plugins = self.runtime.plugins();
        let plugin = plugins
            .find(plugin_type)
            .ok_or_else(|| self.unknown_plugin(plugin_type))?;
        let mut config = config.clone();
        match config.get("connector.class") {
            Some(given) if plugins.find(given).map(|p| p.class()) != Some(plugin.class()) => {
                return Err(HerderError::BadRequest(format!(
                    "Included connector type {given} does not match request type {plugin_type}"
                )));
            }
            Some(_) => {}
            None => {
                config.insert("connector.class".to_string(), plugin_type.to_string());
            }
        }
        let settings = self.runtime.settings();
        let mut infos = validate_config(plugins, &settings.with_connector_defaults(&config));
        add_issues(&mut infos, settings.refused_overrides(&config));
        Ok(infos)
    }

    fn metrics(&self) -> String {
        self.runtime.render_metrics()
    }
}

impl Worker {
    fn unknown_plugin(&self, name: &str) -> HerderError {
        let mut message = format!("Unknown plugin {name}.");
        if let Some(near) = closest(name, self.runtime.plugins().names()) {
            message.push_str(&format!(" Did you mean {near}?"));
        }
        HerderError::NotFound(message)
    }
}

fn task_id(connector: &str, task: u32) -> ConnectorTaskId {
    ConnectorTaskId {
        connector: connector.to_string(),
        task,
    }
}

fn tracking_disabled() -> HerderError {
    HerderError::Forbidden("Topic tracking is disabled.".to_string())
}
