//! Broker-level configuration, in Kafka's `server.properties` vocabulary.

use std::path::PathBuf;
use std::time::Duration;

use crate::group::GroupConfig;
use crate::metadata::topic_config::{validate_value, ConfigType, TOPIC_CONFIGS};
use crate::metadata::{ConfigError, TopicDefaults};

/// Kafka's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_REQUEST_MAX_BYTES: usize = 100 * 1024 * 1024;

/// Everything a broker needs to run. [`BrokerConfig::new`] gives defaults that run out
/// of the box; [`BrokerConfig::set`] takes Kafka's key names.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id`
    pub node_id: i32,
    /// `log.dirs`: where partitions and metadata live.
    pub data_dir: PathBuf,
    /// `advertised.listeners` host and port; the bound address when unset.
    pub advertised: Option<(String, u16)>,
    /// `auto.create.topics.enable`
    pub auto_create_topics: bool,
    /// `num.partitions`: partitions of an auto-created topic or a CreateTopics with -1.
    pub num_partitions: i32,
    /// `socket.request.max.bytes`: frames larger than this close the connection before
    /// their body is read.
    pub request_max_bytes: usize,
    /// `log.retention.check.interval.ms`
    pub retention_check_interval: Duration,
    /// Broker-level defaults of topic configs (`log.retention.ms`, `log.segment.bytes`, …).
    pub topic_defaults: TopicDefaults,
    /// The group coordinator's settings (`offsets.*`, `group.*`).
    pub group: GroupConfig,
}

impl BrokerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        BrokerConfig {
            node_id: 1,
            data_dir: data_dir.into(),
            advertised: None,
            auto_create_topics: true,
            num_partitions: 1,
            request_max_bytes: DEFAULT_REQUEST_MAX_BYTES,
            retention_check_interval: Duration::from_millis(300_000),
            topic_defaults: TopicDefaults::default(),
            group: GroupConfig::default(),
        }
    }

    /// Applies one `key=value` setting by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let value = value.trim();
        let int = |min: i64| -> Result<i64, ConfigError> {
            validate_value(key, ConfigType::Int { min }, value)?;
            Ok(value.parse().expect("validated"))
        };
        let long = |min: i64| -> Result<i64, ConfigError> {
            validate_value(key, ConfigType::Long { min }, value)?;
            Ok(value.parse().expect("validated"))
        };
        match key {
            "node.id" | "broker.id" => self.node_id = int(0)? as i32,
            "log.dirs" | "log.dir" => self.data_dir = PathBuf::from(value),
            "auto.create.topics.enable" => {
                validate_value(key, ConfigType::Bool, value)?;
                self.auto_create_topics = value == "true";
            }
            "num.partitions" => self.num_partitions = int(1)? as i32,
            "socket.request.max.bytes" => self.request_max_bytes = int(1)? as usize,
            "log.retention.check.interval.ms" => {
                self.retention_check_interval = Duration::from_millis(long(1)? as u64)
            }
            "log.retention.hours" => self.set_retention_ms(long(-1)?, 3_600_000)?,
            "log.retention.minutes" => self.set_retention_ms(long(-1)?, 60_000)?,
            "log.roll.hours" => {
                let ms = long(1)?.saturating_mul(3_600_000);
                self.topic_defaults
                    .set_broker_key("log.roll.ms", &ms.to_string())?;
            }
            "offsets.topic.num.partitions" => self.group.offsets_topic_partitions = int(1)? as i32,
            "offsets.retention.minutes" => {
                self.group.offsets_retention = Duration::from_secs(int(1)? as u64 * 60)
            }
            "offsets.retention.check.interval.ms" => {
                self.group.offsets_retention_check_interval = Duration::from_millis(long(1)? as u64)
            }
            "offset.metadata.max.bytes" => self.group.offset_metadata_max_bytes = int(0)? as usize,
            "group.initial.rebalance.delay.ms" => {
                self.group.initial_rebalance_delay = Duration::from_millis(int(0)? as u64)
            }
            "group.min.session.timeout.ms" => {
                self.group.min_session_timeout = Duration::from_millis(int(0)? as u64)
            }
            "group.max.session.timeout.ms" => {
                self.group.max_session_timeout = Duration::from_millis(int(0)? as u64)
            }
            "advertised.listeners" | "advertised.host.port" => {
                self.advertised = Some(parse_host_port(key, value)?);
            }
            _ => {
                if !self.topic_defaults.set_broker_key(key, value)? {
                    return Err(ConfigError::Unknown(key.to_owned()));
                }
            }
        }
        Ok(())
    }

    /// Every broker config in force, by Kafka key, for DescribeConfigs.
    pub fn entries(&self) -> Vec<(String, String)> {
        let mut entries = vec![
            ("node.id".to_owned(), self.node_id.to_string()),
            ("log.dirs".to_owned(), self.data_dir.display().to_string()),
            (
                "auto.create.topics.enable".to_owned(),
                self.auto_create_topics.to_string(),
            ),
            ("num.partitions".to_owned(), self.num_partitions.to_string()),
            (
                "socket.request.max.bytes".to_owned(),
                self.request_max_bytes.to_string(),
            ),
            (
                "log.retention.check.interval.ms".to_owned(),
                self.retention_check_interval.as_millis().to_string(),
            ),
            (
                "offsets.topic.num.partitions".to_owned(),
                self.group.offsets_topic_partitions.to_string(),
            ),
            (
                "offsets.retention.minutes".to_owned(),
                (self.group.offsets_retention.as_secs() / 60).to_string(),
            ),
            (
                "offsets.retention.check.interval.ms".to_owned(),
                self.group
                    .offsets_retention_check_interval
                    .as_millis()
                    .to_string(),
            ),
            (
                "offset.metadata.max.bytes".to_owned(),
                self.group.offset_metadata_max_bytes.to_string(),
            ),
            (
                "group.initial.rebalance.delay.ms".to_owned(),
                self.group.initial_rebalance_delay.as_millis().to_string(),
            ),
            (
                "group.min.session.timeout.ms".to_owned(),
                self.group.min_session_timeout.as_millis().to_string(),
            ),
            (
                "group.max.session.timeout.ms".to_owned(),
                self.group.max_session_timeout.as_millis().to_string(),
            ),
        ];
        if let Some((host, port)) = &self.advertised {
            entries.push((
                "advertised.listeners".to_owned(),
                format!("PLAINTEXT://{host}:{port}"),
            ));
        }
        for def in TOPIC_CONFIGS {
            let value = self.topic_defaults.get(def.name).unwrap_or(def.default);
            entries.push((def.broker_key.to_owned(), value.to_owned()));
        }
        entries.sort();
        entries
    }

    fn set_retention_ms(&mut self, amount: i64, unit_ms: i64) -> Result<(), ConfigError> {
        let ms = if amount < 0 {
            -1
        } else {
            amount.saturating_mul(unit_ms)
        };
        self.topic_defaults
            .set_broker_key("log.retention.ms", &ms.to_string())
            .map(|_| ())
    }
}

/// Parses `host:port`, also accepting Kafka's `PLAINTEXT://host:port` listener form.
pub fn parse_host_port(key: &str, value: &str) -> Result<(String, u16), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let address = value.rsplit("://").next().unwrap_or(value);
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected host:port"))?;
    let port = port
        .parse()
        .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_keys_set_broker_and_topic_defaults() {
        let mut config = BrokerConfig::new("/tmp/x");
        config.set("num.partitions", "3").unwrap();
        config.set("log.retention.hours", "2").unwrap();
        config.set("log.segment.bytes", "1024").unwrap();
        config
            .set("advertised.listeners", "PLAINTEXT://kafka.local:19092")
            .unwrap();
        assert_eq!(config.num_partitions, 3);
        assert_eq!(config.topic_defaults.get("retention.ms"), Some("7200000"));
        assert_eq!(config.topic_defaults.get("segment.bytes"), Some("1024"));
        assert_eq!(config.advertised, Some(("kafka.local".into(), 19092)));
        config.set("offsets.topic.num.partitions", "4").unwrap();
        config.set("group.initial.rebalance.delay.ms", "0").unwrap();
        config.set("offsets.retention.minutes", "2").unwrap();
        assert_eq!(config.group.offsets_topic_partitions, 4);
        assert_eq!(config.group.initial_rebalance_delay, Duration::ZERO);
        assert_eq!(config.group.offsets_retention, Duration::from_secs(120));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let mut config = BrokerConfig::new("/tmp/x");
        assert_eq!(
            config.set("no.such.key", "1"),
            Err(ConfigError::Unknown("no.such.key".into()))
        );
        assert!(config.set("num.partitions", "0").is_err());
        assert!(config.set("advertised.listeners", "nohost").is_err());
    }
}
