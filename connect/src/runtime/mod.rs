//! Temporary stand-in: signatures only, replaced by the real task runtime.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{ConfigMap, ConnectorConfig};
use crate::herder::{ConnectorTaskId, PartitionOffset};
use crate::{ConnectError, Plugins};

#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub bootstrap_servers: String,
    pub client_config: ConfigMap,
    pub offsets_topic: String,
    pub worker_id: String,
}

#[derive(Debug, Clone)]
pub struct Runtime {
    settings: RuntimeSettings,
    plugins: Plugins,
}

#[derive(Debug, Clone)]
pub struct TaskControl {
    pub cancel: CancellationToken,
    pub paused: tokio::sync::watch::Receiver<bool>,
}

impl Runtime {
    pub async fn start(
        settings: RuntimeSettings,
        plugins: Plugins,
    ) -> Result<Runtime, ConnectError> {
        Ok(Runtime { settings, plugins })
    }

    pub fn plugins(&self) -> &Plugins {
        &self.plugins
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    pub fn render_metrics(&self) -> String {
        String::new()
    }

    pub async fn run_task(
        &self,
        id: ConnectorTaskId,
        config: Arc<ConnectorConfig>,
        task_config: ConfigMap,
        control: TaskControl,
    ) -> Result<(), ConnectError> {
        let _ = (id, config, task_config);
        control.cancel.cancelled().await;
        Ok(())
    }

    pub async fn source_offsets(
        &self,
        connector: &str,
    ) -> Result<Vec<PartitionOffset>, ConnectError> {
        let _ = connector;
        unimplemented!("stand-in")
    }

    pub async fn alter_source_offsets(
        &self,
        connector: &str,
        offsets: &[PartitionOffset],
    ) -> Result<(), ConnectError> {
        let _ = (connector, offsets);
        unimplemented!("stand-in")
    }

    pub async fn reset_source_offsets(&self, connector: &str) -> Result<(), ConnectError> {
        let _ = connector;
        unimplemented!("stand-in")
    }

    pub async fn sink_offsets(
        &self,
        connector: &str,
    ) -> Result<Vec<PartitionOffset>, ConnectError> {
        let _ = connector;
        unimplemented!("stand-in")
    }

    pub async fn alter_sink_offsets(
        &self,
        connector: &str,
        offsets: &[PartitionOffset],
    ) -> Result<(), ConnectError> {
        let _ = (connector, offsets);
        unimplemented!("stand-in")
    }

    pub async fn reset_sink_offsets(&self, connector: &str) -> Result<(), ConnectError> {
        let _ = connector;
        unimplemented!("stand-in")
    }
}
