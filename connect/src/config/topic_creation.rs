//! Topic creation for source connectors (KIP-158): `topic.creation.*`, parsed into
//! the groups a new topic is matched against.
//!
//! A connector turns it on by setting `topic.creation.default.replication.factor` and
//! `topic.creation.default.partitions`; any other `topic.creation.*` key without those
//! two is an error, as in Kafka Connect, so that a half-written config does not
//! silently leave topics to the broker's auto-creation. A new topic takes the first
//! group of `topic.creation.groups` whose `include` matches its whole name and whose
//! `exclude` does not, else `default`. Groups fall back to `default` for replication
//! factor and partitions; every other `topic.creation.<group>.<key>` is a topic config
//! passed to CreateTopics as it is (the cluster judges those: it may not be Weir).

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

use super::{closest, ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, ConfigValue};
use crate::ConnectorType;

pub(crate) const TOPIC_CREATION_PREFIX: &str = "topic.creation.";
pub(crate) const TOPIC_CREATION_GROUPS: &str = "topic.creation.groups";
pub(crate) const DEFAULT_REPLICATION_FACTOR: &str = "topic.creation.default.replication.factor";
pub(crate) const DEFAULT_PARTITIONS: &str = "topic.creation.default.partitions";
pub(crate) const GROUP_TOPIC_CREATION: &str = "Topic Creation";

/// The group every topic falls into when no other group takes it.
pub const DEFAULT_GROUP: &str = "default";

const INCLUDE: &str = "include";
const EXCLUDE: &str = "exclude";
const REPLICATION_FACTOR: &str = "replication.factor";
const PARTITIONS: &str = "partitions";

/// How a source connector creates the topics it writes to that do not exist yet.
#[derive(Debug, Clone)]
pub struct TopicCreation {
    /// The groups of `topic.creation.groups`, in the order listed.
    pub groups: Vec<TopicCreationGroup>,
    /// `default`: every topic the other groups leave.
    pub default: TopicCreationGroup,
}

impl TopicCreation {
    /// The group `topic` is created with.
    pub fn group_for(&self, topic: &str) -> &TopicCreationGroup {
        self.groups
            .iter()
            .find(|group| group.matches(topic))
            .unwrap_or(&self.default)
    }
}

/// One `topic.creation.<group>.*` group.
#[derive(Clone)]
pub struct TopicCreationGroup {
    pub name: String,
    /// Whole-name patterns, joined; `None` matches nothing (a group without `include`,
    /// as in Kafka Connect). Unused for `default`.
    include: Option<Regex>,
    exclude: Option<Regex>,
    /// -1 takes the broker's `default.replication.factor`.
    pub replication_factor: i32,
    /// -1 takes the broker's `num.partitions`.
    pub partitions: i32,
    /// Topic configs (`cleanup.policy`, `retention.ms`, …) for CreateTopics.
    pub configs: BTreeMap<String, String>,
}

impl TopicCreationGroup {
    fn matches(&self, topic: &str) -> bool {
        self.include.as_ref().is_some_and(|r| r.is_match(topic))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(topic))
    }
}

impl fmt::Debug for TopicCreationGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicCreationGroup")
            .field("name", &self.name)
            .field("include", &self.include.as_ref().map(Regex::as_str))
            .field("exclude", &self.exclude.as_ref().map(Regex::as_str))
            .field("replication_factor", &self.replication_factor)
            .field("partitions", &self.partitions)
            .field("configs", &self.configs)
            .finish()
    }
}

/// The keys every source connector declares, so `config/validate` lists them; the
/// per-group keys depend on `topic.creation.groups` and are checked by [`parse`].
pub(crate) fn framework_keys() -> Vec<ConfigKey> {
    let group = |key: ConfigKey| key.group(GROUP_TOPIC_CREATION);
    vec![
        group(
            ConfigKey::new(
                TOPIC_CREATION_GROUPS,
                ConfigType::List,
                "Groups of topic creation settings besides default, in the order a new topic \
                 is matched against their topic.creation.<group>.include patterns.",
            )
            .default_value(""),
        ),
        group(replication_key(
            DEFAULT_REPLICATION_FACTOR,
            "Replication factor of the topics this source creates (-1: the broker's \
             default); with topic.creation.default.partitions it turns topic creation on.",
        )),
        group(partitions_key(
            DEFAULT_PARTITIONS,
            "Partitions of the topics this source creates (-1: the broker's default); with \
             topic.creation.default.replication.factor it turns topic creation on.",
        )),
    ]
}

fn replication_key(name: &str, doc: &str) -> ConfigKey {
    ConfigKey::new(name, ConfigType::Int, doc)
        .optional()
        .validator(super::Validator::Custom(check_replication_factor))
}

fn partitions_key(name: &str, doc: &str) -> ConfigKey {
    ConfigKey::new(name, ConfigType::Int, doc)
        .optional()
        .validator(super::Validator::Custom(check_partitions))
}

fn check_replication_factor(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::Long(n) if *n != -1 && !(1..=i64::from(i16::MAX)).contains(n) => Err(
            "Replication factor must be -1 (the broker's default) or between 1 and 32767".into(),
        ),
        _ => Ok(()),
    }
}

fn check_partitions(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::Long(n) if *n != -1 && *n < 1 => {
            Err("Number of partitions must be -1 (the broker's default) or at least 1".into())
        }
        _ => Ok(()),
    }
}

/// The connector's topic creation settings: `Ok(None)` when it sets no
/// `topic.creation.*` key (or its plugin is unknown). Sinks may set none: they create
/// no topics. Every problem is reported, each on its full key.
pub(crate) fn parse(
    props: &ConfigMap,
    plugin: Option<(&str, ConnectorType)>,
) -> Result<Option<TopicCreation>, Vec<ConfigIssue>> {
    let keys: Vec<&str> = props
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with(TOPIC_CREATION_PREFIX))
        .collect();
    let Some((class, connector_type)) = plugin else {
        return Ok(None);
    };
    if keys.is_empty() {
        return Ok(None);
    }
    let mut issues = Vec::new();
    if connector_type == ConnectorType::Sink {
        for key in keys {
            issues.push(
                ConfigIssue::new(
                    key,
                    format!("{key} is only for source connectors; {class} is a sink connector"),
                )
                .with_hint("remove it: a sink creates no topics"),
            );
        }
        return Err(issues);
    }

    let names = group_names(props, &mut issues);
    for key in [DEFAULT_REPLICATION_FACTOR, DEFAULT_PARTITIONS] {
        if !props.contains_key(key) {
            issues.push(
                ConfigIssue::new(
                    key,
                    format!("Missing required configuration \"{key}\" which has no default value."),
                )
                .with_hint(
                    "topic creation needs both topic.creation.default.replication.factor and \
                     topic.creation.default.partitions (-1 takes the broker's default); \
                     without any topic.creation.* key it stays off",
                ),
            );
        }
    }

    // Each key belongs to the group whose name is its longest prefix, so a group name
    // may itself contain dots.
    let mut settings: BTreeMap<&str, ConfigMap> = BTreeMap::new();
    for key in keys.iter().copied().filter(|k| *k != TOPIC_CREATION_GROUPS) {
        let rest = &key[TOPIC_CREATION_PREFIX.len()..];
        let owner = std::iter::once(DEFAULT_GROUP)
            .chain(names.iter().map(String::as_str))
            .filter(|g| {
                rest.len() > g.len() + 1 && rest.starts_with(g) && rest[g.len()..].starts_with('.')
            })
            .max_by_key(|g| g.len());
        let Some(group) = owner else {
            issues.push(unknown_group(key, rest, &names));
            continue;
        };
        let setting = &rest[group.len() + 1..];
        if group == DEFAULT_GROUP && (setting == INCLUDE || setting == EXCLUDE) {
            issues.push(
                ConfigIssue::new(
                    key,
                    format!("the {DEFAULT_GROUP} topic creation group takes every topic no other group takes; it has no {setting}"),
                )
                .with_hint("list a group in topic.creation.groups and give it the pattern"),
            );
            continue;
        }
        settings
            .entry(group)
            .or_default()
            .insert(setting.to_string(), props[key].clone());
    }

    let default = parse_group(
        DEFAULT_GROUP,
        settings.get(DEFAULT_GROUP),
        None,
        &mut issues,
    );
    let groups: Vec<_> = names
        .iter()
        .map(|name| {
            parse_group(
                name,
                settings.get(name.as_str()),
                default.as_ref(),
                &mut issues,
            )
        })
        .collect();
    match (default, issues.is_empty()) {
        (Some(default), true) => Ok(Some(TopicCreation {
            groups: groups.into_iter().flatten().collect(),
            default,
        })),
        _ => Err(issues),
    }
}

/// `topic.creation.groups`, without `default` (always there) and without repeats
/// (reported).
fn group_names(props: &ConfigMap, issues: &mut Vec<ConfigIssue>) -> Vec<String> {
    let raw = props.get(TOPIC_CREATION_GROUPS).map_or("", |g| g.trim());
    let mut names: Vec<String> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == DEFAULT_GROUP {
            continue;
        }
        if names.iter().any(|n| n == name) {
            issues.push(
                ConfigIssue::new(
                    TOPIC_CREATION_GROUPS,
                    format!(
                        "Invalid value {raw} for configuration {TOPIC_CREATION_GROUPS}: Duplicate alias provided: {name}"
                    ),
                )
                .with_hint("list each group once"),
            );
            continue;
        }
        names.push(name.to_string());
    }
    names
}

fn unknown_group(key: &str, rest: &str, names: &[String]) -> ConfigIssue {
    let candidates: Vec<String> = std::iter::once(DEFAULT_GROUP.to_string())
        .chain(names.iter().cloned())
        .collect();
    let guessed = rest.split('.').next().unwrap_or(rest);
    let issue = ConfigIssue::new(
        key,
        format!("Unknown configuration '{key}': {guessed} is not a topic creation group"),
    );
    match closest(guessed, candidates.iter().map(String::as_str)) {
        Some(near) if near != guessed => issue.with_hint(format!("did you mean group '{near}'?")),
        _ => issue.with_hint(format!(
            "list {guessed} in {TOPIC_CREATION_GROUPS}, then set topic.creation.{guessed}.include"
        )),
    }
}

/// One group from its settings (keys without the `topic.creation.<group>.` prefix);
/// `None` when something was wrong, with the issues pushed.
fn parse_group(
    name: &str,
    given: Option<&ConfigMap>,
    default: Option<&TopicCreationGroup>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<TopicCreationGroup> {
    let empty = ConfigMap::new();
    let given = given.unwrap_or(&empty);
    let prefix = format!("{TOPIC_CREATION_PREFIX}{name}.");
    let full = |key: &str| format!("{prefix}{key}");
    // The default group's two keys are declared with the framework's (and checked by
    // that parse too); an identical issue is reported once.
    let def = ConfigDef::new()
        .define(ConfigKey::new(full(INCLUDE), ConfigType::List, "").default_value(""))
        .define(ConfigKey::new(full(EXCLUDE), ConfigType::List, "").default_value(""))
        .define(replication_key(&full(REPLICATION_FACTOR), ""))
        .define(partitions_key(&full(PARTITIONS), ""));
    let prefixed: ConfigMap = given
        .iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v.clone()))
        .collect();
    let parsed = match def.parse(&prefixed) {
        Ok(parsed) => parsed,
        Err(found) => {
            issues.extend(found);
            return None;
        }
    };
    let include = patterns(&full(INCLUDE), parsed.list(&full(INCLUDE)), issues);
    let exclude = patterns(&full(EXCLUDE), parsed.list(&full(EXCLUDE)), issues);
    let number = |key: &str, fallback: Option<i32>| {
        parsed
            .long(&full(key))
            .and_then(|n| i32::try_from(n).ok())
            .or(fallback)
    };
    // A missing default value was reported by `parse`.
    let replication_factor = number(REPLICATION_FACTOR, default.map(|d| d.replication_factor))?;
    let partitions = number(PARTITIONS, default.map(|d| d.partitions))?;
    let configs = given
        .iter()
        .filter(|(k, _)| ![INCLUDE, EXCLUDE, REPLICATION_FACTOR, PARTITIONS].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    Some(TopicCreationGroup {
        name: name.to_string(),
        include: include?,
        exclude: exclude?,
        replication_factor,
        partitions,
        configs,
    })
}

/// The patterns as one regex matching a whole topic name (Kafka Connect matches the
/// whole name, not a part); `Some(None)` for none, `None` when one does not compile.
fn patterns(key: &str, list: &[String], issues: &mut Vec<ConfigIssue>) -> Option<Option<Regex>> {
    let mut ok = true;
    for pattern in list {
        if let Err(err) = Regex::new(pattern) {
            ok = false;
            issues.push(
                ConfigIssue::new(
                    key,
                    format!(
                        "Invalid value {pattern} for configuration {key}: Syntax error in regular expression: {err}"
                    ),
                )
                .with_hint("a comma-separated list of regular expressions, each matching whole topic names, e.g. .*-state"),
            );
        }
    }
    if !ok {
        return None;
    }
    if list.is_empty() {
        return Some(None);
    }
    let joined: Vec<String> = list.iter().map(|p| format!("(?:{p})")).collect();
    let whole = format!("^(?:{})$", joined.join("|"));
    Some(Some(Regex::new(&whole).expect("each part compiled")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_map;

    fn source(pairs: &[(&str, &str)]) -> Result<Option<TopicCreation>, Vec<ConfigIssue>> {
        parse(
            &config_map(pairs),
            Some(("io.weir.Src", ConnectorType::Source)),
        )
    }

    fn issues(pairs: &[(&str, &str)]) -> Vec<String> {
        source(pairs)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const ON: [(&str, &str); 2] = [
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.partitions", "3"),
    ];

    fn with_on<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut pairs = ON.to_vec();
        pairs.extend_from_slice(extra);
        pairs
    }

    #[test]
    fn off_without_any_topic_creation_key() {
        assert!(source(&[("topic", "logs")]).unwrap().is_none());
    }

    #[test]
    fn a_topic_takes_the_first_listed_group_that_includes_and_does_not_exclude_it() {
        let creation = source(&with_on(&[
            ("topic.creation.groups", "compacted, orders"),
            ("topic.creation.compacted.include", ".*-state, users"),
            ("topic.creation.compacted.exclude", "audit-.*"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.compacted.partitions", "1"),
            ("topic.creation.orders.include", "orders.*"),
            ("topic.creation.orders.replication.factor", "-1"),
            ("topic.creation.orders.retention.ms", "60000"),
            ("topic.creation.default.compression.type", "zstd"),
        ]))
        .unwrap()
        .unwrap();
        let group = |topic| creation.group_for(topic).name.as_str();
        assert_eq!(group("app-state"), "compacted");
        assert_eq!(group("users"), "compacted");
        // Listed first, compacted wins over orders for a topic both include.
        assert_eq!(group("orders-state"), "compacted");
        assert_eq!(group("orders"), "orders");
        // Excluded from compacted, and orders does not include it.
        assert_eq!(group("audit-state"), "default");
        // Patterns match the whole name, not a part of it.
        assert_eq!(group("app-state-v2"), "default");
        assert_eq!(group("myusers"), "default");

        let compacted = creation.group_for("app-state");
        assert_eq!((compacted.replication_factor, compacted.partitions), (1, 1));
        assert_eq!(
            compacted.configs,
            config_map(&[("cleanup.policy", "compact")])
        );
        let orders = creation.group_for("orders");
        assert_eq!((orders.replication_factor, orders.partitions), (-1, 3));
        assert_eq!(orders.configs, config_map(&[("retention.ms", "60000")]));
        let default = creation.group_for("other");
        assert_eq!((default.replication_factor, default.partitions), (1, 3));
        assert_eq!(default.configs, config_map(&[("compression.type", "zstd")]));
    }

    #[test]
    fn the_broker_default_is_minus_one_and_other_values_below_one_are_refused() {
        let creation = source(&[
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "-1"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                creation.default.replication_factor,
                creation.default.partitions
            ),
            (-1, -1)
        );
        assert_eq!(
            issues(&with_on(&[
                ("topic.creation.groups", "g"),
                ("topic.creation.g.include", "g.*"),
                ("topic.creation.g.partitions", "0"),
                ("topic.creation.g.replication.factor", "-2"),
            ])),
            [
                "topic.creation.g.replication.factor: Invalid value -2 for configuration \
                 topic.creation.g.replication.factor: Replication factor must be -1 (the \
                 broker's default) or between 1 and 32767",
                "topic.creation.g.partitions: Invalid value 0 for configuration \
                 topic.creation.g.partitions: Number of partitions must be -1 (the broker's \
                 default) or at least 1",
            ]
        );
        let found = issues(&[
            ("topic.creation.default.replication.factor", "40000"),
            ("topic.creation.default.partitions", "many"),
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("topic.creation.default.replication.factor: Invalid value 40000"),
            "{found:?}"
        );
        assert!(found[1].contains("Not a number of type INT"), "{found:?}");
    }

    #[test]
    fn any_topic_creation_key_needs_both_default_settings() {
        let found = issues(&[
            ("topic.creation.groups", "g"),
            ("topic.creation.g.include", "g.*"),
            ("topic.creation.default.partitions", "3"),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "topic.creation.default.replication.factor: Missing required configuration"
            ),
            "{found:?}"
        );
        assert!(
            found[0].contains("(hint: topic creation needs both"),
            "{found:?}"
        );
    }

    #[test]
    fn a_listed_group_without_settings_matches_nothing_and_default_may_be_listed() {
        let creation = source(&with_on(&[("topic.creation.groups", "default, later")]))
            .unwrap()
            .unwrap();
        assert_eq!(creation.groups.len(), 1);
        assert_eq!(creation.groups[0].name, "later");
        assert_eq!(creation.group_for("anything").name, "default");
    }

    #[test]
    fn keys_of_unlisted_groups_bad_patterns_and_repeats_are_reported_on_their_keys() {
        assert_eq!(
            issues(&with_on(&[
                ("topic.creation.groups", "compacted, compacted"),
                ("topic.creation.compactd.include", "x"),
                ("topic.creation.logs.partitions", "1"),
                ("topic.creation.compacted.include", "(unclosed"),
                ("topic.creation.default.include", ".*"),
            ])),
            [
                "topic.creation.groups: Invalid value compacted, compacted for configuration \
                 topic.creation.groups: Duplicate alias provided: compacted (hint: list each \
                 group once)",
                "topic.creation.compactd.include: Unknown configuration \
                 'topic.creation.compactd.include': compactd is not a topic creation group \
                 (hint: did you mean group 'compacted'?)",
                "topic.creation.default.include: the default topic creation group takes every \
                 topic no other group takes; it has no include (hint: list a group in \
                 topic.creation.groups and give it the pattern)",
                "topic.creation.logs.partitions: Unknown configuration \
                 'topic.creation.logs.partitions': logs is not a topic creation group (hint: \
                 list logs in topic.creation.groups, then set topic.creation.logs.include)",
                "topic.creation.compacted.include: Invalid value (unclosed for configuration \
                 topic.creation.compacted.include: Syntax error in regular expression: regex \
                 parse error:\n    (unclosed\n    ^\nerror: unclosed group (hint: a \
                 comma-separated list of regular expressions, each matching whole topic \
                 names, e.g. .*-state)",
            ]
        );
    }

    #[test]
    fn a_group_name_may_contain_dots() {
        let creation = source(&with_on(&[
            ("topic.creation.groups", "a, a.b"),
            ("topic.creation.a.include", "x"),
            ("topic.creation.a.b.include", "y"),
            ("topic.creation.a.b.partitions", "7"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(creation.group_for("y").name, "a.b");
        assert_eq!(creation.group_for("y").partitions, 7);
        assert_eq!(creation.group_for("x").partitions, 3);
    }

    #[test]
    fn a_sink_may_not_set_them() {
        let found = parse(
            &config_map(&[("topic.creation.default.partitions", "3")]),
            Some(("io.weir.Snk", ConnectorType::Sink)),
        )
        .unwrap_err();
        assert_eq!(
            found[0].to_string(),
            "topic.creation.default.partitions: topic.creation.default.partitions is only for \
             source connectors; io.weir.Snk is a sink connector (hint: remove it: a sink \
             creates no topics)"
        );
    }
}
