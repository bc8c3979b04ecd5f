//! YAML pipeline files: a source, a sink, or both chained through a topic, turned into
//! Kafka Connect's flat connector configs and checked with [`ConnectorConfig::parse`].
//!
//! ```yaml
//! name: app-logs
//! source:
//!   connector: file-source
//!   topic: app-logs
//!   file:
//!     paths: [/var/log/app/*.log]
//! sink:
//!   connector: redis-sink
//!   redis.uri: redis://127.0.0.1:6379
//! ```
//!
//! becomes `app-logs-source` and `app-logs-sink` (whose `topics` defaults to the
//! source's `topic`). Every problem, from YAML syntax to a connector's own checks, is
//! reported as `file:line: key: message (hint: …)`, all of them at once.
//! `docs/connect-pipelines.md` describes the format.

mod flatten;
mod section;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::{closest, ConfigMap, ConnectorConfig};
use crate::{ConnectorType, Plugins};

use self::flatten::is_key;
use self::yaml::Value;

/// A pipeline file, as connector configs.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    /// The source first, then the sink; one of them may be absent.
    pub connectors: Vec<PipelineConnector>,
}

/// One connector of a pipeline: `<pipeline>-source` or `<pipeline>-sink`.
#[derive(Debug, Clone)]
pub struct PipelineConnector {
    pub name: String,
    /// Which section of the file declared it.
    pub section: ConnectorType,
    /// Kafka Connect's flat config, env references unresolved.
    pub config: ConfigMap,
    /// The file line each key of `config` came from.
    pub lines: BTreeMap<String, usize>,
    /// The line of the section (`source:` or `sink:`).
    pub line: usize,
}

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    /// For YAML syntax errors.
    pub column: Option<usize>,
    /// The config key concerned, when there is one.
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// Why a pipeline file cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: cannot read the pipeline file: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, in line order.
    #[error("{}", ProblemList(file, problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

struct ProblemList<'a>(&'a str, &'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}", self.0, p.line)?;
            if let Some(column) = p.column {
                write!(f, ":{column}")?;
            }
            f.write_str(": ")?;
            if let Some(key) = &p.key {
                write!(f, "{key}: ")?;
            }
            f.write_str(&p.message)?;
            if let Some(hint) = &p.hint {
                write!(f, " (hint: {hint})")?;
            }
        }
        Ok(())
    }
}

const TOP_LEVEL: &[&str] = &[
    "name",
    "source",
    "sink",
    "transforms",
    "predicates",
    "converters",
    "errors",
];

/// Reads and checks the pipeline file at `path`.
pub fn load_pipeline(
    path: &Path,
    plugins: &Plugins,
) -> Result<(Pipeline, Vec<ConnectorConfig>), PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_pipeline(&text, &path.display().to_string(), plugins)
}

/// Checks a pipeline's YAML `text`; `file` names it in problems.
pub fn parse_pipeline(
    text: &str,
    file: &str,
    plugins: &Plugins,
) -> Result<(Pipeline, Vec<ConnectorConfig>), PipelineError> {
    let invalid = |problems: Vec<Problem>| PipelineError::Invalid {
        file: file.to_string(),
        problems,
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(invalid(vec![problem(
                1,
                "the pipeline file is empty",
                "start with `name: my-pipeline` and a source: or sink: section",
            )]))
        }
        Err(e) => {
            return Err(invalid(vec![Problem {
                line: e.line,
                column: Some(e.column),
                key: None,
                message: format!("invalid YAML: {}", e.message),
                hint: None,
            }]))
        }
    };
    let Value::Map(entries) = &root.value else {
        return Err(invalid(vec![problem(
            root.line,
            &format!("a pipeline must be a map, not {}", root.value.kind()),
            "start with `name: my-pipeline` and a source: or sink: section",
        )]));
    };

    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, value) in entries {
        let Value::Scalar(name) = &key.value else {
            problems.push(problem(
                key.line,
                "a top-level key must be a plain name",
                "see docs/connect-pipelines.md",
            ));
            continue;
        };
        if !TOP_LEVEL.contains(&name.as_str()) {
            let hint = match closest(name, TOP_LEVEL.iter().copied()) {
                Some(near) => format!("did you mean '{near}'?"),
                None => format!("a pipeline takes {}", TOP_LEVEL.join(", ")),
            };
            problems.push(keyed(key.line, name, "unknown key", &hint));
        } else if let Some(first) = seen.insert(name, key.line) {
            problems.push(keyed(
                value.line,
                name,
                &format!("given twice (first at line {first})"),
                "keep one of them",
            ));
        }
    }
    let find = |wanted: &str| entries.iter().find(|(k, _)| is_key(k, wanted));

    let name = match find("name") {
        Some((_, node)) => match &node.value {
            Value::Scalar(name) if !name.trim().is_empty() => {
                Some((name.trim().to_string(), node.line))
            }
            _ => {
                problems.push(keyed(
                    node.line,
                    "name",
                    &format!("must be the pipeline's name, not {}", node.value.kind()),
                    "write `name: my-pipeline`",
                ));
                None
            }
        },
        None => {
            problems.push(problem(
                root.line,
                "the pipeline has no name",
                "add `name: my-pipeline` at the top",
            ));
            None
        }
    };
    let source = find("source");
    let sink = find("sink");
    if source.is_none() && sink.is_none() {
        problems.push(problem(
            root.line,
            "the pipeline has neither a source nor a sink",
            "add a source: section, a sink: section, or both",
        ));
    }
    let Some((name, name_line)) = name else {
        return Err(invalid(sorted(problems)));
    };

    // Shared sections apply to the sink when there is one, else to the source.
    let shared: Vec<_> = ["transforms", "predicates", "converters", "errors"]
        .into_iter()
        .filter_map(find)
        .collect();
    let mut sections = Vec::new();
    for (kind, section) in [(ConnectorType::Source, source), (ConnectorType::Sink, sink)] {
        let Some((key, node)) = section else { continue };
        let takes_shared = kind == ConnectorType::Sink || sink.is_none();
        let shared = if takes_shared { &shared[..] } else { &[] };
        sections.push(section::flatten(
            kind, &name, name_line, key.line, node, shared, plugins,
        ));
    }
    section::chain_topics(&mut sections);

    let mut connectors = Vec::new();
    let mut configs = Vec::new();
    for section in sections {
        let flat = section.flat;
        let clean = flat.problems.is_empty();
        problems.extend(flat.problems);
        let connector = PipelineConnector {
            name: flat.config.get("name").cloned().unwrap_or_default(),
            section: section.kind,
            config: flat.config,
            lines: flat.lines,
            line: section.line,
        };
        if clean {
            match ConnectorConfig::parse(plugins, &connector.config) {
                Ok(config) => configs.push(config),
                Err(issues) => problems.extend(issues.into_iter().map(|issue| Problem {
                    line: connector.line_of(&issue.key),
                    column: None,
                    key: Some(issue.key),
                    message: issue.message,
                    hint: issue.hint,
                })),
            }
        }
        connectors.push(connector);
    }
    if problems.is_empty() {
        Ok((Pipeline { name, connectors }, configs))
    } else {
        Err(invalid(sorted(problems)))
    }
}

impl PipelineConnector {
    /// The line of `key`, or of the nearest enclosing key given (`transforms.x` for
    /// `transforms.x.field`), or of the section for keys not given at all.
    pub fn line_of(&self, key: &str) -> usize {
        let mut prefix = key;
        loop {
            if let Some(line) = self.lines.get(prefix) {
                return *line;
            }
            match prefix.rsplit_once('.') {
                Some((head, _)) => prefix = head,
                None => return self.line,
            }
        }
    }
}

fn problem(line: usize, message: &str, hint: &str) -> Problem {
    Problem {
        line,
        column: None,
        key: None,
        message: message.to_string(),
        hint: Some(hint.to_string()),
    }
}

fn keyed(line: usize, key: &str, message: &str, hint: &str) -> Problem {
    Problem {
        key: Some(key.to_string()),
        ..problem(line, message, hint)
    }
}

fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| p.line);
    problems
}

#[cfg(test)]
mod tests;
