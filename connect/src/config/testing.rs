//! Plugins for the config tests: real `ConnectorPlugin`s whose tasks do nothing.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, ParsedConfig, Validator};
use crate::{
    ConnectError, ConnectorPlugin, ConnectorType, Plugins, Sink, SinkContext, SinkRecord, Source,
    SourceContext, SourceRecord, Task,
};

pub(crate) use crate::config::config_map as props;

/// A valid `test-source` connector's props with `extra` after them.
pub(crate) fn source_pairs<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("name", "src"),
        ("connector.class", "test-source"),
        ("topic", "logs"),
        ("file.paths", "/tmp/a.log"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

pub(crate) fn plugins() -> Plugins {
    Plugins::new(vec![Arc::new(TestSource), Arc::new(TestSink)])
}

/// Reads lines of files into `topic`.
#[derive(Debug)]
struct TestSource;

impl ConnectorPlugin for TestSource {
    fn class(&self) -> &'static str {
        "io.weir.test.TestSourceConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["test-source"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn version(&self) -> &'static str {
        "0.1.0"
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("topic", ConfigType::String, "Topic to write.")
                    .validator(Validator::NonEmpty)
                    .group("File"),
            )
            .define(
                ConfigKey::new("file.paths", ConfigType::List, "Files to read.")
                    .validator(Validator::NonEmpty)
                    .group("File"),
            )
            .define(
                ConfigKey::new(
                    "multiline.pattern",
                    ConfigType::String,
                    "Lines matching it continue the previous one.",
                )
                .optional()
                .group("File"),
            )
    }

    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        let pattern = config.string("multiline.pattern").unwrap_or_default();
        if pattern.matches('(').count() != pattern.matches(')').count() {
            vec![
                ConfigIssue::new("multiline.pattern", "unbalanced parenthesis")
                    .with_hint("escape it as \\("),
            ]
        } else {
            Vec::new()
        }
    }

    fn create_task(&self, _config: &ParsedConfig) -> Result<Task, ConnectError> {
        Ok(Task::Source(Box::new(IdleSource)))
    }
}

/// Writes records to Redis.
#[derive(Debug)]
struct TestSink;

impl ConnectorPlugin for TestSink {
    fn class(&self) -> &'static str {
        "io.weir.test.TestSinkConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["test-sink"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }

    fn version(&self) -> &'static str {
        "0.1.0"
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("redis.uri", ConfigType::String, "Where Redis listens.")
                    .group("Redis"),
            )
            .define(
                ConfigKey::new(
                    "redis.password",
                    ConfigType::Password,
                    "Redis AUTH password.",
                )
                .optional()
                .group("Redis"),
            )
    }

    fn create_task(&self, _config: &ParsedConfig) -> Result<Task, ConnectError> {
        Ok(Task::Sink(Box::new(IdleSink)))
    }
}

#[derive(Debug)]
struct IdleSource;

#[async_trait]
impl Source for IdleSource {
    async fn open(&mut self, _context: SourceContext) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        Ok(Vec::new())
    }
}

#[derive(Debug)]
struct IdleSink;

#[async_trait]
impl Sink for IdleSink {
    async fn open(&mut self, _context: SinkContext) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn write(
        &mut self,
        _records: &[SinkRecord],
    ) -> Result<Vec<crate::RecordFailure>, ConnectError> {
        Ok(Vec::new())
    }

    async fn flush(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}
