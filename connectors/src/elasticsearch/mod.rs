//! The Elasticsearch sink: writes records as documents through the `_bulk` API of
//! Elasticsearch 7/8/9 or OpenSearch, with the keys and defaults of Confluent's
//! Elasticsearch sink connector, whose class name it also answers to.
//!
//! ```yaml
//! connector.class: elasticsearch
//! topics: orders
//! connection.url: http://es1:9200,http://es2:9200
//! connection.username: writer
//! connection.password: ${env:ES_PASSWORD}
//! behavior.on.null.values: delete
//! ```
//!
//! A record's topic names its index (`index.rs`), its key the document id (or
//! `topic+partition+offset` with `key.ignore`), its value the document
//! (`action.rs`). Keyed writes carry the offset as an external version, so writing a
//! batch again never undoes a later write. A batch is pipelined as bulk requests that
//! keep each document's writes in order, and is acknowledged to the runtime only once
//! the server has answered for every record (`task.rs`); each item's answer is sorted
//! into done, retry, malformed or rejected (`response.rs`).

mod action;
mod client;
mod config;
mod index;
pub(crate) mod response;
mod task;
mod url;

use weir_connect::config::{ConfigDef, ConfigIssue, ParsedConfig};
use weir_connect::{ConnectError, ConnectorPlugin, ConnectorType, Task};

use crate::invalid_config::invalid_config;

use self::config::ElasticsearchSinkConfig;
use self::task::ElasticsearchSinkTask;

/// The Elasticsearch sink connector, `io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ElasticsearchSinkConnector;

impl ConnectorPlugin for ElasticsearchSinkConnector {
    fn class(&self) -> &'static str {
        "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["elasticsearch", "elasticsearch-sink", "ElasticsearchSink"]
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

    /// The URLs, the data stream's name parts, and keys that contradict each other
    /// (a password without a user, upserts or deletes into an append-only data stream).
    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        ElasticsearchSinkConfig::from_parsed(config)
            .err()
            .unwrap_or_default()
    }

    fn create_task(&self, config: &ParsedConfig) -> Result<Task, ConnectError> {
        let config = ElasticsearchSinkConfig::from_parsed(config)
            .map_err(|issues| invalid_config("Elasticsearch sink", &issues))?;
        Ok(Task::Sink(Box::new(ElasticsearchSinkTask::new(config))))
    }
}

#[cfg(test)]
mod tests {
    use weir_connect::config::config_map as props;
    use weir_connect::Plugins;

    use super::*;

    #[test]
    fn is_found_by_confluents_class_and_weirs_short_names() {
        let plugins = Plugins::new(vec![std::sync::Arc::new(ElasticsearchSinkConnector)]);
        for name in [
            "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "ElasticsearchSinkConnector",
            "elasticsearch",
            "elasticsearch-sink",
        ] {
            let plugin = plugins.find(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(plugin.connector_type(), ConnectorType::Sink);
        }
    }

    #[test]
    fn hides_the_password_and_makes_a_task_without_connecting() {
        let def = ElasticsearchSinkConnector.config_def();
        let masked = def.mask(&props(&[("connection.password", "s3cret")]));
        assert_eq!(masked["connection.password"], "[hidden]");
        let parsed = def
            .parse(&props(&[
                ("connection.url", "http://127.0.0.1:1"),
                ("connection.username", "elastic"),
                ("connection.password", "s3cret"),
            ]))
            .unwrap();
        assert!(ElasticsearchSinkConnector.validate(&parsed).is_empty());
        match ElasticsearchSinkConnector.create_task(&parsed).unwrap() {
            Task::Sink(sink) => assert!(!format!("{sink:?}").contains("s3cret")),
            Task::Source(_) => panic!("a sink plugin made a source task"),
        }
    }

    #[test]
    fn an_invalid_config_makes_no_task() {
        let parsed = ElasticsearchSinkConnector
            .config_def()
            .parse(&props(&[(
                "connection.url",
                "http://elastic:s3cret@h:9200",
            )]))
            .unwrap();
        assert_eq!(ElasticsearchSinkConnector.validate(&parsed).len(), 1);
        let err = ElasticsearchSinkConnector.create_task(&parsed).unwrap_err();
        assert_eq!(err.domain(), weir_connect::ErrorDomain::User);
        assert!(err.to_string().contains("connection.password"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
