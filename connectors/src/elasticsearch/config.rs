//! The Elasticsearch sink's keys, with the names and defaults of Confluent's
//! Elasticsearch sink connector, and the typed config a task runs with.
//!
//! Enumerated values (`write.method`, `behavior.on.*`, `data.stream.type`) are read
//! case-insensitively, as Confluent's connector reads them (`UPSERT` and `upsert` both
//! work).

use std::time::Duration;

use weir_connect::config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigType, ConfigValue, Importance, ParsedConfig, Secret,
    Validator,
};

use super::index::{DataStream, IndexName};
use super::url::HostUrl;

pub(crate) const CONNECTION_URL: &str = "connection.url";
pub(crate) const USERNAME: &str = "connection.username";
pub(crate) const PASSWORD: &str = "connection.password";
pub(crate) const KEY_IGNORE: &str = "key.ignore";
pub(crate) const SCHEMA_IGNORE: &str = "schema.ignore";
pub(crate) const WRITE_METHOD: &str = "write.method";
pub(crate) const NULL_VALUES: &str = "behavior.on.null.values";
pub(crate) const MALFORMED_DOCUMENTS: &str = "behavior.on.malformed.documents";
pub(crate) const BATCH_SIZE: &str = "batch.size";
pub(crate) const BULK_SIZE_BYTES: &str = "bulk.size.bytes";
pub(crate) const MAX_IN_FLIGHT: &str = "max.in.flight.requests";
pub(crate) const LINGER_MS: &str = "linger.ms";
pub(crate) const FLUSH_TIMEOUT_MS: &str = "flush.timeout.ms";
pub(crate) const MAX_RETRIES: &str = "max.retries";
pub(crate) const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
pub(crate) const READ_TIMEOUT_MS: &str = "read.timeout.ms";
pub(crate) const CONNECTION_TIMEOUT_MS: &str = "connection.timeout.ms";
pub(crate) const COMPRESSION: &str = "connection.compression";
pub(crate) const DATA_STREAM_TYPE: &str = "data.stream.type";
pub(crate) const DATA_STREAM_DATASET: &str = "data.stream.dataset";
pub(crate) const DATA_STREAM_NAMESPACE: &str = "data.stream.namespace";
pub(crate) const DATA_STREAM_TIMESTAMP_FIELD: &str = "data.stream.timestamp.field";

const GROUP_CONNECTOR: &str = "Connector";
const GROUP_DATA: &str = "Data Conversion";
const GROUP_STREAMS: &str = "Data Stream";

/// `write.method`: how a record with a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMethod {
    /// `index`: the record's value replaces the document.
    Insert,
    /// `update` with `doc_as_upsert`: the value's fields are merged into the document.
    Upsert,
}

/// `behavior.on.null.values`: what a tombstone does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NullValues {
    Ignore,
    Delete,
    Fail,
}

/// `behavior.on.malformed.documents`: what a document the server cannot parse does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    Ignore,
    Warn,
    Fail,
}

/// Reads `value` as one of `names` (case-insensitively); the position in `names`.
fn choice(value: &str, names: &[&str]) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(value))
}

const WRITE_METHODS: &[&str] = &["insert", "upsert"];
const NULL_BEHAVIORS: &[&str] = &["ignore", "delete", "fail"];
const MALFORMED_BEHAVIORS: &[&str] = &["ignore", "warn", "fail"];
const STREAM_TYPES: &[&str] = &["none", "logs", "metrics"];

/// `Validator::OneOf` is case-sensitive; these keys are not.
fn check_choice(value: &ConfigValue, names: &[&str]) -> Result<(), String> {
    match value {
        ConfigValue::String(s) if choice(s, names).is_none() => Err(format!(
            "String must be one of (case-insensitive): {}",
            names.join(", ")
        )),
        _ => Ok(()),
    }
}

fn write_method(value: &ConfigValue) -> Result<(), String> {
    check_choice(value, WRITE_METHODS)
}

fn null_behavior(value: &ConfigValue) -> Result<(), String> {
    check_choice(value, NULL_BEHAVIORS)
}

fn malformed_behavior(value: &ConfigValue) -> Result<(), String> {
    check_choice(value, MALFORMED_BEHAVIORS)
}

fn stream_type(value: &ConfigValue) -> Result<(), String> {
    check_choice(value, STREAM_TYPES)
}

fn at_least(min: f64) -> Validator {
    Validator::Range {
        min: Some(min),
        max: None,
    }
}

pub(crate) fn config_def() -> ConfigDef {
    let key = |name: &str, ty, doc: &str| ConfigKey::new(name, ty, doc).group(GROUP_CONNECTOR);
    ConfigDef::new()
        .define(
            key(
                CONNECTION_URL,
                ConfigType::List,
                "The servers' URLs, comma-separated, e.g. http://es1:9200,http://es2:9200. \
                 Requests go round-robin; a server that fails is skipped until the next retry.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            key(
                USERNAME,
                ConfigType::String,
                "The user for HTTP basic authentication; none when unset.",
            )
            .optional()
            .importance(Importance::Medium),
        )
        .define(
            key(
                PASSWORD,
                ConfigType::Password,
                "The password for HTTP basic authentication.",
            )
            .optional()
            .importance(Importance::Medium),
        )
        .define(
            key(
                BATCH_SIZE,
                ConfigType::Int,
                "The most actions in one bulk request.",
            )
            .default_value("2000")
            .validator(Validator::Range {
                min: Some(1.0),
                max: Some(1_000_000.0),
            }),
        )
        .define(
            key(
                BULK_SIZE_BYTES,
                ConfigType::Long,
                "The most bytes of actions in one bulk request (before compression); a \
                 single larger document is sent alone.",
            )
            .default_value("5242880")
            .validator(at_least(1.0)),
        )
        .define(
            key(
                MAX_IN_FLIGHT,
                ConfigType::Int,
                "The most bulk requests sent at once. Two requests in flight never touch \
                 the same document, so each document's writes stay in order.",
            )
            .default_value("5")
            .validator(Validator::Range {
                min: Some(1.0),
                max: Some(1000.0),
            }),
        )
        .define(
            key(
                LINGER_MS,
                ConfigType::Long,
                "Accepted for compatibility: how long a batch waits to fill is the \
                 runtime's batch.max.ms.",
            )
            .default_value("1")
            .importance(Importance::Low)
            .validator(at_least(0.0)),
        )
        .define(
            key(
                FLUSH_TIMEOUT_MS,
                ConfigType::Long,
                "How long one batch may take to be accepted, retries included, before it \
                 is handed back to the runtime to be written again.",
            )
            .default_value("180000")
            .validator(at_least(1.0)),
        )
        .define(
            key(
                MAX_RETRIES,
                ConfigType::Int,
                "How many times a bulk request is retried after a connection failure, a \
                 5xx or a 429 before the batch is handed back to the runtime.",
            )
            .default_value("5")
            .validator(at_least(0.0)),
        )
        .define(
            key(
                RETRY_BACKOFF_MS,
                ConfigType::Long,
                "The wait before the first retry; it doubles on each further one (with \
                 jitter), up to 10 s.",
            )
            .default_value("100")
            .validator(at_least(0.0)),
        )
        .define(
            key(
                READ_TIMEOUT_MS,
                ConfigType::Int,
                "How long to wait for a bulk response, in milliseconds.",
            )
            .default_value("3000")
            .validator(at_least(1.0)),
        )
        .define(
            key(
                CONNECTION_TIMEOUT_MS,
                ConfigType::Int,
                "How long to wait for a connection, in milliseconds.",
            )
            .default_value("1000")
            .validator(at_least(1.0)),
        )
        .define(
            key(
                COMPRESSION,
                ConfigType::Boolean,
                "Whether bulk request bodies are sent gzip-compressed.",
            )
            .default_value("false"),
        )
        .define(
            ConfigKey::new(
                KEY_IGNORE,
                ConfigType::Boolean,
                "Whether to ignore the record key: document ids are then \
                 topic+partition+offset (every record a new document); otherwise the key \
                 is the id, written with the offset as its external version.",
            )
            .default_value("false")
            .importance(Importance::High)
            .group(GROUP_DATA),
        )
        .define(
            ConfigKey::new(
                SCHEMA_IGNORE,
                ConfigType::Boolean,
                "Accepted for compatibility: indexes are always mapped dynamically by the \
                 server (or by the user's index templates).",
            )
            .default_value("false")
            .importance(Importance::Low)
            .group(GROUP_DATA),
        )
        .define(
            ConfigKey::new(
                WRITE_METHOD,
                ConfigType::String,
                "insert: the value replaces the document; upsert: its fields are merged \
                 into the document (update with doc_as_upsert).",
            )
            .default_value("insert")
            .group(GROUP_DATA)
            .validator(Validator::Custom(write_method)),
        )
        .define(
            ConfigKey::new(
                NULL_VALUES,
                ConfigType::String,
                "What a record with a null value (a tombstone) does: ignore it, delete the \
                 document with its id, or fail.",
            )
            .default_value("fail")
            .group(GROUP_DATA)
            .validator(Validator::Custom(null_behavior)),
        )
        .define(
            ConfigKey::new(
                MALFORMED_DOCUMENTS,
                ConfigType::String,
                "What a document the server cannot parse or map does: ignore it, warn \
                 (log it) and go on, or fail it (the errors.tolerance policy and the \
                 dead-letter topic then apply).",
            )
            .default_value("fail")
            .group(GROUP_DATA)
            .validator(Validator::Custom(malformed_behavior)),
        )
        .define(
            ConfigKey::new(
                DATA_STREAM_TYPE,
                ConfigType::String,
                "none writes to indexes named after the topic; logs or metrics write to \
                 the data stream <type>-<dataset>-<namespace> with op_type create.",
            )
            .default_value("none")
            .group(GROUP_STREAMS)
            .validator(Validator::Custom(stream_type)),
        )
        .define(
            ConfigKey::new(
                DATA_STREAM_DATASET,
                ConfigType::String,
                "The data stream's dataset: lowercase, no spaces, none of \\/*?\"<>|,#:-, at \
                 most 100 characters. Required with data.stream.type.",
            )
            .optional()
            .group(GROUP_STREAMS),
        )
        .define(
            ConfigKey::new(
                DATA_STREAM_NAMESPACE,
                ConfigType::String,
                "The data stream's namespace; ${topic} is the record's topic.",
            )
            .default_value("${topic}")
            .group(GROUP_STREAMS),
        )
        .define(
            ConfigKey::new(
                DATA_STREAM_TIMESTAMP_FIELD,
                ConfigType::List,
                "Value fields to take @timestamp from, the first one present wins; the \
                 record timestamp when none is. List @timestamp itself to keep a \
                 document's own.",
            )
            .default_value("")
            .group(GROUP_STREAMS),
        )
}

/// What a task runs with. `Debug` is safe to log: the password is a [`Secret`].
#[derive(Debug, Clone)]
pub(crate) struct ElasticsearchSinkConfig {
    pub(crate) hosts: Vec<HostUrl>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) key_ignore: bool,
    pub(crate) write_method: WriteMethod,
    pub(crate) null_values: NullValues,
    pub(crate) malformed: Malformed,
    pub(crate) batch_size: usize,
    pub(crate) bulk_size_bytes: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) flush_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) compression: bool,
    pub(crate) index: IndexName,
    pub(crate) timestamp_fields: Vec<String>,
}

impl ElasticsearchSinkConfig {
    /// The typed config, or every problem with it.
    pub(crate) fn from_parsed(
        config: &ParsedConfig,
    ) -> Result<ElasticsearchSinkConfig, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut hosts = Vec::new();
        for url in config.list(CONNECTION_URL) {
            match HostUrl::parse(url) {
                Ok(host) => hosts.push(host),
                Err(why) => issues.push(
                    ConfigIssue::new(CONNECTION_URL, format!("Invalid connection.url: {why}"))
                        .with_hint("e.g. http://127.0.0.1:9200,http://es2:9200"),
                ),
            }
        }
        let username = config.string(USERNAME).map(str::to_string);
        let password = config.password(PASSWORD).cloned();
        if username.is_none() && password.is_some() {
            issues.push(
                ConfigIssue::new(PASSWORD, "connection.password is set without a user")
                    .with_hint("set connection.username too"),
            );
        }
        let pick = |name: &str, names: &[&str]| {
            config
                .string(name)
                .and_then(|v| choice(v, names))
                .unwrap_or(0)
        };
        let write_method = match pick(WRITE_METHOD, WRITE_METHODS) {
            1 => WriteMethod::Upsert,
            _ => WriteMethod::Insert,
        };
        let null_values = match pick(NULL_VALUES, NULL_BEHAVIORS) {
            0 => NullValues::Ignore,
            1 => NullValues::Delete,
            _ => NullValues::Fail,
        };
        let malformed = match pick(MALFORMED_DOCUMENTS, MALFORMED_BEHAVIORS) {
            0 => Malformed::Ignore,
            1 => Malformed::Warn,
            _ => Malformed::Fail,
        };
        let stream_type = pick(DATA_STREAM_TYPE, STREAM_TYPES);
        let dataset = config.string(DATA_STREAM_DATASET).filter(|s| !s.is_empty());
        let namespace = config.string(DATA_STREAM_NAMESPACE).unwrap_or("${topic}");
        let index = match (stream_type, dataset) {
            (0, None) => Some(IndexName::Topic),
            (0, Some(_)) => {
                issues.push(
                    ConfigIssue::new(
                        DATA_STREAM_DATASET,
                        "data.stream.dataset is set but data.stream.type is none",
                    )
                    .with_hint("set data.stream.type to logs or metrics, or remove the dataset"),
                );
                None
            }
            (_, None) => {
                issues.push(
                    ConfigIssue::new(
                        DATA_STREAM_DATASET,
                        "data.stream.type needs a data.stream.dataset",
                    )
                    .with_hint("e.g. data.stream.dataset: app"),
                );
                None
            }
            (kind, Some(dataset)) => {
                let kind = STREAM_TYPES[kind];
                match DataStream::new(kind, dataset, namespace) {
                    Ok(stream) => Some(IndexName::DataStream(stream)),
                    Err(issue) => {
                        issues.push(issue);
                        None
                    }
                }
            }
        };
        if matches!(index, Some(IndexName::DataStream(_))) {
            if write_method == WriteMethod::Upsert {
                issues.push(
                    ConfigIssue::new(WRITE_METHOD, "data streams are append-only: no upsert")
                        .with_hint("use write.method: insert with data.stream.type"),
                );
            }
            if null_values == NullValues::Delete {
                issues.push(
                    ConfigIssue::new(NULL_VALUES, "data streams are append-only: no delete")
                        .with_hint("use behavior.on.null.values: ignore with data.stream.type"),
                );
            }
        }
        let number = |name: &str, default: i64| config.long(name).unwrap_or(default).max(0);
        let millis = |name: &str, default: i64| Duration::from_millis(number(name, default) as u64);
        match index {
            Some(index) if issues.is_empty() => Ok(ElasticsearchSinkConfig {
                hosts,
                username,
                password,
                key_ignore: config.boolean(KEY_IGNORE).unwrap_or(false),
                write_method,
                null_values,
                malformed,
                batch_size: number(BATCH_SIZE, 2000).max(1) as usize,
                bulk_size_bytes: number(BULK_SIZE_BYTES, 5 << 20).max(1) as usize,
                max_in_flight: number(MAX_IN_FLIGHT, 5).max(1) as usize,
                flush_timeout: millis(FLUSH_TIMEOUT_MS, 180_000),
                max_retries: number(MAX_RETRIES, 5).min(i64::from(u32::MAX)) as u32,
                retry_backoff: millis(RETRY_BACKOFF_MS, 100),
                read_timeout: millis(READ_TIMEOUT_MS, 3000),
                connection_timeout: millis(CONNECTION_TIMEOUT_MS, 1000),
                compression: config.boolean(COMPRESSION).unwrap_or(false),
                index,
                timestamp_fields: config.list(DATA_STREAM_TIMESTAMP_FIELD).to_vec(),
            }),
            _ => Err(issues),
        }
    }

    /// Whether index and delete actions carry the record's offset as an external
    /// version: only for documents named by the record key and replaced whole. With
    /// `key.ignore` every id is written once anyway; an `update` cannot carry an
    /// external version, and a versioned delete after updates (whose internal versions
    /// count 1, 2, 3…) could be refused as older than the document.
    pub(crate) fn versioned(&self) -> bool {
        !self.key_ignore
            && self.write_method == WriteMethod::Insert
            && matches!(self.index, IndexName::Topic)
    }
}

#[cfg(test)]
mod tests {
    use weir_connect::config::{config_map, ConfigMap};

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ElasticsearchSinkConfig, Vec<ConfigIssue>> {
        let props: ConfigMap = config_map(pairs);
        let parsed = config_def().parse(&props)?;
        ElasticsearchSinkConfig::from_parsed(&parsed)
    }

    #[test]
    fn defaults_are_confluents() {
        let config = parse(&[(CONNECTION_URL, "http://127.0.0.1:9200")]).unwrap();
        assert!(!config.key_ignore);
        assert_eq!(config.write_method, WriteMethod::Insert);
        assert_eq!(config.null_values, NullValues::Fail);
        assert_eq!(config.malformed, Malformed::Fail);
        assert_eq!(config.batch_size, 2000);
        assert_eq!(config.bulk_size_bytes, 5 * 1024 * 1024);
        assert_eq!(config.max_in_flight, 5);
        assert_eq!(config.flush_timeout, Duration::from_secs(180));
        assert_eq!(config.max_retries, 5);
        assert_eq!(config.retry_backoff, Duration::from_millis(100));
        assert!(!config.compression);
        assert!(config.versioned());
        assert!(matches!(config.index, IndexName::Topic));
    }

    #[test]
    fn enumerations_are_case_insensitive_and_checked() {
        let config = parse(&[
            (CONNECTION_URL, "http://h:9200"),
            (WRITE_METHOD, "UPSERT"),
            (NULL_VALUES, "Delete"),
            (MALFORMED_DOCUMENTS, "warn"),
        ])
        .unwrap();
        assert_eq!(config.write_method, WriteMethod::Upsert);
        assert_eq!(config.null_values, NullValues::Delete);
        assert_eq!(config.malformed, Malformed::Warn);
        assert!(!config.versioned());
        let issues =
            parse(&[(CONNECTION_URL, "http://h:9200"), (WRITE_METHOD, "merge")]).unwrap_err();
        assert_eq!(issues[0].key, WRITE_METHOD);
        assert!(issues[0].message.contains("insert, upsert"), "{issues:?}");
    }

    #[test]
    fn several_hosts_and_bad_urls() {
        let config = parse(&[(CONNECTION_URL, "http://a:9200, http://b:9201")]).unwrap();
        assert_eq!(config.hosts.len(), 2);
        let issues = parse(&[(CONNECTION_URL, "ftp://a:9200")]).unwrap_err();
        assert_eq!(issues[0].key, CONNECTION_URL);
    }

    #[test]
    fn the_password_is_a_secret_and_needs_a_user() {
        let config = parse(&[
            (CONNECTION_URL, "http://h:9200"),
            (USERNAME, "elastic"),
            (PASSWORD, "s3cret"),
        ])
        .unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        let issues = parse(&[(CONNECTION_URL, "http://h:9200"), (PASSWORD, "s3cret")]).unwrap_err();
        assert_eq!(issues[0].key, PASSWORD);
        assert!(!issues[0].to_string().contains("s3cret"));
    }

    #[test]
    fn data_streams_need_a_dataset_and_refuse_upserts_and_deletes() {
        let config = parse(&[
            (CONNECTION_URL, "http://h:9200"),
            (DATA_STREAM_TYPE, "LOGS"),
            (DATA_STREAM_DATASET, "app"),
        ])
        .unwrap();
        assert!(matches!(config.index, IndexName::DataStream(_)));
        assert!(!config.versioned());
        let issues = parse(&[
            (CONNECTION_URL, "http://h:9200"),
            (DATA_STREAM_TYPE, "logs"),
        ])
        .unwrap_err();
        assert_eq!(issues[0].key, DATA_STREAM_DATASET);
        let issues = parse(&[
            (CONNECTION_URL, "http://h:9200"),
            (DATA_STREAM_TYPE, "metrics"),
            (DATA_STREAM_DATASET, "cpu"),
            (WRITE_METHOD, "upsert"),
            (NULL_VALUES, "delete"),
        ])
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, [WRITE_METHOD, NULL_VALUES]);
    }
}
