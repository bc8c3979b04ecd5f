//! The database sink (JDBC-style): writes records as table rows into PostgreSQL or
//! MySQL/MariaDB, with Confluent's JDBC sink's keys (and Debezium's JDBC sink's where
//! they differ), so existing configs carry over.
//!
//! ```yaml
//! connector.class: io.confluent.connect.jdbc.JdbcSinkConnector
//! topics: shop.public.customers
//! connection.url: jdbc:postgresql://127.0.0.1:5432/replica
//! connection.username: weir
//! connection.password: ${env:DB_PASSWORD}
//! insert.mode: upsert
//! primary.key.mode: record_key
//! delete.enabled: true
//! table.name.format: ${source.table}
//! schema.evolution: basic
//! ```
//!
//! Records are plain JSON objects (typed by their Connect schema when the JSON
//! converter has `schemas.enable=true`) or Debezium change events, read natively. A
//! runtime batch is reduced to the last change per key (`buffer.rs`) and written as
//! multi-row statements in one transaction (`writer.rs`) before the runtime commits
//! the consumer offsets (`task.rs`).

mod buffer;
mod config;
mod connection;
mod dialect;
mod row;
mod schema_evolution;
mod table_name;
mod task;
mod types;
mod url;
mod writer;

use weir_connect::config::{ConfigDef, ConfigIssue, ParsedConfig};
use weir_connect::{ConnectError, ConnectorPlugin, ConnectorType, Task};

use crate::invalid_config::invalid_config;

use self::config::JdbcSinkConfig;
use self::task::JdbcSinkTask;

// The decoders of outside input, for `crate::fuzzing`.
pub(crate) use self::types::{Cell, FieldType, Unit};
pub(crate) use self::url::ConnectionUrl;

/// The database sink connector, `io.weir.connect.jdbc.JdbcSinkConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JdbcSinkConnector;

impl ConnectorPlugin for JdbcSinkConnector {
    fn class(&self) -> &'static str {
        "io.weir.connect.jdbc.JdbcSinkConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &[
            "jdbc-sink",
            "JdbcSink",
            "io.confluent.connect.jdbc.JdbcSinkConnector",
            "io.debezium.connector.jdbc.JdbcSinkConnector",
        ]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    /// The URL's syntax (checked here rather than by a key validator, whose message
    /// would repeat the URL and any password in it) and settings that contradict each
    /// other.
    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        JdbcSinkConfig::from_parsed(config)
            .err()
            .unwrap_or_default()
    }

    fn create_task(&self, config: &ParsedConfig) -> Result<Task, ConnectError> {
        let config = JdbcSinkConfig::from_parsed(config)
            .map_err(|issues| invalid_config("database sink", &issues))?;
        Ok(Task::Sink(Box::new(JdbcSinkTask::new(config))))
    }
}

#[cfg(test)]
mod tests {
    use weir_connect::config::config_map as props;
    use weir_connect::Plugins;

    use super::*;

    #[test]
    fn is_found_by_its_own_confluents_and_debeziums_class_names() {
        let plugins = Plugins::new(vec![std::sync::Arc::new(JdbcSinkConnector)]);
        for name in [
            "io.weir.connect.jdbc.JdbcSinkConnector",
            "jdbc-sink",
            "io.confluent.connect.jdbc.JdbcSinkConnector",
            "io.debezium.connector.jdbc.JdbcSinkConnector",
        ] {
            let plugin = plugins.find(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(plugin.connector_type(), ConnectorType::Sink);
        }
    }

    #[test]
    fn the_password_is_masked_and_never_in_errors() {
        let def = JdbcSinkConnector.config_def();
        let masked = def.mask(&props(&[("connection.password", "s3cret")]));
        assert_eq!(masked["connection.password"], "[hidden]");
        let parsed = def
            .parse(&props(&[(
                "connection.url",
                "jdbc:oracle://h/db?password=s3cret",
            )]))
            .unwrap();
        let err = JdbcSinkConnector.create_task(&parsed).unwrap_err();
        assert_eq!(err.domain(), weir_connect::ErrorDomain::User);
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_valid_config_makes_a_sink_task_without_connecting() {
        let parsed = JdbcSinkConnector
            .config_def()
            .parse(&props(&[
                ("connection.url", "jdbc:postgresql://127.0.0.1:1/db"),
                ("connection.password", "s3cret"),
            ]))
            .unwrap();
        assert!(JdbcSinkConnector.validate(&parsed).is_empty());
        match JdbcSinkConnector.create_task(&parsed).unwrap() {
            Task::Sink(sink) => assert!(!format!("{sink:?}").contains("s3cret")),
            Task::Source(_) => panic!("a sink plugin made a source task"),
        }
    }
}
