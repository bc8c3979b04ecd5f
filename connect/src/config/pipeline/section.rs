//! A `source:` or `sink:` section, with the shared top-level sections that apply to it,
//! as one connector's flat config.

use super::flatten::{is_key, Flat};
use super::yaml::{Node, Value};
use crate::config::{connector_def, framework_def, ConfigDef};
use crate::{ConnectorType, Plugins};

/// A flattened section.
#[derive(Debug)]
pub(super) struct Section {
    pub(super) kind: ConnectorType,
    /// The line of `source:` or `sink:`.
    pub(super) line: usize,
    pub(super) flat: Flat,
}

/// Flattens the section `node` (declared at `line`) of the pipeline `pipeline`, plus
/// the top-level `shared` entries (transforms, predicates, converters, errors).
pub(super) fn flatten(
    kind: ConnectorType,
    pipeline: &str,
    name_line: usize,
    line: usize,
    node: &Node,
    shared: &[&(Node, Node)],
    plugins: &Plugins,
) -> Section {
    let mut flat = Flat::default();
    flat.insert("name".into(), format!("{pipeline}-{kind}"), name_line);
    let Value::Map(entries) = &node.value else {
        flat.problem(
            line,
            Some(&kind.to_string()),
            format!("must be a map of connector keys, not {}", node.value.kind()),
            Some(format!(
                "write `{kind}:` then `connector: <plugin>` indented below it"
            )),
        );
        return Section { kind, line, flat };
    };

    // The plugin, to know which keys take a single value.
    let class = entries
        .iter()
        .find(|(k, _)| is_key(k, "connector") || is_key(k, "connector.class"));
    let plugin = match class {
        Some((_, node)) => match &node.value {
            Value::Scalar(class) => plugins.find(class.trim()),
            _ => None,
        },
        None => {
            let names: Vec<_> = plugins.names().collect();
            flat.problem(
                line,
                Some("connector"),
                format!("the {kind} has no connector"),
                Some(format!(
                    "add `connector:` with one of: {}",
                    names.join(", ")
                )),
            );
            None
        }
    };
    if let (Some(plugin), Some((_, class))) = (plugin, class) {
        let actual = plugin.connector_type();
        if actual != kind {
            flat.problem(
                class.line,
                Some("connector"),
                format!("{} is a {actual} connector, not a {kind}", plugin.class()),
                Some(format!("declare it under `{actual}:`")),
            );
        }
    }
    let def = match plugin {
        Some(plugin) => connector_def(plugin.as_ref()),
        None => framework_def(Some(kind)),
    };

    let mut own = Vec::new();
    for (key, value) in entries {
        let Some(name) = flat.scalar(&format!("{kind}.<key>"), key) else {
            continue;
        };
        match name {
            "connector" | "connector.class" => {
                if let Some(class) = flat.scalar(name, value) {
                    flat.insert(
                        "connector.class".into(),
                        class.trim().to_string(),
                        value.line,
                    );
                }
            }
            "name" => flat.problem(
                key.line,
                Some("name"),
                "is set by the pipeline".into(),
                Some(format!(
                    "this connector is named {pipeline}-{kind}; rename the pipeline to change it"
                )),
            ),
            "transforms" | "predicates" | "converters" | "errors" => {
                own.push(name);
                shared_entry(&mut flat, name, key, value, &def);
            }
            _ => flat.value(name, value, Some(&def)),
        }
    }
    for (key, value) in shared {
        let Value::Scalar(name) = &key.value else {
            continue;
        };
        if own.contains(&name.as_str()) {
            flat.problem(
                key.line,
                Some(name),
                format!("is given both at the top level and under {kind}:"),
                Some("keep one of them".into()),
            );
        } else {
            shared_entry(&mut flat, name, key, value, &def);
        }
    }
    Section { kind, line, flat }
}

fn shared_entry(flat: &mut Flat, name: &str, key: &Node, value: &Node, def: &ConfigDef) {
    match name {
        "transforms" | "predicates" => flat.named_list(name, key.line, value),
        "converters" => flat.converters(value),
        _ => flat.errors(value, Some(def)),
    }
}

/// With both a source and a sink, a sink given no topics reads the source's `topic`.
pub(super) fn chain_topics(sections: &mut [Section]) {
    let [source, sink] = sections else { return };
    let given = |s: &Section, key: &str| s.flat.config.contains_key(key);
    if source.kind != ConnectorType::Source || given(sink, "topics") || given(sink, "topics.regex")
    {
        return;
    }
    if let Some(topic) = source.flat.config.get("topic").cloned() {
        let line = sink.line;
        sink.flat.insert("topics".into(), topic, line);
    }
}
