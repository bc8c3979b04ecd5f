//! The cross-key checks of [`ConnectorConfig::parse`](super::ConnectorConfig::parse):
//! the plugin named, a sink's topics, keys nobody declares. Each adds its issues to a
//! [`Checked`] so that every problem is reported together.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::keys::*;
use super::topic_creation::TOPIC_CREATION_PREFIX;
use super::{closest, ConfigIssue, ConfigMap};
use crate::transforms::owns_key;
use crate::{ConnectorPlugin, ConnectorType, Plugins};

/// Issues found so far, and the keys already reported for a bad env reference.
#[derive(Default)]
pub(super) struct Checked {
    pub(super) issues: Vec<ConfigIssue>,
    pub(super) env_keys: BTreeSet<String>,
}

impl Checked {
    pub(super) fn push(&mut self, issue: ConfigIssue) {
        if !self.env_keys.contains(&issue.key) && !self.issues.contains(&issue) {
            self.issues.push(issue);
        }
    }

    pub(super) fn take<T>(&mut self, result: Result<T, Vec<ConfigIssue>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(found) => {
                found.into_iter().for_each(|i| self.push(i));
                None
            }
        }
    }
}

pub(super) fn find_plugin(
    plugins: &Plugins,
    props: &ConfigMap,
    checked: &mut Checked,
) -> Option<Arc<dyn ConnectorPlugin>> {
    // A missing `connector.class` is reported by the framework keys' parse.
    let class = props.get(CONNECTOR_CLASS)?.trim();
    if let Some(plugin) = plugins.find(class) {
        return Some(plugin.clone());
    }
    let issue = ConfigIssue::new(
        CONNECTOR_CLASS,
        format!("Failed to find any connector plugin named '{class}'"),
    );
    checked.push(match closest(class, plugins.names()) {
        Some(near) => issue.with_hint(format!("did you mean '{near}'?")),
        None => issue.with_hint(format!(
            "this worker offers: {}",
            plugins.names().collect::<Vec<_>>().join(", ")
        )),
    });
    None
}

/// Sinks consume `topics` or `topics.regex`, never both. Read from the props rather
/// than the parsed keys so the rule is checked even when another key is bad.
pub(super) fn sink_topics(
    props: &ConfigMap,
    checked: &mut Checked,
) -> (Vec<String>, Option<String>) {
    let topics: Vec<String> = props
        .get(TOPICS)
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let regex = props
        .get(TOPICS_REGEX)
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    match (topics.is_empty(), &regex) {
        (false, Some(_)) => {
            for key in [TOPICS, TOPICS_REGEX] {
                checked.push(
                    ConfigIssue::new(
                        key,
                        "topics and topics.regex are mutually exclusive options, but both are set.",
                    )
                    .with_hint("keep one of them"),
                );
            }
        }
        (true, None) => checked.push(
            ConfigIssue::new(TOPICS, "Must configure one of topics or topics.regex")
                .with_hint("set topics: the topics this sink consumes"),
        ),
        _ => {}
    }
    let dlq = props.get(DLQ_TOPIC).map(|t| t.trim()).unwrap_or_default();
    if !dlq.is_empty() && topics.iter().any(|t| t == dlq) {
        checked.push(
            ConfigIssue::new(
                DLQ_TOPIC,
                format!(
                    "The DLQ topic '{dlq}' may not be included in the list of topics \
                     ('topics={}') consumed by the connector",
                    topics.join(",")
                ),
            )
            .with_hint("a sink reading its own dead-letter topic would loop on bad records"),
        );
    }
    (topics, regex)
}

pub(super) fn unknown_keys(plugin: &dyn ConnectorPlugin, props: &ConfigMap, checked: &mut Checked) {
    let def = connector_def(plugin);
    let prefixes = [
        format!("{KEY_CONVERTER}."),
        format!("{VALUE_CONVERTER}."),
        format!("{HEADER_CONVERTER}."),
        PRODUCER_OVERRIDE.to_string(),
        CONSUMER_OVERRIDE.to_string(),
    ];
    let sink_only_on_source =
        |key: &str| plugin.connector_type() == ConnectorType::Source && SINK_ONLY.contains(&key);
    for key in props.keys() {
        if def.key(key).is_some()
            || owns_key(key)
            || prefixes.iter().any(|p| key.starts_with(p.as_str()))
            || sink_only_on_source(key)
            // Reported by `topic_creation::parse`, which knows the groups.
            || key.starts_with(TOPIC_CREATION_PREFIX)
        {
            continue;
        }
        let issue = ConfigIssue::new(key, format!("Unknown configuration '{key}'"));
        checked.push(match def.closest(key) {
            Some(near) => issue.with_hint(format!("did you mean '{near}'?")),
            None => issue.with_hint(format!(
                "{} takes none such; GET /connector-plugins/{}/config lists its keys",
                plugin.class(),
                plugin.class()
            )),
        });
    }
}
