//! Topic-level configs: which keys exist, how they are validated, their broker-level
//! defaults, and how they resolve into a [`LogConfig`].
//!
//! One table drives everything, so describing, validating and applying a config cannot
//! disagree about what a key means.

use std::collections::BTreeMap;

use crate::log::{LogConfig, TimestampType};

/// The value kinds Kafka's `ConfigDef` uses for the topic configs Weir honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Int {
        min: i64,
    },
    Long {
        min: i64,
    },
    Bool,
    /// A floating-point number within `[min, max]` (tenths, so the type stays `Eq`).
    Double {
        min_tenths: i64,
        max_tenths: i64,
    },
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A comma-separated list drawn from a fixed set.
    List(&'static [&'static str]),
}

impl ConfigType {
    /// Kafka's DescribeConfigs `ConfigType` code (KIP-569).
    pub fn code(self) -> i8 {
        match self {
            ConfigType::Bool => 1,
            ConfigType::Choice(_) => 2,
            ConfigType::Int { .. } => 3,
            ConfigType::Long { .. } => 5,
            ConfigType::Double { .. } => 6,
            ConfigType::List(_) => 7,
        }
    }
}

/// One topic config key.
#[derive(Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's default when neither the topic nor the broker sets it.
    pub default: &'static str,
    /// The broker config that supplies this topic config's default.
    pub broker_key: &'static str,
    pub doc: &'static str,
}

const MAX_LONG: &str = "9223372036854775807";

/// Every topic config Weir accepts. A key not here is rejected with INVALID_CONFIG, as
/// Kafka rejects unknown topic configs.
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        name: "cleanup.policy",
        kind: ConfigType::List(&["delete", "compact"]),
        default: "delete",
        broker_key: "log.cleanup.policy",
        doc: "delete: remove old segments by retention; compact: keep the latest record per key",
    },
    TopicConfigDef {
        name: "compression.type",
        kind: ConfigType::Choice(&["producer"]),
        default: "producer",
        broker_key: "compression.type",
        doc: "Weir stores batches exactly as the producer compressed them",
    },
    TopicConfigDef {
        name: "delete.retention.ms",
        kind: ConfigType::Long { min: 0 },
        default: "86400000",
        broker_key: "log.cleaner.delete.retention.ms",
        doc: "how long tombstones are kept on compacted topics",
    },
    TopicConfigDef {
        name: "flush.messages",
        kind: ConfigType::Long { min: 1 },
        default: MAX_LONG,
        broker_key: "log.flush.interval.messages",
        doc: "fsync after this many messages",
    },
    TopicConfigDef {
        name: "flush.ms",
        kind: ConfigType::Long { min: 0 },
        default: MAX_LONG,
        broker_key: "log.flush.interval.ms",
        doc: "fsync after this much time",
    },
    TopicConfigDef {
        name: "index.interval.bytes",
        kind: ConfigType::Int { min: 0 },
        default: "4096",
        broker_key: "log.index.interval.bytes",
        doc: "bytes of log between offset index entries",
    },
    TopicConfigDef {
        name: "max.message.bytes",
        kind: ConfigType::Int { min: 0 },
        default: "1048588",
        broker_key: "message.max.bytes",
        doc: "largest record batch accepted",
    },
    TopicConfigDef {
        name: "message.timestamp.type",
        kind: ConfigType::Choice(&["CreateTime", "LogAppendTime"]),
        default: "CreateTime",
        broker_key: "log.message.timestamp.type",
        doc: "keep the producer's timestamp or stamp the broker's time",
    },
    TopicConfigDef {
        name: "min.cleanable.dirty.ratio",
        kind: ConfigType::Double {
            min_tenths: 0,
            max_tenths: 10,
        },
        default: "0.5",
        broker_key: "log.cleaner.min.cleanable.ratio",
        doc: "dirty share of a compacted log's cleanable bytes that triggers cleaning",
    },
    TopicConfigDef {
        name: "min.compaction.lag.ms",
        kind: ConfigType::Long { min: 0 },
        default: "0",
        broker_key: "log.cleaner.min.compaction.lag.ms",
        doc: "records stay uncompacted at least this long",
    },
    TopicConfigDef {
        name: "min.insync.replicas",
        kind: ConfigType::Int { min: 1 },
        default: "1",
        broker_key: "min.insync.replicas",
        doc: "replicas that must acknowledge an acks=all write",
    },
    TopicConfigDef {
        name: "retention.bytes",
        kind: ConfigType::Long { min: -1 },
        default: "-1",
        broker_key: "log.retention.bytes",
        doc: "largest size a partition may grow to before old segments are deleted",
    },
    TopicConfigDef {
        name: "retention.ms",
        kind: ConfigType::Long { min: -1 },
        default: "604800000",
        broker_key: "log.retention.ms",
        doc: "how long segments are kept",
    },
    TopicConfigDef {
        name: "segment.bytes",
        kind: ConfigType::Int { min: 14 },
        default: "1073741824",
        broker_key: "log.segment.bytes",
        doc: "segment file size before a new one is rolled",
    },
    TopicConfigDef {
        name: "segment.index.bytes",
        kind: ConfigType::Int { min: 4 },
        default: "10485760",
        broker_key: "log.index.size.max.bytes",
        doc: "size of a segment's offset index",
    },
    TopicConfigDef {
        name: "segment.ms",
        kind: ConfigType::Long { min: 1 },
        default: "604800000",
        broker_key: "log.roll.ms",
        doc: "time before a new segment is rolled",
    },
    TopicConfigDef {
        name: "unclean.leader.election.enable",
        kind: ConfigType::Bool,
        default: "false",
        broker_key: "unclean.leader.election.enable",
        doc: "allow an out-of-sync replica to become leader",
    },
];

/// A rejected config value, with the reason Kafka clients show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown topic config '{0}'")]
    Unknown(String),
    #[error("invalid value '{value}' for config '{name}': {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}

/// Checks one key and value against the table.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), ConfigError> {
    let def = topic_config_def(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
    validate_value(def.name, def.kind, value)
}

pub(crate) fn validate_value(name: &str, kind: ConfigType, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    match kind {
        ConfigType::Int { min } | ConfigType::Long { min } => {
            let max = if matches!(kind, ConfigType::Int { .. }) {
                i64::from(i32::MAX)
            } else {
                i64::MAX
            };
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| invalid("expected an integer".into()))?;
            if n < min || n > max {
                return Err(invalid(format!("must be between {min} and {max}")));
            }
        }
        ConfigType::Double {
            min_tenths,
            max_tenths,
        } => {
            let (min, max) = (min_tenths as f64 / 10.0, max_tenths as f64 / 10.0);
            let n: f64 = value
                .trim()
                .parse()
                .map_err(|_| invalid("expected a number".into()))?;
            if !(min..=max).contains(&n) {
                return Err(invalid(format!("must be between {min} and {max}")));
            }
        }
        ConfigType::Bool => {
            if !matches!(value.trim(), "true" | "false") {
                return Err(invalid("expected true or false".into()));
            }
        }
        ConfigType::Choice(choices) => {
            if !choices.contains(&value.trim()) {
                return Err(invalid(format!("expected one of {}", choices.join(", "))));
            }
        }
        ConfigType::List(choices) => {
            for item in value.split(',').map(str::trim) {
                if !choices.contains(&item) {
                    return Err(invalid(format!(
                        "'{item}' is not one of {}",
                        choices.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Broker-level defaults for topic configs, keyed by topic config name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicDefaults {
    values: BTreeMap<&'static str, String>,
    /// `producer.id.expiration.ms`: a broker setting every log applies.
    producer_id_expiration_ms: Option<i64>,
}

impl TopicDefaults {
    /// Sets the broker-level default of a topic config, given its broker key
    /// (`log.retention.ms`, …). Returns `Ok(false)` when the key is not a topic default.
    pub fn set_broker_key(&mut self, broker_key: &str, value: &str) -> Result<bool, ConfigError> {
        let Some(def) = TOPIC_CONFIGS
            .iter()
            .find(|def| def.broker_key == broker_key)
        else {
            return Ok(false);
        };
        validate_value(broker_key, def.kind, value)?;
        self.values.insert(def.name, value.trim().to_owned());
        Ok(true)
    }

    /// Sets `producer.id.expiration.ms`, which every partition's producer state uses.
    pub fn set_producer_id_expiration_ms(&mut self, ms: i64) {
        self.producer_id_expiration_ms = Some(ms);
    }

    /// `producer.id.expiration.ms` in force.
    pub fn producer_id_expiration_ms(&self) -> i64 {
        self.producer_id_expiration_ms
            .unwrap_or(LogConfig::default().producer_id_expiration_ms)
    }

    /// The broker's value for a topic config, if the broker sets one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// Where an effective config value came from (DescribeConfigs `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    TopicConfig = 1,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

/// A topic's own overrides, as set by CreateTopics and the Alter APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TopicConfigs {
    overrides: BTreeMap<String, String>,
}

impl TopicConfigs {
    /// Builds overrides, validating every entry.
    pub fn from_overrides<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let mut configs = TopicConfigs::default();
        for (name, value) in entries {
            configs.set(name, value)?;
        }
        Ok(configs)
    }

    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        validate_topic_config(name, value)?;
        self.overrides
            .insert(name.to_owned(), value.trim().to_owned());
        Ok(())
    }

    /// Removes an override so the default applies again.
    pub fn remove(&mut self, name: &str) -> Result<(), ConfigError> {
        topic_config_def(name).ok_or_else(|| ConfigError::Unknown(name.to_owned()))?;
        self.overrides.remove(name);
        Ok(())
    }

    pub fn overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.overrides.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value in force and where it came from.
    pub fn effective<'a>(
        &'a self,
        def: &'static TopicConfigDef,
        defaults: &'a TopicDefaults,
    ) -> (&'a str, ConfigSource) {
        if let Some(value) = self.overrides.get(def.name) {
            (value, ConfigSource::TopicConfig)
        } else if let Some(value) = defaults.get(def.name) {
            (value, ConfigSource::StaticBrokerConfig)
        } else {
            (def.default, ConfigSource::DefaultConfig)
        }
    }

    fn long(&self, name: &str, defaults: &TopicDefaults) -> i64 {
        let def = topic_config_def(name).expect("a name from the table");
        let (value, _) = self.effective(def, defaults);
        // Every stored value was validated against the table, so it parses.
        value
            .parse()
            .unwrap_or_else(|_| def.default.parse().unwrap_or(0))
    }

    fn double(&self, name: &str, defaults: &TopicDefaults) -> f64 {
        let def = topic_config_def(name).expect("a name from the table");
        let (value, _) = self.effective(def, defaults);
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| def.default.parse().unwrap_or(0.5))
    }

    fn text<'a>(&'a self, name: &str, defaults: &'a TopicDefaults) -> &'a str {
        let def = topic_config_def(name).expect("a name from the table");
        self.effective(def, defaults).0
    }

    pub fn min_insync_replicas(&self, defaults: &TopicDefaults) -> i64 {
        self.long("min.insync.replicas", defaults)
    }

    /// The log settings these configs put in force.
    pub fn log_config(&self, defaults: &TopicDefaults) -> LogConfig {
        let policy = |name: &str| {
            self.text("cleanup.policy", defaults)
                .split(',')
                .any(|p| p.trim() == name)
        };
        let deletes = policy("delete");
        let retention = |name| {
            if deletes {
                self.long(name, defaults)
            } else {
                -1
            }
        };
        LogConfig {
            segment_bytes: self.long("segment.bytes", defaults) as u64,
            segment_ms: self.long("segment.ms", defaults),
            segment_index_bytes: self.long("segment.index.bytes", defaults) as u64,
            index_interval_bytes: self.long("index.interval.bytes", defaults) as u64,
            retention_ms: retention("retention.ms"),
            retention_bytes: retention("retention.bytes"),
            flush_messages: self.long("flush.messages", defaults),
            flush_ms: self.long("flush.ms", defaults),
            timestamp_type: if self.text("message.timestamp.type", defaults) == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            max_message_bytes: self.long("max.message.bytes", defaults) as u64,
            compact: policy("compact"),
            delete_retention_ms: self.long("delete.retention.ms", defaults),
            min_cleanable_dirty_ratio: self.double("min.cleanable.dirty.ratio", defaults),
            min_compaction_lag_ms: self.long("min.compaction.lag.ms", defaults),
            producer_id_expiration_ms: defaults.producer_id_expiration_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_invalid_values_are_rejected_with_reasons() {
        assert_eq!(
            validate_topic_config("no.such.config", "1"),
            Err(ConfigError::Unknown("no.such.config".into()))
        );
        let err = validate_topic_config("segment.bytes", "10").unwrap_err();
        assert!(err.to_string().contains("between 14 and"), "{err}");
        assert!(validate_topic_config("retention.ms", "soon").is_err());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "compact,shred").is_err());
        assert!(validate_topic_config("compression.type", "gzip").is_err());
    }

    #[test]
    fn topic_override_beats_broker_default_beats_kafka_default() {
        let mut defaults = TopicDefaults::default();
        assert!(defaults.set_broker_key("log.retention.ms", "1000").unwrap());
        assert!(!defaults.set_broker_key("num.partitions", "3").unwrap());
        let configs = TopicConfigs::default();
        assert_eq!(configs.log_config(&defaults).retention_ms, 1000);
        assert_eq!(configs.log_config(&defaults).segment_bytes, 1_073_741_824);
        let configs = TopicConfigs::from_overrides([("retention.ms", "5")]).unwrap();
        assert_eq!(configs.log_config(&defaults).retention_ms, 5);
    }

    #[test]
    fn compact_only_topics_never_expire_by_retention() {
        let configs =
            TopicConfigs::from_overrides([("cleanup.policy", "compact"), ("retention.ms", "5")])
                .unwrap();
        let log = configs.log_config(&TopicDefaults::default());
        assert_eq!((log.retention_ms, log.retention_bytes), (-1, -1));
        assert!(log.compact);
    }

    #[test]
    fn compaction_configs_reach_the_log_config() {
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "0.01").is_ok());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "half").is_err());
        let mut defaults = TopicDefaults::default();
        assert!(defaults
            .set_broker_key("log.cleaner.min.cleanable.ratio", "0.25")
            .unwrap());
        let configs = TopicConfigs::from_overrides([
            ("cleanup.policy", "compact,delete"),
            ("delete.retention.ms", "100"),
            ("min.compaction.lag.ms", "7"),
        ])
        .unwrap();
        let log = configs.log_config(&defaults);
        assert!(log.compact);
        assert_eq!(log.retention_ms, 604_800_000);
        assert_eq!(log.delete_retention_ms, 100);
        assert_eq!(log.min_compaction_lag_ms, 7);
        assert_eq!(log.min_cleanable_dirty_ratio, 0.25);
        assert!(!TopicConfigs::default().log_config(&defaults).compact);
    }
}
