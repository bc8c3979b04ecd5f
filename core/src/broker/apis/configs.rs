//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
//!
//! Topic configs can be changed at runtime. Broker configs are described but static:
//! they come from flags, environment or the config file at startup.

use super::errors::{message, metadata_error_code};
use crate::broker::state::BrokerState;
use crate::metadata::topic_config::{topic_config_def, ConfigSource, ConfigType, TOPIC_CONFIGS};
use crate::metadata::{ConfigError, MetadataError, TopicConfigs};
use crate::protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use crate::protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use crate::protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResourceResponse;
use crate::protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use crate::protocol::ErrorCode;

/// Kafka's `ConfigResource.Type` codes.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;

pub(super) fn describe(
    state: &BrokerState,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let keys = resource.configuration_keys.as_deref();
            let mut result = DescribeConfigsResult {
                resource_type: resource.resource_type,
                resource_name: resource.resource_name.clone(),
                ..Default::default()
            };
            let configs = match resource.resource_type {
                TOPIC => match state.topics.get(&resource.resource_name) {
                    Some(topic) => Ok(describe_topic_configs(state, &topic.configs, keys)),
                    None => Err((
                        ErrorCode::UnknownTopicOrPartition,
                        format!("topic '{}' does not exist", resource.resource_name),
                    )),
                },
                BROKER if broker_matches(state, &resource.resource_name) => {
                    Ok(describe_broker_configs(state, keys))
                }
                BROKER => Err((
                    ErrorCode::InvalidRequest,
                    format!(
                        "this broker is node {}, not '{}'",
                        state.config.node_id, resource.resource_name
                    ),
                )),
                other => Err((
                    ErrorCode::InvalidRequest,
                    format!("describing configs of resource type {other} is not supported"),
                )),
            };
            match configs {
                Ok(mut configs) => {
                    for config in &mut configs {
                        if !request.include_synonyms {
                            config.synonyms.clear();
                        }
                        if !request.include_documentation {
                            config.documentation = None;
                        }
                        config.is_default =
                            config.config_source == ConfigSource::DefaultConfig as i8;
                    }
                    result.configs = configs;
                }
                Err((code, text)) => {
                    result.error_code = code.code();
                    result.error_message = Some(text);
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}

fn broker_matches(state: &BrokerState, name: &str) -> bool {
    // An empty name asks about the broker's defaults, as Kafka allows.
    name.is_empty() || name.parse::<i32>().ok() == Some(state.config.node_id)
}

/// A topic's effective configs (all of them, or just `keys`), with where each came from.
pub(super) fn describe_topic_configs(
    state: &BrokerState,
    configs: &TopicConfigs,
    keys: Option<&[String]>,
) -> Vec<DescribeConfigsResourceResult> {
    let defaults = state.topics.defaults();
    TOPIC_CONFIGS
        .iter()
        .filter(|def| keys.is_none_or(|keys| keys.iter().any(|k| k == def.name)))
        .map(|def| {
            let (value, source) = configs.effective(def, defaults);
            let mut synonyms = Vec::new();
            if source == ConfigSource::TopicConfig {
                synonyms.push(synonym(def.name, value, ConfigSource::TopicConfig));
            }
            if let Some(broker_value) = defaults.get(def.name) {
                synonyms.push(synonym(
                    def.broker_key,
                    broker_value,
                    ConfigSource::StaticBrokerConfig,
                ));
            }
            synonyms.push(synonym(
                def.broker_key,
                def.default,
                ConfigSource::DefaultConfig,
            ));
            DescribeConfigsResourceResult {
                name: def.name.to_owned(),
                value: Some(value.to_owned()),
                read_only: false,
                config_source: source as i8,
                is_sensitive: false,
                synonyms,
                config_type: def.kind.code(),
                documentation: Some(def.doc.to_owned()),
                ..Default::default()
            }
        })
        .collect()
}

fn describe_broker_configs(
    state: &BrokerState,
    keys: Option<&[String]>,
) -> Vec<DescribeConfigsResourceResult> {
    state
        .config
        .entries()
        .into_iter()
        .filter(|(name, _)| keys.is_none_or(|keys| keys.contains(name)))
        .map(|(name, value)| DescribeConfigsResourceResult {
            synonyms: vec![synonym(&name, &value, ConfigSource::StaticBrokerConfig)],
            name,
            value: Some(value),
            read_only: true,
            config_source: ConfigSource::StaticBrokerConfig as i8,
            config_type: ConfigType::Choice(&[]).code(),
            documentation: Some("set at startup; see weir broker --help".to_owned()),
            ..Default::default()
        })
        .collect()
}

fn synonym(name: &str, value: &str, source: ConfigSource) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        source: source as i8,
        ..Default::default()
    }
}

/// Kafka's `AlterConfigOp.OpType` codes.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// AlterConfigs replaces a topic's whole set of overrides.
pub(super) async fn alter(
    state: &BrokerState,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let entries: Vec<(String, Option<String>)> = resource
            .configs
            .into_iter()
            .map(|c| (c.name, c.value))
            .collect();
        let outcome = alter_resource(
            state,
            resource.resource_type,
            &resource.resource_name,
            request.validate_only,
            |configs| {
                let mut next = TopicConfigs::default();
                for (name, value) in &entries {
                    if let Some(value) = value {
                        next.set(name, value)?;
                    }
                }
                *configs = next;
                Ok(())
            },
        )
        .await;
        let (error_code, error_message) = outcome_codes(outcome);
        responses.push(AlterConfigsResourceResponse {
            error_code,
            error_message,
            resource_type: resource.resource_type,
            resource_name: resource.resource_name,
            ..Default::default()
        });
    }
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

/// IncrementalAlterConfigs sets, deletes, appends to or subtracts from single keys.
pub(super) async fn incremental_alter(
    state: &BrokerState,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let ops: Vec<(String, i8, Option<String>)> = resource
            .configs
            .into_iter()
            .map(|c| (c.name, c.config_operation, c.value))
            .collect();
        let defaults = state.topics.defaults().clone();
        let outcome = alter_resource(
            state,
            resource.resource_type,
            &resource.resource_name,
            request.validate_only,
            |configs| {
                for (name, op, value) in &ops {
                    apply_op(configs, &defaults, name, *op, value.as_deref())?;
                }
                Ok(())
            },
        )
        .await;
        let (error_code, error_message) = outcome_codes(outcome);
        responses.push(IncrementalResourceResponse {
            error_code,
            error_message,
            resource_type: resource.resource_type,
            resource_name: resource.resource_name,
            ..Default::default()
        });
    }
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

fn apply_op(
    configs: &mut TopicConfigs,
    defaults: &crate::metadata::TopicDefaults,
    name: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), MetadataError> {
    let def = topic_config_def(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
    let invalid = |reason: &str| ConfigError::Invalid {
        name: name.to_owned(),
        value: value.unwrap_or("null").to_owned(),
        reason: reason.to_owned(),
    };
    match op {
        SET => configs.set(name, value.ok_or_else(|| invalid("SET needs a value"))?)?,
        DELETE => configs.remove(name)?,
        APPEND | SUBTRACT => {
            if !matches!(def.kind, ConfigType::List(_)) {
                return Err(invalid("APPEND and SUBTRACT apply only to list configs").into());
            }
            let value = value.ok_or_else(|| invalid("APPEND and SUBTRACT need a value"))?;
            let (current, _) = configs.effective(def, defaults);
            let mut items: Vec<String> = current
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if op == APPEND {
                    if !items.iter().any(|i| i == item) {
                        items.push(item.to_owned());
                    }
                } else {
                    items.retain(|i| i != item);
                }
            }
            configs.set(name, &items.join(","))?;
        }
        other => return Err(invalid(&format!("unknown operation {other}")).into()),
    }
    Ok(())
}

async fn alter_resource(
    state: &BrokerState,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    change: impl FnOnce(&mut TopicConfigs) -> Result<(), MetadataError>,
) -> Result<(), (ErrorCode, String)> {
    match resource_type {
        TOPIC => state
            .topics
            .alter_configs(name, change, validate_only)
            .await
            .map_err(|e| (metadata_error_code(&e), message(&e))),
        BROKER => Err((
            ErrorCode::InvalidConfig,
            "broker configs are static: set them with weir broker --set key=value or the config file, and restart".into(),
        )),
        other => Err((
            ErrorCode::InvalidRequest,
            format!("altering configs of resource type {other} is not supported"),
        )),
    }
}

fn outcome_codes(outcome: Result<(), (ErrorCode, String)>) -> (i16, Option<String>) {
    match outcome {
        Ok(()) => (ErrorCode::None.code(), None),
        Err((code, text)) => (code.code(), Some(text)),
    }
}
