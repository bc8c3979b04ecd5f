//! temporary stand-in: replaced by the framework config at merge.
#![allow(missing_docs, dead_code)]
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigIssue, ConfigMap, ParsedConfig};
use crate::converter::Converter;
use crate::transforms::TransformChain;
use crate::{ConnectorPlugin, ConnectorType, Plugins};

#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub plugin: Arc<dyn ConnectorPlugin>,
    pub connector_type: ConnectorType,
    pub tasks_max: usize,
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    pub key_converter: Arc<dyn Converter>,
    pub value_converter: Arc<dyn Converter>,
    pub transforms: Arc<TransformChain>,
    pub errors: ErrorPolicy,
    pub batch_max_records: usize,
    pub batch_max_ms: Duration,
    pub producer_overrides: ConfigMap,
    pub consumer_overrides: ConfigMap,
    pub connector: ParsedConfig,
    pub raw: ConfigMap,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    None,
    All,
}
#[derive(Debug, Clone)]
pub struct ErrorPolicy {
    pub tolerance: Tolerance,
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    pub dlq_topic: Option<String>,
    pub dlq_replication_factor: i16,
    pub dlq_context_headers: bool,
}
impl ConnectorConfig {
    pub fn parse(
        _plugins: &Plugins,
        _props: &ConfigMap,
    ) -> Result<ConnectorConfig, Vec<ConfigIssue>> {
        unimplemented!("stand-in")
    }
}
pub fn resolve_env(props: &ConfigMap) -> Result<ConfigMap, Vec<ConfigIssue>> {
    Ok(props.clone())
}
