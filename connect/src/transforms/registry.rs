//! The transform and predicate types Weir knows, by Kafka's class names, and how one
//! alias's keys become a configured instance.
//!
//! A type is a declaration ([`ConfigDef`], keys relative to the alias) plus a builder.
//! Its keys are checked under the alias's full prefix (`transforms.addHost.`), so every
//! [`ConfigIssue`] — type errors, missing keys, unknown keys — names the key as the
//! user wrote it.

use std::sync::Arc;

use crate::config::{closest, ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ParsedConfig};
use crate::converter::{HeaderConverter, SimpleHeaderConverter};

use super::field::{Label, Side};
use super::{
    cast, drop_headers, expression, extract_field, extract_new_record_state, filter, header_from,
    header_to_value, hoist_field, insert_field, insert_header, mask_field, predicates,
    regex_router, replace_field, timestamp_router, value_to_key, Predicate, Transform,
};

/// One alias's parsed keys, read by their relative names, and the connector's header
/// converter for the transforms that write headers.
#[derive(Debug)]
pub(super) struct Settings {
    prefix: String,
    parsed: ParsedConfig,
    header_converter: Arc<dyn HeaderConverter>,
}

impl Settings {
    pub(super) fn with_header_converter(mut self, converter: Arc<dyn HeaderConverter>) -> Self {
        self.header_converter = converter;
        self
    }

    /// The connector's `header.converter`.
    pub(super) fn header_converter(&self) -> Arc<dyn HeaderConverter> {
        Arc::clone(&self.header_converter)
    }

    /// The full key of `name`, e.g. `transforms.addHost.static.field`.
    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A problem with the key `name`.
    pub(super) fn issue(&self, name: &str, message: impl Into<String>) -> ConfigIssue {
        ConfigIssue::new(self.key(name), message)
    }

    /// An `Invalid value` issue worded as the [`ConfigDef`] ones.
    pub(super) fn invalid(&self, name: &str, value: &str, why: impl AsRef<str>) -> ConfigIssue {
        let key = self.key(name);
        ConfigIssue::new(
            &key,
            format!(
                "Invalid value {value} for configuration {key}: {}",
                why.as_ref()
            ),
        )
    }

    /// A string key; `None` when unset without a default.
    pub(super) fn string(&self, name: &str) -> Option<&str> {
        self.parsed.string(&self.key(name))
    }

    pub(super) fn list(&self, name: &str) -> &[String] {
        self.parsed.list(&self.key(name))
    }

    pub(super) fn boolean(&self, name: &str) -> Option<bool> {
        self.parsed.boolean(&self.key(name))
    }
}

type BuildTransform = fn(Label, &Settings) -> Result<Box<dyn Transform>, Vec<ConfigIssue>>;
type BuildPredicate = fn(&Settings) -> Result<Arc<dyn Predicate>, Vec<ConfigIssue>>;

/// A transform type: its full name, its keys, and how to build it.
#[derive(Debug)]
pub(super) struct TransformType {
    pub(super) name: &'static str,
    pub(super) config_def: fn() -> ConfigDef,
    pub(super) build: BuildTransform,
}

/// A predicate type.
#[derive(Debug)]
pub(super) struct PredicateType {
    pub(super) name: &'static str,
    pub(super) config_def: fn() -> ConfigDef,
    pub(super) build: BuildPredicate,
}

/// `$Key`/`$Value` pairs: the builder is written once per side, as a non-capturing
/// closure so it stays a plain `fn`.
macro_rules! sided {
    ($class:literal, $module:ident) => {
        [
            TransformType {
                name: concat!("org.apache.kafka.connect.transforms.", $class, "$Key"),
                config_def: $module::config_def,
                build: |label, settings| $module::build(label, Side::Key, settings),
            },
            TransformType {
                name: concat!("org.apache.kafka.connect.transforms.", $class, "$Value"),
                config_def: $module::config_def,
                build: |label, settings| $module::build(label, Side::Value, settings),
            },
        ]
    };
}

static TRANSFORMS: [[TransformType; 2]; 9] = [
    sided!("InsertField", insert_field),
    sided!("ReplaceField", replace_field),
    sided!("MaskField", mask_field),
    sided!("ExtractField", extract_field),
    sided!("HoistField", hoist_field),
    sided!("Cast", cast),
    sided!("HeaderFrom", header_from),
    [
        TransformType {
            name: "org.apache.kafka.connect.transforms.InsertHeader",
            config_def: insert_header::config_def,
            build: insert_header::build,
        },
        TransformType {
            name: "org.apache.kafka.connect.transforms.DropHeaders",
            config_def: drop_headers::config_def,
            build: drop_headers::build,
        },
    ],
    [
        TransformType {
            name: "org.apache.kafka.connect.transforms.ValueToKey",
            config_def: value_to_key::config_def,
            build: value_to_key::build,
        },
        TransformType {
            name: "org.apache.kafka.connect.transforms.Filter",
            config_def: filter::config_def,
            build: filter::build,
        },
    ],
];

static ROUTERS: [TransformType; 5] = [
    TransformType {
        name: "org.apache.kafka.connect.transforms.TimestampRouter",
        config_def: timestamp_router::config_def,
        build: timestamp_router::build,
    },
    TransformType {
        name: "org.apache.kafka.connect.transforms.RegexRouter",
        config_def: regex_router::config_def,
        build: regex_router::build,
    },
    TransformType {
        name: "io.weir.connect.transforms.ExpressionFilter",
        config_def: expression::config_def,
        build: expression::build,
    },
    TransformType {
        name: "io.debezium.transforms.ExtractNewRecordState",
        config_def: extract_new_record_state::config_def,
        build: extract_new_record_state::build,
    },
    TransformType {
        name: "io.debezium.transforms.HeaderToValue",
        config_def: header_to_value::config_def,
        build: header_to_value::build,
    },
];

static PREDICATES: [PredicateType; 3] = [
    PredicateType {
        name: "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        config_def: predicates::topic_name_matches_def,
        build: predicates::topic_name_matches,
    },
    PredicateType {
        name: "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        config_def: predicates::has_header_key_def,
        build: predicates::has_header_key,
    },
    PredicateType {
        name: "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        config_def: predicates::record_is_tombstone_def,
        build: predicates::record_is_tombstone,
    },
];

fn all_transforms() -> impl Iterator<Item = &'static TransformType> {
    TRANSFORMS.iter().flatten().chain(ROUTERS.iter())
}

/// Every transform type name (full Kafka/Weir names), for docs and hints.
pub fn transform_types() -> Vec<&'static str> {
    all_transforms().map(|t| t.name).collect()
}

/// Every predicate type name (full Kafka names), for docs and hints.
pub fn predicate_types() -> Vec<&'static str> {
    PREDICATES.iter().map(|p| p.name).collect()
}

/// The name after the package: `InsertField$Value`.
pub(super) fn short_name(name: &'static str) -> &'static str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The transform type called `name`, by full or short name.
pub(super) fn find_transform(name: &str) -> Option<&'static TransformType> {
    all_transforms().find(|t| t.name == name || short_name(t.name) == name)
}

/// The predicate type called `name`, by full or short name.
pub(super) fn find_predicate(name: &str) -> Option<&'static PredicateType> {
    PREDICATES
        .iter()
        .find(|p| p.name == name || short_name(p.name) == name)
}

/// The issue for a `type` naming nothing Weir knows, with the nearest names as a hint:
/// a misspelling's correction, both variants of a `$Key`/`$Value` transform named
/// without its suffix, or else every short name.
pub(super) fn unknown_type(key: &str, given: &str, names: &[&'static str]) -> ConfigIssue {
    let issue = ConfigIssue::new(key, format!("Unknown type {given}"));
    let given_short = given.rsplit('.').next().unwrap_or(given);
    let shorts = || names.iter().map(|n| short_name(n));
    if let Some(near) = closest(given, names.iter().copied()) {
        return issue.with_hint(format!("did you mean {near}?"));
    }
    if let Some(near) = closest(given_short, shorts()) {
        return issue.with_hint(format!("did you mean {near}?"));
    }
    let sided: Vec<&str> = shorts()
        .filter(|s| {
            s.strip_prefix(given_short)
                .is_some_and(|rest| rest == "$Key" || rest == "$Value")
        })
        .collect();
    if !sided.is_empty() {
        return issue.with_hint(format!(
            "{given_short} works on the key or the value: use {}",
            sided.join(" or ")
        ));
    }
    issue.with_hint(format!(
        "known types: {}",
        shorts().collect::<Vec<_>>().join(", ")
    ))
}

/// Parses the keys of one alias: the type's own keys under `prefix`, with `reserved`
/// (the chain's `type`, `predicate`, `negate`) allowed beside them. Unknown keys get a
/// "did you mean" hint.
pub(super) fn settings(
    def: &ConfigDef,
    prefix: &str,
    keys: &[&String],
    props: &ConfigMap,
    reserved: &[&str],
    what: &str,
) -> Result<Settings, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    for key in keys {
        let name = key.strip_prefix(prefix).unwrap_or(key);
        if def.key(name).is_some() || reserved.contains(&name) {
            continue;
        }
        let issue = ConfigIssue::new(key.as_str(), format!("Unknown configuration for {what}"));
        let known = def.keys().iter().map(|k| k.name.as_str());
        let issue = match closest(name, known.clone().chain(reserved.iter().copied())) {
            Some(near) => issue.with_hint(format!("did you mean {prefix}{near}?")),
            None if def.keys().is_empty() => issue.with_hint(format!("{what} takes no keys")),
            None => issue.with_hint(format!(
                "{what} takes {}",
                known.collect::<Vec<_>>().join(", ")
            )),
        };
        issues.push(issue);
    }
    let full = def.keys().iter().fold(ConfigDef::new(), |full, key| {
        full.define(ConfigKey {
            name: format!("{prefix}{}", key.name),
            ..key.clone()
        })
    });
    match full.parse(props) {
        Ok(parsed) if issues.is_empty() => Ok(Settings {
            prefix: prefix.to_string(),
            parsed,
            header_converter: Arc::new(SimpleHeaderConverter),
        }),
        Ok(_) => Err(issues),
        Err(more) => {
            issues.extend(more);
            Err(issues)
        }
    }
}

/// Builds one transform of type `name` from `(key, value)` pairs relative to its alias.
#[cfg(test)]
pub(super) fn transform(name: &str, pairs: &[(&str, &str)]) -> Box<dyn Transform> {
    try_transform(name, pairs).unwrap_or_else(|issues| panic!("{name}: {issues:?}"))
}

#[cfg(test)]
pub(super) fn try_transform(
    name: &str,
    pairs: &[(&str, &str)],
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    try_transform_with(name, pairs, Arc::new(SimpleHeaderConverter))
}

/// As [`try_transform`], with the connector's header converter.
#[cfg(test)]
pub(super) fn try_transform_with(
    name: &str,
    pairs: &[(&str, &str)],
    header_converter: Arc<dyn HeaderConverter>,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let ty = find_transform(name).unwrap_or_else(|| panic!("no transform {name}"));
    let props: ConfigMap = pairs
        .iter()
        .map(|(k, v)| (format!("transforms.t.{k}"), v.to_string()))
        .collect();
    let keys: Vec<&String> = props.keys().collect();
    let settings = settings(&(ty.config_def)(), "transforms.t.", &keys, &props, &[], "t")?
        .with_header_converter(header_converter);
    (ty.build)(Label::new("t", short_name(ty.name)), &settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_types_by_full_and_short_name() {
        for name in transform_types() {
            assert!(find_transform(name).is_some(), "{name}");
            assert!(find_transform(short_name(name)).is_some(), "{name}");
        }
        for name in predicate_types() {
            assert!(find_predicate(short_name(name)).is_some(), "{name}");
        }
        assert!(
            transform_types().contains(&"org.apache.kafka.connect.transforms.InsertField$Value")
        );
        assert!(find_transform("InsertField").is_none());
    }

    #[test]
    fn every_declared_key_has_documentation() {
        for ty in all_transforms() {
            for key in (ty.config_def)().keys() {
                assert!(!key.doc.is_empty(), "{} {}", ty.name, key.name);
            }
        }
    }

    #[test]
    fn unknown_types_get_the_nearest_names() {
        let names = transform_types();
        let hint = |given: &str| unknown_type("k", given, &names).hint.unwrap();
        assert_eq!(hint("InsertFeild$Value"), "did you mean InsertField$Value?");
        assert_eq!(
            hint("org.apache.kafka.connect.transforms.MaskFeld$Key"),
            "did you mean org.apache.kafka.connect.transforms.MaskField$Key?"
        );
        assert_eq!(
            hint("InsertField"),
            "InsertField works on the key or the value: use InsertField$Key or InsertField$Value"
        );
        assert!(hint("Nope").starts_with("known types: InsertField$Key, "));
    }
}
