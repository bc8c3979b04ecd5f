//! [`TransformChain::from_config`]: Kafka Connect's `transforms` and `predicates` keys
//! to stages, collecting every issue.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{
    closest, ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, DEFAULT_HEADER_CONVERTER,
};
use crate::converter::{header_converter_from_config, HeaderConverter, SimpleHeaderConverter};

use super::{Stage, TransformChain};
use crate::transforms::field::Label;
use crate::transforms::registry::{
    find_predicate, find_transform, predicate_types, settings, short_name, transform_types,
    unknown_type,
};
use crate::transforms::Predicate;

/// The keys every transform alias has besides its type's own.
const STAGE_KEYS: [&str; 3] = ["type", "predicate", "negate"];

fn stage_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new(
            "type",
            ConfigType::Class,
            "The transform's type, e.g. org.apache.kafka.connect.transforms.InsertField$Value.",
        ))
        .define(
            ConfigKey::new(
                "predicate",
                ConfigType::String,
                "The alias of a predicate, from predicates, that decides which records \
                 the transform applies to.",
            )
            .optional(),
        )
        .define(
            ConfigKey::new(
                "negate",
                ConfigType::Boolean,
                "Apply the transform to the records the predicate does not hold for.",
            )
            .default_value("false"),
        )
}

fn predicate_def() -> ConfigDef {
    ConfigDef::new().define(ConfigKey::new(
        "type",
        ConfigType::Class,
        "The predicate's type, e.g. org.apache.kafka.connect.transforms.predicates.TopicNameMatches.",
    ))
}

impl TransformChain {
    /// Parses Kafka Connect's keys from a connector's whole config map:
    /// `transforms` (comma list of aliases), `transforms.<alias>.type`,
    /// `transforms.<alias>.<key>`, `transforms.<alias>.predicate`,
    /// `transforms.<alias>.negate`, `predicates` (aliases), `predicates.<alias>.type`,
    /// `predicates.<alias>.<key>`. Keys under `transforms.`/`predicates.` that belong to
    /// no declared alias, unknown types (with a did-you-mean hint listing close names),
    /// and each transform's own bad keys are all returned as issues, each naming the full
    /// key (e.g. `transforms.addHost.static.feild`). The transforms that write headers
    /// use the `header.converter` of `props` (Kafka's `SimpleHeaderConverter` when
    /// unset), whose issues are included; other keys outside those prefixes are ignored.
    pub fn from_config(props: &ConfigMap) -> Result<TransformChain, Vec<ConfigIssue>> {
        match header_converter_from_config(props, DEFAULT_HEADER_CONVERTER) {
            Ok(converter) => TransformChain::from_config_with(props, converter),
            Err(mut issues) => {
                // The transforms' own problems are still worth reporting in the same round.
                let chain =
                    TransformChain::from_config_with(props, Arc::new(SimpleHeaderConverter));
                issues.extend(chain.err().unwrap_or_default());
                Err(issues)
            }
        }
    }

    /// As [`from_config`](TransformChain::from_config), with a header converter the
    /// caller has already built (a connector's config parses `header.converter` once,
    /// with the other converters, and reports its issues there).
    pub fn from_config_with(
        props: &ConfigMap,
        header_converter: Arc<dyn HeaderConverter>,
    ) -> Result<TransformChain, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let transforms = aliases(props, "transforms", &mut issues);
        let predicates = aliases(props, "predicates", &mut issues);
        let transform_keys = keys_by_alias(props, "transforms", &transforms, &mut issues);
        let predicate_keys = keys_by_alias(props, "predicates", &predicates, &mut issues);

        let mut built_predicates = BTreeMap::new();
        for (alias, keys) in &predicate_keys {
            match build_predicate(alias, keys, props) {
                Ok(predicate) => {
                    built_predicates.insert(alias.as_str(), predicate);
                }
                Err(more) => issues.extend(more),
            }
        }
        let mut stages = Vec::new();
        for alias in &transforms {
            let keys = &transform_keys[alias];
            let known = (&predicates[..], &built_predicates);
            match build_stage(alias, keys, props, known, &header_converter) {
                Ok(stage) => stages.push(stage),
                Err(more) => issues.extend(more),
            }
        }
        if issues.is_empty() {
            Ok(TransformChain { stages })
        } else {
            Err(issues)
        }
    }
}

/// The aliases listed in `transforms` or `predicates`; empty and repeated ones are issues.
fn aliases(props: &ConfigMap, list: &str, issues: &mut Vec<ConfigIssue>) -> Vec<String> {
    let Some(raw) = props.get(list) else {
        return Vec::new();
    };
    let mut aliases: Vec<String> = Vec::new();
    for alias in raw.split(',').map(str::trim) {
        if alias.is_empty() {
            if !raw.trim().is_empty() {
                issues.push(ConfigIssue::new(
                    list,
                    format!("Empty alias in {list}={raw}"),
                ));
            }
        } else if aliases.iter().any(|a| a == alias) {
            issues.push(ConfigIssue::new(
                list,
                format!("Duplicate alias provided: {alias}"),
            ));
        } else {
            aliases.push(alias.to_string());
        }
    }
    aliases
}

/// The keys under `<list>.` sorted by the declared alias they belong to (the longest
/// matching alias, should one alias be a dotted prefix of another). Keys that belong to
/// no declared alias are issues.
fn keys_by_alias<'p>(
    props: &'p ConfigMap,
    list: &str,
    aliases: &[String],
    issues: &mut Vec<ConfigIssue>,
) -> BTreeMap<String, Vec<&'p String>> {
    let mut owned: BTreeMap<String, Vec<&String>> =
        aliases.iter().map(|a| (a.clone(), Vec::new())).collect();
    let prefix = format!("{list}.");
    for key in props.keys() {
        let Some(rest) = key.strip_prefix(&prefix) else {
            continue;
        };
        let owner = aliases
            .iter()
            .filter(|a| {
                rest.strip_prefix(a.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            })
            .max_by_key(|a| a.len());
        match owner {
            Some(alias) => owned
                .get_mut(alias)
                .expect("every alias has an entry")
                .push(key),
            None => {
                let named = rest.split('.').next().unwrap_or(rest);
                let issue = ConfigIssue::new(
                    key.as_str(),
                    format!("{named} is not an alias listed in {list}"),
                );
                let issue = match closest(named, aliases.iter().map(String::as_str)) {
                    Some(near) => issue.with_hint(format!("did you mean {list}.{near}.?")),
                    None => issue.with_hint(format!("add {named} to {list}")),
                };
                issues.push(issue);
            }
        }
    }
    owned
}

fn build_predicate(
    alias: &str,
    keys: &[&String],
    props: &ConfigMap,
) -> Result<Arc<dyn Predicate>, Vec<ConfigIssue>> {
    let prefix = format!("predicates.{alias}.");
    let what = format!("predicate {alias}");
    let base = settings(&predicate_def(), &prefix, &[], props, &[], &what)?;
    let name = base.string("type").unwrap_or_default();
    let Some(ty) = find_predicate(name) else {
        return Err(vec![unknown_type(
            &base.key("type"),
            name,
            &predicate_types(),
        )]);
    };
    let what = format!("predicate {alias} ({})", short_name(ty.name));
    let own = settings(&(ty.config_def)(), &prefix, keys, props, &["type"], &what)?;
    (ty.build)(&own)
}

/// The declared predicate aliases, and those of them that built.
type KnownPredicates<'a> = (&'a [String], &'a BTreeMap<&'a str, Arc<dyn Predicate>>);

fn build_stage(
    alias: &str,
    keys: &[&String],
    props: &ConfigMap,
    (predicates, built): KnownPredicates<'_>,
    header_converter: &Arc<dyn HeaderConverter>,
) -> Result<Stage, Vec<ConfigIssue>> {
    let prefix = format!("transforms.{alias}.");
    let base = settings(&stage_def(), &prefix, &[], props, &[], alias)?;
    let mut issues = Vec::new();
    let predicate = match base.string("predicate").filter(|p| !p.is_empty()) {
        None => None,
        Some(name) => match built.get(name) {
            Some(predicate) => Some(Arc::clone(predicate)),
            // Declared but broken: its own keys already carry the issues.
            None if predicates.iter().any(|p| p == name) => None,
            None => {
                let issue = base.issue(
                    "predicate",
                    format!("Predicate {name} is not listed in predicates"),
                );
                issues.push(match closest(name, predicates.iter().map(String::as_str)) {
                    Some(near) => issue.with_hint(format!("did you mean {near}?")),
                    None => issue.with_hint(format!(
                        "add {name} to predicates and set predicates.{name}.type"
                    )),
                });
                None
            }
        },
    };
    let negate = base.boolean("negate").unwrap_or(false);
    if negate && base.string("predicate").is_none() {
        issues.push(
            base.issue("negate", "negate has no effect without a predicate")
                .with_hint(format!("set {} or remove negate", base.key("predicate"))),
        );
    }
    let name = base.string("type").unwrap_or_default();
    let Some(ty) = find_transform(name) else {
        issues.push(unknown_type(&base.key("type"), name, &transform_types()));
        return Err(issues);
    };
    let label = Label::new(alias, short_name(ty.name));
    let own = settings(
        &(ty.config_def)(),
        &prefix,
        keys,
        props,
        &STAGE_KEYS,
        &label.to_string(),
    );
    let transform = own.and_then(|own| {
        let own = own.with_header_converter(Arc::clone(header_converter));
        (ty.build)(label, &own)
    });
    match transform {
        Ok(transform) if issues.is_empty() => Ok(Stage {
            alias: alias.to_string(),
            transform,
            predicate,
            negate,
        }),
        Ok(_) => Err(issues),
        Err(more) => {
            issues.extend(more);
            Err(issues)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(pairs: &[(&str, &str)]) -> Vec<String> {
        let props: ConfigMap = crate::config::config_map(pairs);
        TransformChain::from_config(&props)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn misspelt_keys_get_did_you_mean_hints_with_full_names() {
        assert_eq!(
            issues(&[
                ("transforms", "addHost"),
                ("transforms.addHost.type", "InsertField$Value"),
                ("transforms.addHost.static.feild", "host"),
            ]),
            [
                "transforms.addHost.static.feild: Unknown configuration for addHost \
              (InsertField$Value) (hint: did you mean transforms.addHost.static.field?)"
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let found = issues(&[
            ("transforms", "a,b,c,d,a"),
            ("transforms.a.type", "InsertFeild$Value"),
            ("transforms.b.type", "ExtractField$Key"),
            ("transforms.c.type", "RegexRouter"),
            ("transforms.c.regex", "x"),
            ("transforms.c.replacement", "y"),
            ("transforms.c.predicate", "isTombstone"),
            ("transforms.c.negate", "maybe"),
            ("transforms.d.type", "Filter"),
            ("transforms.d.predicate", "istombstone"),
            ("transforms.extra.type", "Filter"),
            ("predicates", "isTombstone"),
            ("predicates.isTombstone.type", "RecordIsTombstone"),
            ("predicates.isTombstone.pattern", "x"),
        ]);
        assert_eq!(
            found,
            [
                "transforms: Duplicate alias provided: a",
                "transforms.extra.type: extra is not an alias listed in transforms (hint: add extra to \
                 transforms)",
                "predicates.isTombstone.pattern: Unknown configuration for predicate isTombstone \
                 (RecordIsTombstone) (hint: predicate isTombstone (RecordIsTombstone) takes no keys)",
                "transforms.a.type: Unknown type InsertFeild$Value (hint: did you mean InsertField$Value?)",
                "transforms.b.field: Missing required configuration \"transforms.b.field\" which has \
                 no default value. (hint: set transforms.b.field: Field name to extract.)",
                "transforms.c.negate: Invalid value maybe for configuration transforms.c.negate: \
                 Expected value to be either true or false",
                "transforms.d.predicate: Predicate istombstone is not listed in predicates \
                 (hint: did you mean isTombstone?)",
            ]
        );
    }

    #[test]
    fn stray_keys_near_an_alias_suggest_it() {
        assert_eq!(
            issues(&[
                ("transforms", "route"),
                ("transforms.route.type", "TimestampRouter"),
                ("transforms.rout.topic.format", "x"),
                ("predicates.p.type", "RecordIsTombstone"),
                ("transforms.route.negate", "true"),
            ]),
            [
                "transforms.rout.topic.format: rout is not an alias listed in transforms \
                 (hint: did you mean transforms.route.?)",
                "predicates.p.type: p is not an alias listed in predicates (hint: add p to predicates)",
                "transforms.route.negate: negate has no effect without a predicate \
                 (hint: set transforms.route.predicate or remove negate)",
            ]
        );
    }

    #[test]
    fn unknown_and_missing_types_are_reported() {
        assert_eq!(
            issues(&[
                ("transforms", "x,y"),
                ("transforms.x.type", "HoistField"),
                ("predicates", "p"),
                ("predicates.p.type", "TopicNameMatch"),
            ]),
            [
                "predicates.p.type: Unknown type TopicNameMatch (hint: did you mean TopicNameMatches?)",
                "transforms.x.type: Unknown type HoistField (hint: HoistField works on the key \
                 or the value: use HoistField$Key or HoistField$Value)",
                "transforms.y.type: Missing required configuration \"transforms.y.type\" which has \
                 no default value. (hint: set transforms.y.type: The transform's type, e.g. \
                 org.apache.kafka.connect.transforms.InsertField$Value.)",
            ]
        );
    }

    #[test]
    fn lists_every_type_by_its_full_name() {
        assert!(transform_types().contains(&"io.weir.connect.transforms.ExpressionFilter"));
        assert!(transform_types().contains(&"org.apache.kafka.connect.transforms.ValueToKey"));
        assert_eq!(predicate_types().len(), 3);
    }
}
