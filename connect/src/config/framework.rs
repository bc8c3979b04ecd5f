//! Temporary stand-in: signatures only, replaced by the real framework config.

use std::sync::Arc;

use crate::config::{ConfigDef, ConfigIssue, ConfigMap};
use crate::herder::{ConfigInfos, ConfigKeyInfo};
use crate::{ConnectorPlugin, ConnectorType, Plugins};

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub plugin: Arc<dyn ConnectorPlugin>,
    pub connector_type: ConnectorType,
    pub tasks_max: usize,
    pub raw: ConfigMap,
}

impl ConnectorConfig {
    pub fn parse(
        plugins: &Plugins,
        props: &ConfigMap,
    ) -> Result<ConnectorConfig, Vec<ConfigIssue>> {
        let _ = (plugins, props);
        unimplemented!("stand-in")
    }
}

pub fn validate_config(plugins: &Plugins, props: &ConfigMap) -> ConfigInfos {
    let _ = (plugins, props);
    unimplemented!("stand-in")
}

pub fn config_key_infos(def: &ConfigDef) -> Vec<ConfigKeyInfo> {
    let _ = def;
    unimplemented!("stand-in")
}

pub fn mask_secrets(plugins: &Plugins, props: &ConfigMap) -> ConfigMap {
    let _ = (plugins, props);
    unimplemented!("stand-in")
}
