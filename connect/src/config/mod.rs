//! Connector configuration: Kafka Connect's flat `key: value` string maps, declared
//! per connector with a [`ConfigDef`] and parsed into typed values.
//!
//! - [`ConnectorConfig::parse`]: the runtime's keys, the plugin's, transforms and
//!   converters, checked together.
//! - [`resolve_env`]: `${env:NAME}` references, resolved only when parsing.
//! - [`validate_config`], [`config_key_infos`], [`mask_secrets`]: what the REST API shows.
//! - [`TopicCreation`]: how a source creates the topics it writes to (KIP-158).
//! - [`pipeline`]: YAML pipeline files, turned into connector configs.

mod checks;
mod def;
mod env;
mod framework;
mod keys;
pub mod pipeline;
mod properties;
#[cfg(test)]
pub(crate) mod testing;
mod topic_creation;
mod validate;

pub use def::{
    closest, config_map, ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, ConfigValue,
    Importance, ParsedConfig, Secret, Validator,
};
pub use env::{resolve_env, resolve_env_with};
pub use framework::{ConnectorConfig, ErrorPolicy, Tolerance, TransactionBoundary};
pub use keys::{connector_def, framework_def, GROUP_COMMON, GROUP_ERRORS, GROUP_TRANSFORMS};
pub(crate) use keys::{DEFAULT_HEADER_CONVERTER, HEADER_CONVERTER};
pub use properties::{parse_properties, PropertiesError};
pub use topic_creation::{TopicCreation, TopicCreationGroup, DEFAULT_GROUP};
pub use validate::{
    add_issues, config_key_infos, mask_secrets, validate_config, with_plugin_from_path,
};
