//! Connector configuration: Kafka Connect's flat `key: value` string maps, declared
//! per connector with a [`ConfigDef`] and parsed into typed values.

mod def;
mod framework;

pub use def::{
    closest, ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance,
    ParsedConfig, Secret, Validator,
};
pub use framework::{config_key_infos, mask_secrets, validate_config, ConnectorConfig};
