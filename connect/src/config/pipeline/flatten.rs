//! One pipeline section (`source:` or `sink:`) turned into Kafka Connect's flat config,
//! remembering the line each key came from.
//!
//! Nested maps become dotted keys and lists of plain values become comma-separated
//! values, as Kafka's `LIST` type reads them; `transforms:`, `predicates:`,
//! `converters:` and `errors:` become their Kafka keys.

use std::collections::BTreeMap;

use super::yaml::{Node, Value};
use super::Problem;
use crate::config::{closest, ConfigDef, ConfigMap, ConfigType};

/// A flat config being built, and the problems found building it.
#[derive(Debug, Default)]
pub(super) struct Flat {
    pub(super) config: ConfigMap,
    pub(super) lines: BTreeMap<String, usize>,
    pub(super) problems: Vec<Problem>,
}

impl Flat {
    pub(super) fn insert(&mut self, key: String, value: String, line: usize) {
        if let Some(first) = self.lines.get(&key) {
            let first = *first;
            self.problem(
                line,
                Some(&key),
                format!("given twice (first at line {first})"),
                Some("keep one of them".into()),
            );
            return;
        }
        self.lines.insert(key.clone(), line);
        self.config.insert(key, value);
    }

    pub(super) fn problem(
        &mut self,
        line: usize,
        key: Option<&str>,
        message: String,
        hint: Option<String>,
    ) {
        self.problems.push(Problem {
            line,
            column: None,
            key: key.map(str::to_string),
            message,
            hint,
        });
    }

    /// The text of a scalar, or a problem saying what `key` needs instead.
    pub(super) fn scalar<'n>(&mut self, key: &str, node: &'n Node) -> Option<&'n str> {
        match &node.value {
            Value::Scalar(text) => Some(text),
            Value::Null => {
                self.problem(
                    node.line,
                    Some(key),
                    "has no value".into(),
                    Some("give it a value, or remove the line".into()),
                );
                None
            }
            other => {
                self.problem(
                    node.line,
                    Some(key),
                    format!("takes a single value, not {}", other.kind()),
                    Some(format!("write `{}: value`", last_segment(key))),
                );
                None
            }
        }
    }

    /// Any connector key: maps flatten to dotted keys, lists join with commas. `def`
    /// says which keys take a single value, so a map or list given for one is caught
    /// here with its line rather than as an unknown key later.
    pub(super) fn value(&mut self, key: &str, node: &Node, def: Option<&ConfigDef>) {
        let declared = def.and_then(|d| d.key(key));
        match &node.value {
            Value::Null | Value::Scalar(_) => {
                if let Some(text) = self.scalar(key, node) {
                    self.insert(key.to_string(), text.to_string(), node.line);
                }
            }
            Value::Seq(items) if declared.is_none_or(|k| k.ty == ConfigType::List) => {
                let mut values = Vec::new();
                for item in items {
                    match &item.value {
                        Value::Scalar(text) if text.contains(',') => self.problem(
                            item.line,
                            Some(key),
                            format!("list item '{text}' contains a comma"),
                            Some(
                                "list values are joined with commas, so items cannot hold one"
                                    .into(),
                            ),
                        ),
                        Value::Scalar(text) => values.push(text.clone()),
                        other => self.problem(
                            item.line,
                            Some(key),
                            format!(
                                "a list item here must be a plain value, not {}",
                                other.kind()
                            ),
                            Some("only transforms: and predicates: hold lists of maps".into()),
                        ),
                    }
                }
                self.insert(key.to_string(), values.join(","), node.line);
            }
            // A key that takes a value may still start longer keys (`topic` and
            // `topic.creation.groups`): a map under it is taken only when each of its
            // entries leads to one of those, so `topic: {name: t}` is still caught.
            Value::Map(entries)
                if declared.is_none()
                    || def.is_some_and(|d| {
                        entries.iter().all(|(name, _)| {
                            let Value::Scalar(name) = &name.value else {
                                return false;
                            };
                            let nested = format!("{key}.{name}");
                            d.keys().iter().any(|k| {
                                k.name
                                    .strip_prefix(&nested)
                                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                            })
                        })
                    }) =>
            {
                for (name, value) in entries {
                    if let Some(name) = self.scalar(&format!("{key}.<key>"), name) {
                        self.value(&format!("{key}.{name}"), value, def);
                    }
                }
            }
            other => {
                let ty = declared.map_or("value", |k| k.ty.name());
                self.problem(
                    node.line,
                    Some(key),
                    format!("takes a single {ty}, not {}", other.kind()),
                    Some(match ty {
                        "LIST" => format!("write `{}: [a, b]`", last_segment(key)),
                        _ => format!("write `{}: value`", last_segment(key)),
                    }),
                );
            }
        }
    }

    /// `transforms:` or `predicates:`: a list of maps, each with `name` and `type`.
    pub(super) fn named_list(&mut self, kind: &str, key_line: usize, node: &Node) {
        let example = if kind == "transforms" {
            "- name: addHost\n    type: InsertField$Value"
        } else {
            "- name: isTombstone\n    type: RecordIsTombstone"
        };
        let Value::Seq(items) = &node.value else {
            self.problem(
                node.line,
                Some(kind),
                format!("must be a list of maps, not {}", node.value.kind()),
                Some(format!("write each as `{example}`")),
            );
            return;
        };
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let Value::Map(entries) = &item.value else {
                self.problem(
                    item.line,
                    Some(kind),
                    format!(
                        "each item must be a map with name and type, not {}",
                        item.value.kind()
                    ),
                    Some(format!("write `{example}`")),
                );
                continue;
            };
            let field = |wanted: &str| entries.iter().find(|(k, _)| is_key(k, wanted));
            let Some((_, name_node)) = field("name") else {
                self.problem(
                    item.line,
                    Some(kind),
                    "an item has no name".into(),
                    Some(format!("add `name:`, as in `{example}`")),
                );
                continue;
            };
            let Some(name) = self.scalar(&format!("{kind}.name"), name_node) else {
                continue;
            };
            if names.iter().any(|n| n == name) {
                self.problem(
                    name_node.line,
                    Some(kind),
                    format!("'{name}' is named twice"),
                    Some("give each a different name".into()),
                );
                continue;
            }
            names.push(name.to_string());
            if field("type").is_none() {
                self.problem(
                    item.line,
                    Some(&format!("{kind}.{name}.type")),
                    format!("'{name}' has no type"),
                    Some(format!("add `type:`, as in `{example}`")),
                );
            }
            self.lines
                .entry(format!("{kind}.{name}"))
                .or_insert(name_node.line);
            for (key, value) in entries.iter().filter(|(k, _)| !is_key(k, "name")) {
                if let Some(key) = self.scalar(&format!("{kind}.{name}.<key>"), key) {
                    self.value(&format!("{kind}.{name}.{key}"), value, None);
                }
            }
        }
        self.insert(kind.to_string(), names.join(","), key_line);
    }

    /// `converters: {key: string, value: {type: json, schemas.enable: true}, header: simple}`.
    pub(super) fn converters(&mut self, node: &Node) {
        let Value::Map(entries) = &node.value else {
            self.problem(
                node.line,
                Some("converters"),
                format!("must be a map, not {}", node.value.kind()),
                Some("write `converters: {key: string, value: json}`".into()),
            );
            return;
        };
        for (which, converter) in entries {
            let Some(which) = self.scalar("converters.<key>", which).map(str::to_string) else {
                continue;
            };
            if !["key", "value", "header"].contains(&which.as_str()) {
                let hint = match closest(&which, ["key", "value", "header"].into_iter()) {
                    Some(near) => format!("did you mean '{near}'?"),
                    None => "converters takes key, value and header".into(),
                };
                self.problem(
                    converter.line,
                    Some(&format!("converters.{which}")),
                    "unknown key".into(),
                    Some(hint),
                );
                continue;
            }
            let prefix = format!("{which}.converter");
            match &converter.value {
                Value::Map(settings) => {
                    let mut typed = false;
                    for (name, value) in settings {
                        let Some(name) = self.scalar(&format!("{prefix}.<key>"), name) else {
                            continue;
                        };
                        if name == "type" {
                            typed = true;
                            if let Some(text) = self.scalar(&prefix, value) {
                                self.insert(prefix.clone(), text.to_string(), value.line);
                            }
                        } else {
                            self.value(&format!("{prefix}.{name}"), value, None);
                        }
                    }
                    if !typed {
                        self.problem(
                            converter.line,
                            Some(&prefix),
                            "has settings but no type".into(),
                            Some(format!("add `type: json` under converters: {which}:")),
                        );
                    }
                }
                _ => {
                    if let Some(text) = self.scalar(&prefix, converter) {
                        self.insert(prefix.clone(), text.to_string(), converter.line);
                    }
                }
            }
        }
    }

    /// `errors: {tolerance: all, …}` → `errors.tolerance=all`.
    pub(super) fn errors(&mut self, node: &Node, def: Option<&ConfigDef>) {
        if !matches!(node.value, Value::Map(_)) {
            self.problem(
                node.line,
                Some("errors"),
                format!("must be a map, not {}", node.value.kind()),
                Some("write `errors: {tolerance: all}`".into()),
            );
            return;
        }
        self.value("errors", node, def);
    }
}

/// Whether a map key node is the scalar `wanted`.
pub(super) fn is_key(node: &Node, wanted: &str) -> bool {
    matches!(&node.value, Value::Scalar(k) if k == wanted)
}

fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}
