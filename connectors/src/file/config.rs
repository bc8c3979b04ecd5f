//! The file source's keys, declared once for parsing, `config/validate` and docs, and
//! the typed settings a task runs with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use weir_connect::config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, ParsedConfig, Validator,
};
use weir_connect::ConnectError;

use super::multiline::{MatchMode, MultilineRule};

pub(crate) const TOPIC: &str = "topic";
pub(crate) const FILE_PATHS: &str = "file.paths";
pub(crate) const READ_FROM: &str = "read.from";
pub(crate) const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub(crate) const MULTILINE_PATTERN: &str = "multiline.pattern";
pub(crate) const MULTILINE_NEGATE: &str = "multiline.negate";
pub(crate) const MULTILINE_MATCH: &str = "multiline.match";
pub(crate) const MULTILINE_MAX_LINES: &str = "multiline.max.lines";
pub(crate) const MULTILINE_TIMEOUT_MS: &str = "multiline.timeout.ms";
pub(crate) const MAX_LINE_BYTES: &str = "max.line.bytes";

/// Records per poll when the runtime's `batch.max.records` is not visible to the task.
pub(crate) const DEFAULT_BATCH_MAX_RECORDS: usize = 1000;

const GROUP: &str = "File";

/// Every key of the file source.
pub(crate) fn config_def() -> ConfigDef {
    let at_least_one = Validator::Range {
        min: Some(1.0),
        max: None,
    };
    ConfigDef::new()
        .define(
            ConfigKey::new(
                TOPIC,
                ConfigType::String,
                "The topic the lines are written to.",
            )
            .importance(Importance::High)
            .group(GROUP)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                FILE_PATHS,
                ConfigType::List,
                "Glob patterns of the files to read, comma-separated (`*`, `?`, `[abc]`, `**`), \
                 e.g. /var/log/app/*.log. Rescanned every poll.interval.ms, so new files are \
                 picked up. Include rotated names (app.log*) so a restart resumes a file that \
                 was rotated while unread.",
            )
            .importance(Importance::High)
            .group(GROUP)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                READ_FROM,
                ConfigType::String,
                "Where a file found at startup with no stored position starts: `beginning` or \
                 `end`. Files created while the task runs are always read from the beginning.",
            )
            .default_value("beginning")
            .group(GROUP)
            .validator(Validator::OneOf(&["beginning", "end"])),
        )
        .define(
            ConfigKey::new(
                POLL_INTERVAL_MS,
                ConfigType::Long,
                "How often the globs are rescanned and idle files checked for new lines.",
            )
            .default_value("250")
            .importance(Importance::Low)
            .group(GROUP)
            .validator(at_least_one.clone()),
        )
        .define(
            ConfigKey::new(
                MULTILINE_PATTERN,
                ConfigType::String,
                "A regular expression that marks lines belonging to a multiline event, as \
                 Filebeat's multiline.pattern (e.g. `^\\s` for stack trace frames). Unset: one \
                 record per line.",
            )
            .optional()
            .group(GROUP),
        )
        .define(
            ConfigKey::new(
                MULTILINE_NEGATE,
                ConfigType::Boolean,
                "Inverts the pattern: lines that do not match it are the ones joined.",
            )
            .default_value("false")
            .group(GROUP),
        )
        .define(
            ConfigKey::new(
                MULTILINE_MATCH,
                ConfigType::String,
                "`after`: a matching line is appended to the line before it; `before`: a \
                 matching line is continued by the line after it.",
            )
            .default_value("after")
            .group(GROUP)
            .validator(Validator::OneOf(&["after", "before"])),
        )
        .define(
            ConfigKey::new(
                MULTILINE_MAX_LINES,
                ConfigType::Int,
                "The most lines in one multiline event; the next line starts a new event.",
            )
            .default_value("500")
            .importance(Importance::Low)
            .group(GROUP)
            .validator(at_least_one.clone()),
        )
        .define(
            ConfigKey::new(
                MULTILINE_TIMEOUT_MS,
                ConfigType::Long,
                "A multiline event still waiting for lines is sent after this long without a \
                 new line.",
            )
            .default_value("1000")
            .importance(Importance::Low)
            .group(GROUP)
            .validator(at_least_one.clone()),
        )
        .define(
            ConfigKey::new(
                MAX_LINE_BYTES,
                ConfigType::Int,
                "The largest record value in bytes. A longer line is split into records of at \
                 most this size (nothing is dropped), and a multiline event that would grow \
                 past it is sent and a new one started.",
            )
            .default_value("1048576")
            .importance(Importance::Low)
            .group(GROUP)
            .validator(at_least_one),
        )
}

/// Checks what the key declarations cannot: the pattern compiles and the globs parse.
pub(crate) fn validate(config: &ParsedConfig) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    if let Some(pattern) = config.string(MULTILINE_PATTERN) {
        if let Err(err) = Regex::new(pattern) {
            issues.push(
                ConfigIssue::new(
                    MULTILINE_PATTERN,
                    format!(
                        "Invalid value {pattern} for configuration {MULTILINE_PATTERN}: not a \
                         valid regular expression: {}",
                        one_line(&err.to_string())
                    ),
                )
                .with_hint(
                    "the syntax is RE2's (no look-around or backreferences); in YAML, quote the \
                     pattern with single quotes so backslashes stay as written",
                ),
            );
        }
    }
    for glob in config.list(FILE_PATHS) {
        if let Err(err) = glob::Pattern::new(glob) {
            issues.push(
                ConfigIssue::new(
                    FILE_PATHS,
                    format!(
                        "Invalid value {glob} for configuration {FILE_PATHS}: not a valid glob \
                         pattern: {err}"
                    ),
                )
                .with_hint("use `*`, `?`, `[...]` and `**` (a whole path component)"),
            );
        }
    }
    issues
}

/// Regex errors draw a caret under the pattern over several lines; an issue is one.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where a file with no stored position starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFrom {
    Beginning,
    End,
}

/// A task's settings.
#[derive(Debug, Clone)]
pub(crate) struct FileSourceConfig {
    pub(crate) topic: String,
    /// The globs, made absolute so partitions name absolute paths.
    pub(crate) globs: Vec<String>,
    pub(crate) read_from: ReadFrom,
    pub(crate) poll_interval: Duration,
    pub(crate) multiline: Option<MultilineRule>,
    pub(crate) multiline_timeout: Duration,
    pub(crate) max_line_bytes: usize,
    pub(crate) batch_max_records: usize,
}

impl FileSourceConfig {
    pub(crate) fn from_parsed(config: &ParsedConfig) -> Result<FileSourceConfig, ConnectError> {
        if let Some(issue) = validate(config).into_iter().next() {
            return Err(ConnectError::user(issue.to_string()));
        }
        let max_line_bytes = positive(config.long(MAX_LINE_BYTES), 1 << 20);
        let multiline = match config.string(MULTILINE_PATTERN) {
            Some(pattern) if !pattern.is_empty() => Some(MultilineRule {
                pattern: Regex::new(pattern).map_err(|err| {
                    ConnectError::user(format!("{MULTILINE_PATTERN} is not valid")).with_source(err)
                })?,
                negate: config.boolean(MULTILINE_NEGATE).unwrap_or(false),
                mode: match config.string(MULTILINE_MATCH) {
                    Some("before") => MatchMode::Before,
                    _ => MatchMode::After,
                },
                max_lines: positive(config.long(MULTILINE_MAX_LINES), 500),
                max_bytes: max_line_bytes,
            }),
            _ => None,
        };
        Ok(FileSourceConfig {
            topic: config.string(TOPIC).unwrap_or_default().to_string(),
            globs: config
                .list(FILE_PATHS)
                .iter()
                .map(|glob| absolute(glob))
                .collect(),
            read_from: match config.string(READ_FROM) {
                Some("end") => ReadFrom::End,
                _ => ReadFrom::Beginning,
            },
            poll_interval: millis(config.long(POLL_INTERVAL_MS), 250),
            multiline,
            multiline_timeout: millis(config.long(MULTILINE_TIMEOUT_MS), 1000),
            max_line_bytes,
            batch_max_records: DEFAULT_BATCH_MAX_RECORDS,
        })
    }
}

fn positive(value: Option<i64>, default: usize) -> usize {
    value
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn millis(value: Option<i64>, default: u64) -> Duration {
    Duration::from_millis(positive(value, default as usize) as u64)
}

/// A relative glob is relative to the worker's working directory.
fn absolute(glob: &str) -> String {
    let path = Path::new(glob);
    if path.is_absolute() {
        return glob.to_string();
    }
    std::path::absolute(path)
        .unwrap_or_else(|_| PathBuf::from(glob))
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use weir_connect::config::ConfigMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> ParsedConfig {
        let props: ConfigMap = weir_connect::config::config_map(pairs);
        config_def().parse(&props).unwrap()
    }

    #[test]
    fn defaults_follow_the_documentation() {
        let config =
            FileSourceConfig::from_parsed(&parse(&[("topic", "logs"), ("file.paths", "/a/*.log")]))
                .unwrap();
        assert_eq!(config.globs, ["/a/*.log"]);
        assert_eq!(config.read_from, ReadFrom::Beginning);
        assert_eq!(config.poll_interval, Duration::from_millis(250));
        assert_eq!(config.multiline_timeout, Duration::from_secs(1));
        assert_eq!(config.max_line_bytes, 1 << 20);
        assert!(config.multiline.is_none());
    }

    #[test]
    fn a_bad_pattern_is_one_issue_on_its_key() {
        let issues = validate(&parse(&[
            ("topic", "logs"),
            ("file.paths", "/a/*.log"),
            ("multiline.pattern", "^(unclosed"),
        ]));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, MULTILINE_PATTERN);
        assert!(!issues[0].message.contains('\n'), "{}", issues[0].message);
        assert!(issues[0].message.contains("not a valid regular expression"));
    }

    #[test]
    fn a_bad_glob_is_an_issue() {
        let issues = validate(&parse(&[("topic", "logs"), ("file.paths", "/a/[*.log")]));
        assert_eq!(issues[0].key, FILE_PATHS);
    }

    #[test]
    fn relative_globs_become_absolute() {
        assert!(Path::new(&absolute("logs/*.log")).is_absolute());
    }
}
