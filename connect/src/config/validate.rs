//! What the REST API shows of configs: `config/validate` answers, plugin key listings,
//! and configs with their secrets masked.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::env::is_bare_reference;
use super::keys::{connector_def, framework_def, CONNECTOR_CLASS};
use super::{ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, ConnectorConfig, Secret};
use crate::herder::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo};
use crate::Plugins;

/// The REST API's `config/validate` answer (herder.rs ConfigInfos): every framework
/// and plugin key with its value and errors (+ one entry per unknown key with its
/// error), `error_count`, groups ("Common", "Transforms", "Error Handling", plugin's),
/// passwords shown as `[hidden]`. `plugin_type` is from the URL path and must match:
/// pass the body through [`with_plugin_from_path`] first.
pub fn validate_config(plugins: &Plugins, props: &ConfigMap) -> ConfigInfos {
    let class = props.get(CONNECTOR_CLASS).map_or("", |c| c.trim());
    let plugin = plugins.find(class);
    let def = match plugin {
        Some(plugin) => connector_def(plugin.as_ref()),
        None => framework_def(None),
    };
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Err(issues) = ConnectorConfig::parse(plugins, props) {
        for issue in issues {
            errors
                .entry(issue.key.clone())
                .or_default()
                .push(error_text(&issue));
        }
    }
    let masked = mask_secrets(plugins, props);
    let mut configs: Vec<ConfigInfo> = config_key_infos(&def)
        .into_iter()
        .map(|definition| {
            let key = def.key(&definition.name).expect("listed from this def");
            let value = match masked.get(&key.name) {
                Some(given) => Some(given.clone()),
                None if key.ty == ConfigType::Password => {
                    key.default.as_ref().map(|_| Secret::HIDDEN.to_string())
                }
                None => key.default.clone(),
            };
            let value = ConfigValueInfo {
                name: key.name.clone(),
                value,
                recommended_values: Vec::new(),
                errors: errors.remove(&key.name).unwrap_or_default(),
                visible: true,
            };
            ConfigInfo { definition, value }
        })
        .collect();
    // Keys no definition declares: unknown keys, transform and converter sub-keys.
    for (name, found) in errors {
        let value = masked.get(&name).cloned();
        configs.push(undeclared_key(name, value, found));
    }
    let mut groups: Vec<String> = Vec::new();
    for group in def.keys().iter().filter_map(|k| k.group.as_ref()) {
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    ConfigInfos {
        name: plugin.map_or(class, |p| p.class()).to_string(),
        error_count: configs.iter().map(|c| c.value.errors.len()).sum(),
        groups,
        configs,
    }
}

/// Adds problems found outside [`ConnectorConfig::parse`] (the worker's client
/// override policy) to a `config/validate` answer.
pub fn add_issues(infos: &mut ConfigInfos, issues: Vec<ConfigIssue>) {
    for issue in issues {
        let text = error_text(&issue);
        match infos.configs.iter_mut().find(|c| c.value.name == issue.key) {
            Some(config) => config.value.errors.push(text),
            None => infos
                .configs
                .push(undeclared_key(issue.key, None, vec![text])),
        }
        infos.error_count += 1;
    }
}

/// The entry of a key no definition declares.
fn undeclared_key(name: String, value: Option<String>, errors: Vec<String>) -> ConfigInfo {
    ConfigInfo {
        definition: ConfigKeyInfo {
            name: name.clone(),
            config_type: ConfigType::String.name().to_string(),
            required: false,
            default_value: None,
            importance: super::Importance::Low.name().to_string(),
            documentation: String::new(),
            group: None,
            width: "NONE".to_string(),
            display_name: name.clone(),
            dependents: Vec::new(),
            order: -1,
        },
        value: ConfigValueInfo {
            value,
            name,
            recommended_values: Vec::new(),
            errors,
            visible: true,
        },
    }
}

/// The body of `PUT /connector-plugins/{plugin_type}/config/validate` with
/// `connector.class` set from the path when absent. `Err` (a 400 in Kafka Connect)
/// when the path names no plugin, or the body names a different one.
pub fn with_plugin_from_path(
    plugins: &Plugins,
    plugin_type: &str,
    props: &ConfigMap,
) -> Result<ConfigMap, String> {
    let Some(from_path) = plugins.find(plugin_type) else {
        return Err(format!(
            "Failed to find any connector plugin named '{plugin_type}'"
        ));
    };
    let mut props = props.clone();
    match props.get(CONNECTOR_CLASS).map(|c| c.trim()) {
        None | Some("") => {
            props.insert(CONNECTOR_CLASS.to_string(), from_path.class().to_string());
        }
        Some(given) => match plugins.find(given) {
            Some(plugin) if Arc::ptr_eq(plugin, from_path) => {}
            _ => {
                return Err(format!(
                    "Included connector type {given} does not match request type {plugin_type}"
                ))
            }
        },
    }
    Ok(props)
}

/// The ConfigDef entries of a plugin (framework + its own) as REST ConfigKeyInfo list.
pub fn config_key_infos(def: &ConfigDef) -> Vec<ConfigKeyInfo> {
    let mut in_group: BTreeMap<Option<&str>, i32> = BTreeMap::new();
    def.keys()
        .iter()
        .map(|key| {
            let order = in_group.entry(key.group.as_deref()).or_insert(0);
            *order += 1;
            key_info(key, if key.group.is_some() { *order } else { -1 })
        })
        .collect()
}

fn key_info(key: &ConfigKey, order: i32) -> ConfigKeyInfo {
    let default_value = match (&key.default, key.ty) {
        (Some(d), ConfigType::Password) if !d.is_empty() => Some(Secret::HIDDEN.to_string()),
        (default, _) => default.clone(),
    };
    ConfigKeyInfo {
        name: key.name.clone(),
        config_type: key.ty.name().to_string(),
        required: key.required,
        default_value,
        importance: key.importance.name().to_string(),
        documentation: key.doc.clone(),
        group: key.group.clone(),
        width: "NONE".to_string(),
        display_name: key.name.clone(),
        dependents: Vec::new(),
        order,
    }
}

fn error_text(issue: &ConfigIssue) -> String {
    match &issue.hint {
        Some(hint) => format!("{} (hint: {hint})", issue.message),
        None => issue.message.clone(),
    }
}

/// `props` with every Password key (framework, plugin, transforms…) shown as `[hidden]`.
///
/// Declared keys are masked by their type. Keys no definition here declares (transform
/// settings, client overrides such as `producer.override.sasl.password`) are masked by
/// name: anything naming a password, a secret, a private key or JAAS credentials. A
/// value that is just `${env:NAME}` is shown: it names a variable, not a secret, and
/// keeping it lets a config read from the API be sent back unchanged.
pub fn mask_secrets(plugins: &Plugins, props: &ConfigMap) -> ConfigMap {
    let class = props.get(CONNECTOR_CLASS).map_or("", |c| c.trim());
    let def = match plugins.find(class) {
        Some(plugin) => connector_def(plugin.as_ref()),
        None => framework_def(None),
    };
    mask_with(&def, props)
}

/// `props` with the secrets of `def`'s keys, and of undeclared keys named like
/// secrets, shown as `[hidden]`.
pub(crate) fn mask_with(def: &ConfigDef, props: &ConfigMap) -> ConfigMap {
    props
        .iter()
        .map(|(name, value)| {
            let secret = match def.key(name) {
                Some(key) => key.ty == ConfigType::Password,
                None => looks_secret(name),
            };
            let shown = if secret && !is_bare_reference(value) {
                Secret::HIDDEN.to_string()
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas.config",
        "ssl.key.pem",
        "credentials",
        "token",
    ]
    .iter()
    .any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{plugins, props};

    #[test]
    fn a_valid_config_has_no_errors_and_every_key() {
        let infos = validate_config(
            &plugins(),
            &props(&[
                ("name", "s"),
                ("connector.class", "test-sink"),
                ("topics", "t"),
                ("redis.uri", "redis://x"),
                ("redis.password", "hunter2"),
            ]),
        );
        assert_eq!(infos.name, "io.weir.test.TestSinkConnector");
        assert_eq!(infos.error_count, 0);
        assert_eq!(
            infos.groups,
            ["Common", "Transforms", "Error Handling", "Redis"]
        );
        let value = |name: &str| {
            infos
                .configs
                .iter()
                .find(|c| c.definition.name == name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .value
                .clone()
        };
        assert_eq!(value("redis.password").value.as_deref(), Some("[hidden]"));
        assert_eq!(value("tasks.max").value.as_deref(), Some("1"));
        assert_eq!(value("topics").value.as_deref(), Some("t"));
        let json = serde_json::to_string(&infos).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }

    #[test]
    fn errors_are_attached_to_their_keys_and_unknown_keys_listed() {
        let infos = validate_config(
            &plugins(),
            &props(&[
                ("name", "s"),
                ("connector.class", "test-sink"),
                ("topics", "t"),
                ("tasks.max", "zero"),
                ("redis.ur", "redis://x"),
            ]),
        );
        assert_eq!(infos.error_count, 3);
        let errors = |name: &str| {
            infos
                .configs
                .iter()
                .find(|c| c.value.name == name)
                .map(|c| c.value.errors.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            errors("tasks.max"),
            ["Invalid value zero for configuration tasks.max: Not a number of type INT"]
        );
        assert_eq!(errors("redis.uri").len(), 1);
        assert_eq!(
            errors("redis.ur"),
            ["Unknown configuration 'redis.ur' (hint: did you mean 'redis.uri'?)"]
        );
        let unknown = infos.configs.last().unwrap();
        assert_eq!(unknown.definition.name, "redis.ur");
        assert_eq!(unknown.value.value.as_deref(), Some("redis://x"));
    }

    #[test]
    fn an_unknown_plugin_is_an_error_on_connector_class() {
        let infos = validate_config(&plugins(), &props(&[("connector.class", "nope")]));
        assert_eq!(infos.name, "nope");
        assert!(infos.error_count >= 2, "{infos:?}");
        let class = infos
            .configs
            .iter()
            .find(|c| c.definition.name == "connector.class")
            .unwrap();
        assert!(class.value.errors[0].starts_with("Failed to find any connector plugin"));
    }

    #[test]
    fn the_path_plugin_fills_in_or_must_match_connector_class() {
        let filled = with_plugin_from_path(&plugins(), "TestSinkConnector", &props(&[])).unwrap();
        assert_eq!(filled["connector.class"], "io.weir.test.TestSinkConnector");
        let same = with_plugin_from_path(
            &plugins(),
            "test-sink",
            &props(&[("connector.class", "TestSinkConnector")]),
        );
        assert!(same.is_ok());
        let other = with_plugin_from_path(
            &plugins(),
            "test-sink",
            &props(&[("connector.class", "test-source")]),
        )
        .unwrap_err();
        assert_eq!(
            other,
            "Included connector type test-source does not match request type test-sink"
        );
        assert!(with_plugin_from_path(&plugins(), "nope", &props(&[])).is_err());
    }

    #[test]
    fn key_infos_number_keys_within_their_group() {
        let infos = config_key_infos(&connector_def(
            plugins().find("test-sink").unwrap().as_ref(),
        ));
        let first = &infos[0];
        assert_eq!(
            (
                first.name.as_str(),
                first.config_type.as_str(),
                first.required,
                first.order
            ),
            ("name", "STRING", true, 1)
        );
        let uri = infos.iter().find(|k| k.name == "redis.uri").unwrap();
        assert_eq!((uri.group.as_deref(), uri.order), (Some("Redis"), 1));
        let tolerance = infos.iter().find(|k| k.name == "errors.tolerance").unwrap();
        assert_eq!(tolerance.default_value.as_deref(), Some("none"));
        assert_eq!(tolerance.group.as_deref(), Some("Error Handling"));
    }

    #[test]
    fn secrets_are_masked_but_env_references_shown() {
        let masked = mask_secrets(
            &plugins(),
            &props(&[
                ("connector.class", "test-sink"),
                ("redis.password", "hunter2"),
                ("redis.uri", "redis://x"),
                ("producer.override.sasl.password", "p"),
                ("transforms.mask.secret.key", "k"),
                ("consumer.override.fetch.min.bytes", "1"),
            ]),
        );
        assert_eq!(masked["redis.password"], "[hidden]");
        assert_eq!(masked["producer.override.sasl.password"], "[hidden]");
        assert_eq!(masked["transforms.mask.secret.key"], "[hidden]");
        assert_eq!(masked["redis.uri"], "redis://x");
        assert_eq!(masked["consumer.override.fetch.min.bytes"], "1");
        let reference = mask_secrets(
            &plugins(),
            &props(&[
                ("connector.class", "test-sink"),
                ("redis.password", "${env:REDIS_PASSWORD}"),
            ]),
        );
        assert_eq!(reference["redis.password"], "${env:REDIS_PASSWORD}");
    }
}
