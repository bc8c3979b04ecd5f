//! Connector configuration: Kafka Connect's flat `key: value` string maps, declared
//! per connector with a [`ConfigDef`] and parsed into typed values.

mod def;

pub use def::{
    closest, ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance,
    ParsedConfig, Secret, Validator,
};
mod framework;
pub use framework::{resolve_env, ConnectorConfig, ErrorPolicy, Tolerance};
