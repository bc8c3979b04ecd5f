//! The Redis sink: writes each record with one Redis command — SET, HSET, XADD, LPUSH,
//! RPUSH, SADD or ZADD — to a key built from the record's topic and key.
//!
//! ```yaml
//! connector.class: redis-sink
//! topics: orders
//! redis.uri: redis://127.0.0.1:6379/0
//! redis.password: ${env:REDIS_PASSWORD}
//! redis.command: HSET
//! redis.key: order:${key}
//! ```
//!
//! A batch is one `MULTI … EXEC` transaction (see `task.rs` for why), the password is a
//! masked secret that never appears in the URI, logs or errors, and a lost connection
//! is a retryable error after which the next write reconnects.

mod command;
mod config;
mod connection;
mod task;
mod template;
mod uri;

use weir_connect::config::{ConfigDef, ConfigIssue, ParsedConfig};
use weir_connect::{ConnectError, ConnectorPlugin, ConnectorType, Task};

use crate::invalid_config::invalid_config;

use self::config::RedisSinkConfig;
use self::task::RedisSinkTask;

/// The Redis sink connector, `io.weir.connect.redis.RedisSinkConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisSinkConnector;

impl ConnectorPlugin for RedisSinkConnector {
    fn class(&self) -> &'static str {
        "io.weir.connect.redis.RedisSinkConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["redis-sink", "RedisSink"]
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

    /// The URI's syntax (checked here rather than by a key validator, whose message
    /// would repeat the URI and with it any password pasted into it), the key template,
    /// and keys that only apply to another command.
    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        RedisSinkConfig::from_parsed(config)
            .err()
            .unwrap_or_default()
    }

    fn create_task(&self, config: &ParsedConfig) -> Result<Task, ConnectError> {
        let config = RedisSinkConfig::from_parsed(config)
            .map_err(|issues| invalid_config("Redis sink", &issues))?;
        Ok(Task::Sink(Box::new(RedisSinkTask::new(config))))
    }
}

#[cfg(test)]
mod tests {
    use weir_connect::Plugins;

    use super::*;

    use weir_connect::config::config_map as props;

    #[test]
    fn is_found_by_class_alias_and_simple_name() {
        let plugins = Plugins::new(vec![std::sync::Arc::new(RedisSinkConnector)]);
        for name in [
            "io.weir.connect.redis.RedisSinkConnector",
            "redis-sink",
            "RedisSink",
            "RedisSinkConnector",
        ] {
            let plugin = plugins.find(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(plugin.connector_type(), ConnectorType::Sink);
        }
    }

    #[test]
    fn declares_its_keys_in_the_redis_group() {
        let def = RedisSinkConnector.config_def();
        let names: Vec<&str> = def.keys().iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "redis.uri",
                "redis.password",
                "redis.username",
                "redis.command",
                "redis.key",
                "redis.zset.score.field",
                "redis.stream.maxlen",
                "redis.timeout.ms"
            ]
        );
        assert!(def
            .keys()
            .iter()
            .all(|k| k.group.as_deref() == Some("Redis")));
        let masked = def.mask(&props(&[("redis.password", "s3cret")]));
        assert_eq!(masked["redis.password"], "[hidden]");
    }

    #[test]
    fn an_invalid_config_makes_no_task() {
        let parsed = RedisSinkConnector
            .config_def()
            .parse(&props(&[("redis.uri", "redis://u:s3cret@h:1")]))
            .unwrap();
        let issues = RedisSinkConnector.validate(&parsed);
        assert_eq!(issues.len(), 1);
        let err = RedisSinkConnector.create_task(&parsed).unwrap_err();
        assert_eq!(err.domain(), weir_connect::ErrorDomain::User);
        assert!(
            err.to_string().contains("set redis.password instead"),
            "{err}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_valid_config_makes_a_sink_task_without_connecting() {
        let parsed = RedisSinkConnector
            .config_def()
            .parse(&props(&[
                ("redis.uri", "redis://127.0.0.1:1"),
                ("redis.password", "s3cret"),
            ]))
            .unwrap();
        assert!(RedisSinkConnector.validate(&parsed).is_empty());
        match RedisSinkConnector.create_task(&parsed).unwrap() {
            Task::Sink(sink) => assert!(!format!("{sink:?}").contains("s3cret")),
            Task::Source(_) => panic!("a sink plugin made a source task"),
        }
    }
}
