//! A distributed worker's configuration, with Kafka Connect's worker keys: what a
//! `connect-distributed.properties` file holds.
//!
//! Two Connect clusters on one Kafka cluster are told apart by `group.id` and their
//! storage topics. When a storage topic is not named, it is derived from the group id
//! (`<group.id>-configs`, `-offsets`, `-status`), so a second group never reads the
//! first one's connectors by accident; Kafka Connect requires the names instead.

use std::time::Duration;

use crate::config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance,
    ParsedConfig, Validator,
};
use crate::runtime::{OverridePolicy, RuntimeSettings};

use super::WorkerSettings;

const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
const GROUP_ID: &str = "group.id";
const CONFIG_TOPIC: &str = "config.storage.topic";
const OFFSET_TOPIC: &str = "offset.storage.topic";
const STATUS_TOPIC: &str = "status.storage.topic";
const CONFIG_RF: &str = "config.storage.replication.factor";
const OFFSET_RF: &str = "offset.storage.replication.factor";
const STATUS_RF: &str = "status.storage.replication.factor";
const OFFSET_PARTITIONS: &str = "offset.storage.partitions";
const STATUS_PARTITIONS: &str = "status.storage.partitions";
const LISTENERS: &str = "listeners";
const ADVERTISED_HOST: &str = "rest.advertised.host.name";
const ADVERTISED_PORT: &str = "rest.advertised.port";
const ADVERTISED_LISTENER: &str = "rest.advertised.listener";
const OFFSET_FLUSH_INTERVAL: &str = "offset.flush.interval.ms";
const TASK_SHUTDOWN_TIMEOUT: &str = "task.shutdown.graceful.timeout.ms";
const OVERRIDE_POLICY: &str = "connector.client.config.override.policy";
const EXACTLY_ONCE: &str = "exactly.once.source.support";
const SESSION_TIMEOUT: &str = "session.timeout.ms";
const TOPIC_TRACKING: &str = "topic.tracking.enable";
const REBALANCE_DELAY: &str = "scheduled.rebalance.max.delay.ms";
const TOPIC_TRACKING_RESET: &str = "topic.tracking.allow.reset";
const TOPIC_CREATION: &str = "topic.creation.enable";

/// Connector keys a worker sets the default of: a connector that does not set them
/// takes the worker's, as in Kafka Connect.
const CONNECTOR_DEFAULT_PREFIXES: &[&str] =
    &["key.converter", "value.converter", "header.converter"];

/// Worker-level client settings every Kafka client of the worker takes, as Kafka
/// Connect passes them to its internal clients.
const CLIENT_PREFIXES: &[&str] = &["security.", "ssl.", "sasl.", "client.dns.lookup"];

/// Keys Kafka Connect has that mean nothing to Weir (its connectors are built in and
/// its REST API has no TLS or authentication extension yet); accepted with a warning.
const IGNORED: &[(&str, &str)] = &[
    ("plugin.path", "Weir's connectors are built in"),
    ("plugin.discovery", "Weir's connectors are built in"),
    ("rest.extension.classes", "the REST API takes no extensions"),
    (
        "config.providers",
        "use ${env:NAME} references in connector configs",
    ),
];

/// The default group id, which also names the default storage topics.
pub const DEFAULT_GROUP_ID: &str = "weir-connect";

/// Whether source tasks may write in transactions (KIP-618).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSourceSupport {
    Disabled,
    Preparing,
    Enabled,
}

/// What a worker properties file configures, checked.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `bootstrap.servers`, when set.
    pub bootstrap_servers: Option<String>,
    /// The REST listener's address (`host:port`), from `listeners`.
    pub listen: Option<String>,
    /// The address other workers and users reach this worker at, when it differs from
    /// the listener (`rest.advertised.host.name` and `rest.advertised.port`).
    pub advertised_host: Option<String>,
    pub advertised_port: Option<u16>,
    pub worker: WorkerSettings,
    /// Applied to a [`RuntimeSettings`] by [`WorkerConfig::apply`].
    offsets_topic: String,
    offsets_partitions: i32,
    offsets_replication_factor: i32,
    client_config: ConfigMap,
    producer_config: ConfigMap,
    consumer_config: ConfigMap,
    connector_defaults: ConfigMap,
    offset_flush_interval: Duration,
    override_policy: OverridePolicy,
    pub exactly_once_source_support: ExactlyOnceSourceSupport,
    topic_tracking: bool,
    topic_tracking_allow_reset: bool,
    topic_creation_enable: bool,
    /// Keys that were accepted but do nothing, with why; the caller logs them.
    pub warnings: Vec<String>,
}

impl WorkerConfig {
    /// Checks every key; returns every problem at once, each with a hint.
    pub fn parse(props: &ConfigMap) -> Result<WorkerConfig, Vec<ConfigIssue>> {
        let def = worker_def();
        let mut issues = Vec::new();
        let mut warnings = Vec::new();
        for key in props.keys() {
            if def.key(key).is_some() || passed_through(key) {
                continue;
            }
            if let Some((_, why)) = IGNORED.iter().find(|(k, _)| k == key) {
                warnings.push(format!("{key} is ignored: {why}"));
                continue;
            }
            let mut issue = ConfigIssue::new(
                key.as_str(),
                format!("{key} is not a worker setting Weir knows"),
            );
            if let Some(near) = def.closest(key) {
                issue = issue.with_hint(format!("did you mean {near}?"));
            } else {
                issue = issue.with_hint(
                    "producer.* and consumer.* keys configure the tasks' clients; \
                     librdkafka settings for every client go in with -X",
                );
            }
            issues.push(issue);
        }
        let parsed = match def.parse(props) {
            Ok(parsed) => Some(parsed),
            Err(found) => {
                issues.extend(found);
                None
            }
        };
        let listen = props
            .get(LISTENERS)
            .map(|listeners| listener_address(listeners))
            .transpose()
            .unwrap_or_else(|issue| {
                issues.push(issue);
                None
            });
        let Some(parsed) = parsed.filter(|_| issues.is_empty()) else {
            return Err(issues);
        };
        Ok(WorkerConfig::from_parsed(&parsed, props, listen, warnings))
    }

    fn from_parsed(
        parsed: &ParsedConfig,
        props: &ConfigMap,
        listen: Option<String>,
        warnings: Vec<String>,
    ) -> WorkerConfig {
        let string = |key| parsed.string(key).map(str::to_string);
        let number = |key| parsed.long(key).unwrap_or_default();
        let group_id = string(GROUP_ID).unwrap_or_else(|| DEFAULT_GROUP_ID.to_string());
        let topic = |key, suffix| string(key).unwrap_or_else(|| format!("{group_id}-{suffix}"));
        let millis = |key| Duration::from_millis(u64::try_from(number(key)).unwrap_or_default());
        let worker = WorkerSettings {
            config_topic: topic(CONFIG_TOPIC, "configs"),
            status_topic: topic(STATUS_TOPIC, "status"),
            slots_topic: format!("{group_id}-slots"),
            status_partitions: number(STATUS_PARTITIONS) as i32,
            config_replication_factor: number(CONFIG_RF) as i32,
            status_replication_factor: number(STATUS_RF) as i32,
            session_timeout: millis(SESSION_TIMEOUT),
            task_shutdown_timeout: millis(TASK_SHUTDOWN_TIMEOUT),
            scheduled_rebalance_max_delay: millis(REBALANCE_DELAY),
            group_id: group_id.clone(),
            ..WorkerSettings::default()
        };
        let prefixed = |prefix: &str| -> ConfigMap {
            props
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
                .collect()
        };
        WorkerConfig {
            bootstrap_servers: string(BOOTSTRAP_SERVERS),
            listen,
            advertised_host: string(ADVERTISED_HOST),
            advertised_port: parsed
                .long(ADVERTISED_PORT)
                .and_then(|p| u16::try_from(p).ok()),
            offsets_topic: topic(OFFSET_TOPIC, "offsets"),
            offsets_partitions: number(OFFSET_PARTITIONS) as i32,
            offsets_replication_factor: number(OFFSET_RF) as i32,
            client_config: props
                .iter()
                .filter(|(k, _)| CLIENT_PREFIXES.iter().any(|p| k.starts_with(p)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            producer_config: prefixed("producer."),
            consumer_config: prefixed("consumer."),
            connector_defaults: props
                .iter()
                .filter(|(k, _)| is_converter_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            offset_flush_interval: millis(OFFSET_FLUSH_INTERVAL),
            override_policy: match parsed.string(OVERRIDE_POLICY) {
                Some("None") => OverridePolicy::None,
                Some("Principal") => OverridePolicy::Principal,
                _ => OverridePolicy::All,
            },
            exactly_once_source_support: match parsed.string(EXACTLY_ONCE) {
                Some("enabled") => ExactlyOnceSourceSupport::Enabled,
                Some("preparing") => ExactlyOnceSourceSupport::Preparing,
                _ => ExactlyOnceSourceSupport::Disabled,
            },
            topic_tracking: parsed.boolean(TOPIC_TRACKING).unwrap_or(true),
            topic_tracking_allow_reset: parsed.boolean(TOPIC_TRACKING_RESET).unwrap_or(true),
            topic_creation_enable: parsed.boolean(TOPIC_CREATION).unwrap_or(true),
            worker,
            warnings,
        }
    }

    /// Sets what this file says about the runtime: the offsets topic, client settings
    /// (under any already there, so command-line settings win), converter defaults
    /// and the override policy. The caller picks the bootstrap servers.
    pub fn apply(&self, runtime: &mut RuntimeSettings) {
        runtime.offsets_topic = self.offsets_topic.clone();
        runtime.offsets_partitions = self.offsets_partitions;
        runtime.offsets_replication_factor = self.offsets_replication_factor;
        for (key, value) in &self.client_config {
            runtime
                .client_config
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        runtime.producer_config = self.producer_config.clone();
        runtime.consumer_config = self.consumer_config.clone();
        runtime.connector_defaults = self.connector_defaults.clone();
        runtime.offset_flush_interval = self.offset_flush_interval;
        runtime.override_policy = self.override_policy;
        runtime.topic_tracking = self.topic_tracking;
        runtime.topic_tracking_allow_reset = self.topic_tracking_allow_reset;
        runtime.topic_creation_enable = self.topic_creation_enable;
        // `preparing` is the rolling-upgrade step of KIP-618: every worker accepts the
        // setting before any runs transactions, so tasks still run as with `disabled`.
        runtime.transactional_id_prefix = (self.exactly_once_source_support
            == ExactlyOnceSourceSupport::Enabled)
            .then(|| self.worker.group_id.clone());
    }
}

fn passed_through(key: &str) -> bool {
    key.starts_with("producer.")
        || key.starts_with("consumer.")
        || CLIENT_PREFIXES.iter().any(|p| key.starts_with(p))
        || is_converter_key(key)
}

/// `key.converter`, `value.converter`, `header.converter` or a setting of one
/// (`key.converter.*`).
fn is_converter_key(key: &str) -> bool {
    CONNECTOR_DEFAULT_PREFIXES.iter().any(|p| {
        key.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// The `host:port` of the one `http://` listener Weir serves.
fn listener_address(listeners: &str) -> Result<String, ConfigIssue> {
    let all: Vec<&str> = listeners
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let [listener] = all.as_slice() else {
        return Err(ConfigIssue::new(
            LISTENERS,
            format!("{LISTENERS} must name exactly one listener, got {listeners:?}"),
        )
        .with_hint("e.g. listeners=http://0.0.0.0:8083"));
    };
    let Some(address) = listener.strip_prefix("http://") else {
        return Err(ConfigIssue::new(
            LISTENERS,
            format!(
                "listener {listener} is not an http:// listener; Weir's REST API serves plain HTTP"
            ),
        )
        .with_hint("put a TLS-terminating proxy in front of http://host:port"));
    };
    // Kafka Connect's `http://:8083` binds every interface.
    let address = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.trim_end_matches('/').to_string(),
    };
    match address.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => Ok(address),
        _ => Err(
            ConfigIssue::new(LISTENERS, format!("listener {listener} has no port"))
                .with_hint("e.g. listeners=http://127.0.0.1:8083"),
        ),
    }
}

fn worker_def() -> ConfigDef {
    let string = |name: &str, doc: &str| ConfigKey::new(name, ConfigType::String, doc).optional();
    let int = |name: &str, default: &str, min: i64, doc: &str| {
        ConfigKey::new(name, ConfigType::Int, doc)
            .default_value(default)
            .validator(Validator::Range {
                min: Some(min as f64),
                max: None,
            })
    };
    let replication = |name: &str, what: &str| {
        ConfigKey::new(
            name,
            ConfigType::Int,
            format!(
                "Replication factor of the {what} topic when the worker creates it; -1 takes the \
                 broker's default."
            ),
        )
        .default_value("-1")
        .validator(Validator::Custom(check_replication_factor))
    };
    ConfigDef::new()
        .define(
            string(
                BOOTSTRAP_SERVERS,
                "The Kafka cluster, host:port[,host:port...].",
            )
            .importance(Importance::High),
        )
        .define(
            ConfigKey::new(
                GROUP_ID,
                ConfigType::String,
                "The Connect cluster this worker belongs to.",
            )
            .default_value(DEFAULT_GROUP_ID)
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(string(
            CONFIG_TOPIC,
            "Compacted topic of connector configs; <group.id>-configs when unset.",
        ))
        .define(string(
            OFFSET_TOPIC,
            "Compacted topic of source offsets; <group.id>-offsets when unset.",
        ))
        .define(string(
            STATUS_TOPIC,
            "Compacted topic of connector and task statuses; <group.id>-status when unset.",
        ))
        .define(replication(CONFIG_RF, "config"))
        .define(replication(OFFSET_RF, "offsets"))
        .define(replication(STATUS_RF, "status"))
        .define(int(
            OFFSET_PARTITIONS,
            "25",
            1,
            "Partitions of the offsets topic when the worker creates it.",
        ))
        .define(int(
            STATUS_PARTITIONS,
            "5",
            1,
            "Partitions of the status topic when the worker creates it.",
        ))
        .define(string(
            LISTENERS,
            "The REST API's listener, http://host:port (one).",
        ))
        .define(string(
            ADVERTISED_HOST,
            "The host name other workers and clients use for this worker.",
        ))
        .define(
            ConfigKey::new(
                ADVERTISED_PORT,
                ConfigType::Int,
                "The port other workers and clients use for this worker.",
            )
            .optional()
            .validator(Validator::Range {
                min: Some(1.0),
                max: Some(65535.0),
            }),
        )
        .define(
            ConfigKey::new(
                ADVERTISED_LISTENER,
                ConfigType::String,
                "The advertised listener's protocol; only http.",
            )
            .default_value("http")
            .validator(Validator::OneOf(&["http", "HTTP"])),
        )
        .define(int(
            OFFSET_FLUSH_INTERVAL,
            "1000",
            1,
            "How often a source task stores the positions of what the log acknowledged, in \
             ms (Kafka Connect's default is 60000; a shorter interval re-reads less after \
             a crash).",
        ))
        .define(int(
            TASK_SHUTDOWN_TIMEOUT,
            "5000",
            0,
            "How long a stopping task may take before it is aborted, in ms.",
        ))
        .define(int(
            REBALANCE_DELAY,
            "300000",
            0,
            "How long the tasks of a worker that left the group wait before they move to \
             the others, in ms, so a restarting worker gets them back; 0 moves them at once.",
        ))
        .define(int(
            SESSION_TIMEOUT,
            "10000",
            1000,
            "How long a worker may go silent before its tasks move, in ms.",
        ))
        .define(
            ConfigKey::new(
                OVERRIDE_POLICY,
                ConfigType::String,
                "Which producer.override.* and consumer.override.* keys connectors may set: \
                 All, None, or Principal (security keys only).",
            )
            .default_value("All")
            .validator(Validator::OneOf(&["All", "None", "Principal"])),
        )
        .define(
            ConfigKey::new(
                EXACTLY_ONCE,
                ConfigType::String,
                "Exactly-once source support (KIP-618): disabled, preparing or enabled.",
            )
            .default_value("disabled")
            .validator(Validator::OneOf(&["disabled", "preparing", "enabled"])),
        )
        .define(
            ConfigKey::new(
                TOPIC_TRACKING,
                ConfigType::Boolean,
                "Whether tasks record the topics they use (GET /connectors/{name}/topics).",
            )
            .default_value("true"),
        )
        .define(
            ConfigKey::new(
                TOPIC_TRACKING_RESET,
                ConfigType::Boolean,
                "Whether PUT /connectors/{name}/topics/reset may clear a connector's topics.",
            )
            .default_value("true"),
        )
        .define(
            ConfigKey::new(
                TOPIC_CREATION,
                ConfigType::Boolean,
                "Whether source tasks create the topics they write to with their connector's \
                 topic.creation.* settings (KIP-158); when false those settings are ignored.",
            )
            .default_value("true"),
        )
}

fn check_replication_factor(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::Long(n) if *n == -1 || *n >= 1 => Ok(()),
        ConfigValue::Long(n) => Err(format!(
            "replication factor {n} must be at least 1, or -1 for the broker's default"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_map;

    #[test]
    fn storage_topics_follow_the_group_id_unless_named() {
        let config = WorkerConfig::parse(&config_map(&[("group.id", "billing")])).unwrap();
        assert_eq!(config.worker.group_id, "billing");
        assert_eq!(config.worker.config_topic, "billing-configs");
        assert_eq!(config.worker.status_topic, "billing-status");
        assert_eq!(config.worker.slots_topic, "billing-slots");
        assert_eq!(config.offsets_topic, "billing-offsets");

        let config = WorkerConfig::parse(&config_map(&[
            ("group.id", "connect-cluster"),
            ("config.storage.topic", "connect-configs"),
            ("offset.storage.topic", "connect-offsets"),
            ("status.storage.topic", "connect-status"),
            ("offset.storage.partitions", "3"),
            ("offset.storage.replication.factor", "1"),
            ("status.storage.replication.factor", "1"),
        ]))
        .unwrap();
        assert_eq!(config.worker.config_topic, "connect-configs");
        assert_eq!(config.worker.status_topic, "connect-status");
        assert_eq!(config.offsets_topic, "connect-offsets");
        assert_eq!(config.offsets_partitions, 3);
        assert_eq!(config.offsets_replication_factor, 1);
        assert_eq!(config.worker.status_replication_factor, 1);
        assert_eq!(config.worker.config_replication_factor, -1);
    }

    #[test]
    fn the_default_group_keeps_the_topics_weir_always_used() {
        let config = WorkerConfig::parse(&ConfigMap::new()).unwrap();
        let defaults = WorkerSettings::default();
        assert_eq!(config.worker.config_topic, defaults.config_topic);
        assert_eq!(config.worker.status_topic, defaults.status_topic);
        assert_eq!(config.worker.slots_topic, defaults.slots_topic);
        assert_eq!(config.offsets_topic, RuntimeSettings::OFFSETS_TOPIC);
        assert_eq!(config.listen, None);
    }

    #[test]
    fn client_converter_and_policy_keys_reach_the_runtime() {
        let config = WorkerConfig::parse(&config_map(&[
            ("producer.linger.ms", "20"),
            ("consumer.fetch.min.bytes", "1024"),
            ("security.protocol", "PLAINTEXT"),
            ("value.converter", "string"),
            ("key.converter", "json"),
            ("key.converter.schemas.enable", "false"),
            ("header.converter", "json"),
            ("offset.flush.interval.ms", "250"),
            ("connector.client.config.override.policy", "None"),
            ("listeners", "http://:18083"),
        ]))
        .unwrap();
        assert_eq!(config.listen.as_deref(), Some("0.0.0.0:18083"));
        let mut runtime = RuntimeSettings::new("b:9092", "w");
        runtime
            .client_config
            .insert("security.protocol".into(), "SSL".into());
        config.apply(&mut runtime);
        assert_eq!(runtime.producer_config, config_map(&[("linger.ms", "20")]));
        assert_eq!(
            runtime.consumer_config,
            config_map(&[("fetch.min.bytes", "1024")])
        );
        assert_eq!(
            runtime.client_config["security.protocol"], "SSL",
            "the command line wins over the file"
        );
        assert_eq!(runtime.offset_flush_interval, Duration::from_millis(250));
        assert_eq!(runtime.override_policy, OverridePolicy::None);

        // A connector without converters takes the worker's, with their settings; one
        // naming its own key converter takes none of the worker's key settings.
        let merged = runtime.with_connector_defaults(&config_map(&[("topic", "t")]));
        assert_eq!(merged["value.converter"], "string");
        assert_eq!(merged["key.converter.schemas.enable"], "false");
        assert_eq!(merged["header.converter"], "json");
        let merged = runtime.with_connector_defaults(&config_map(&[("key.converter", "string")]));
        assert_eq!(merged["key.converter"], "string");
        assert!(!merged.contains_key("key.converter.schemas.enable"));
        assert_eq!(merged["value.converter"], "string");

        let refused = runtime.refused_overrides(&config_map(&[
            ("producer.override.linger.ms", "5"),
            ("topic", "t"),
        ]));
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].key, "producer.override.linger.ms");
        assert!(
            refused[0]
                .message
                .contains("'None' policy does not allow 'linger.ms'"),
            "{:?}",
            refused[0]
        );
    }

    #[test]
    fn topic_creation_is_on_unless_the_file_turns_it_off() {
        let mut runtime = RuntimeSettings::new("b:9092", "w");
        WorkerConfig::parse(&ConfigMap::new())
            .unwrap()
            .apply(&mut runtime);
        assert!(runtime.topic_creation_enable);
        WorkerConfig::parse(&config_map(&[("topic.creation.enable", "false")]))
            .unwrap()
            .apply(&mut runtime);
        assert!(!runtime.topic_creation_enable);
    }

    #[test]
    fn every_bad_key_is_reported_with_a_hint() {
        let issues = WorkerConfig::parse(&config_map(&[
            ("group.idd", "x"),
            ("offset.storage.partitions", "0"),
            ("exactly.once.source.support", "on"),
            ("listeners", "https://0.0.0.0:8443"),
            ("status.storage.replication.factor", "0"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        for key in [
            "group.idd",
            "offset.storage.partitions",
            "exactly.once.source.support",
            "listeners",
            "status.storage.replication.factor",
        ] {
            assert!(keys.contains(&key), "{key} not reported: {issues:?}");
        }
        let typo = issues.iter().find(|i| i.key == "group.idd").unwrap();
        assert!(typo.to_string().contains("group.id"), "{typo}");
    }

    #[test]
    fn the_example_worker_file_is_valid() {
        let text = include_str!("../../../examples/connect-worker.properties");
        let props = crate::config::parse_properties(text).expect("parses");
        let config = WorkerConfig::parse(&props).expect("valid");
        assert_eq!(config.worker.group_id, "connect-cluster");
        assert_eq!(config.worker.config_topic, "connect-configs");
        assert_eq!(
            config.exactly_once_source_support,
            ExactlyOnceSourceSupport::Enabled
        );
        assert_eq!(
            config.worker.scheduled_rebalance_max_delay,
            Duration::from_secs(60)
        );
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn rebalance_delay_and_topic_tracking_have_kafka_connects_defaults() {
        let config = WorkerConfig::parse(&config_map(&[])).unwrap();
        assert_eq!(
            config.worker.scheduled_rebalance_max_delay,
            Duration::from_secs(300)
        );
        let mut runtime = RuntimeSettings::new("localhost:9092", "w");
        config.apply(&mut runtime);
        assert!(runtime.topic_tracking && runtime.topic_tracking_allow_reset);
        let config = WorkerConfig::parse(&config_map(&[
            ("scheduled.rebalance.max.delay.ms", "0"),
            ("topic.tracking.allow.reset", "false"),
        ]))
        .unwrap();
        assert!(config.worker.scheduled_rebalance_max_delay.is_zero());
        config.apply(&mut runtime);
        assert!(runtime.topic_tracking && !runtime.topic_tracking_allow_reset);
        let issues =
            WorkerConfig::parse(&config_map(&[("scheduled.rebalance.max.delay.ms", "-1")]))
                .unwrap_err();
        assert_eq!(issues[0].key, "scheduled.rebalance.max.delay.ms");
    }

    #[test]
    fn keys_without_meaning_here_are_accepted_with_a_warning() {
        let config =
            WorkerConfig::parse(&config_map(&[("plugin.path", "/usr/share/java")])).unwrap();
        assert_eq!(config.warnings.len(), 1);
        assert!(config.warnings[0].contains("plugin.path"));
    }
}
