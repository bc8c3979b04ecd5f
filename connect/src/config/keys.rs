//! The runtime's own keys of every connector config, with Kafka Connect's names and
//! defaults, declared once for parsing, `config/validate` and masking.

use crate::config::{ConfigDef, ConfigKey, ConfigType, ConfigValue, Importance, Validator};
use crate::{ConnectorPlugin, ConnectorType};

pub(crate) const NAME: &str = "name";
pub(crate) const CONNECTOR_CLASS: &str = "connector.class";
pub(crate) const TASKS_MAX: &str = "tasks.max";
pub(crate) const TOPICS: &str = "topics";
pub(crate) const TOPICS_REGEX: &str = "topics.regex";
pub(crate) const KEY_CONVERTER: &str = "key.converter";
pub(crate) const VALUE_CONVERTER: &str = "value.converter";
pub(crate) const HEADER_CONVERTER: &str = "header.converter";
pub(crate) const TRANSFORMS: &str = "transforms";
pub(crate) const PREDICATES: &str = "predicates";
pub(crate) const ERRORS_TOLERANCE: &str = "errors.tolerance";
pub(crate) const ERRORS_RETRY_TIMEOUT: &str = "errors.retry.timeout";
pub(crate) const ERRORS_RETRY_DELAY_MAX: &str = "errors.retry.delay.max.ms";
pub(crate) const ERRORS_LOG_ENABLE: &str = "errors.log.enable";
pub(crate) const ERRORS_LOG_MESSAGES: &str = "errors.log.include.messages";
pub(crate) const DLQ_TOPIC: &str = "errors.deadletterqueue.topic.name";
pub(crate) const DLQ_REPLICATION: &str = "errors.deadletterqueue.topic.replication.factor";
pub(crate) const DLQ_HEADERS: &str = "errors.deadletterqueue.context.headers.enable";
pub(crate) const BATCH_MAX_RECORDS: &str = "batch.max.records";
pub(crate) const BATCH_MAX_MS: &str = "batch.max.ms";
pub(crate) const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";
pub(crate) const TRANSACTION_BOUNDARY: &str = "transaction.boundary";
pub(crate) const TRANSACTION_BOUNDARY_INTERVAL: &str = "transaction.boundary.interval.ms";

/// Key prefixes passed through to the Kafka clients (librdkafka settings).
pub(crate) const PRODUCER_OVERRIDE: &str = "producer.override.";
pub(crate) const CONSUMER_OVERRIDE: &str = "consumer.override.";

/// Default converters: keys are usually plain ids, values structured. (Kafka's worker
/// defaults both to `JsonConverter`.)
pub(crate) const DEFAULT_KEY_CONVERTER: &str = "string";
pub(crate) const DEFAULT_VALUE_CONVERTER: &str = "json";
/// Kafka's default, by its class name as Kafka documents it.
pub(crate) const DEFAULT_HEADER_CONVERTER: &str =
    "org.apache.kafka.connect.storage.SimpleHeaderConverter";

pub const GROUP_COMMON: &str = "Common";
pub const GROUP_TRANSFORMS: &str = "Transforms";
pub const GROUP_ERRORS: &str = "Error Handling";

/// Keys that only sink connectors take.
pub(crate) const SINK_ONLY: &[&str] = &[
    TOPICS,
    TOPICS_REGEX,
    DLQ_TOPIC,
    DLQ_REPLICATION,
    DLQ_HEADERS,
];

/// The runtime's keys for a connector of `connector_type`; with `None` (the plugin is
/// not known) the keys of both kinds.
pub fn framework_def(connector_type: Option<ConnectorType>) -> ConfigDef {
    let common = |key: ConfigKey| key.group(GROUP_COMMON);
    let errors = |key: ConfigKey| key.group(GROUP_ERRORS);
    let mut def = ConfigDef::new()
        .define(common(
            ConfigKey::new(
                NAME,
                ConfigType::String,
                "Globally unique name of the connector.",
            )
            .importance(Importance::High)
            .validator(Validator::Custom(check_name)),
        ))
        .define(common(
            ConfigKey::new(
                CONNECTOR_CLASS,
                ConfigType::Class,
                "The connector plugin: its class, simple class name or alias.",
            )
            .importance(Importance::High),
        ))
        .define(common(
            ConfigKey::new(TASKS_MAX, ConfigType::Int, "Maximum number of tasks.")
                .default_value("1")
                .importance(Importance::High)
                .validator(at_least(1)),
        ));
    if connector_type != Some(ConnectorType::Source) {
        def = def
            .define(common(
                ConfigKey::new(
                    TOPICS,
                    ConfigType::List,
                    "Topics to consume (sinks); set this or topics.regex.",
                )
                .default_value("")
                .importance(Importance::High),
            ))
            .define(common(
                ConfigKey::new(
                    TOPICS_REGEX,
                    ConfigType::String,
                    "Regular expression of the topics to consume (sinks); set this or topics.",
                )
                .default_value("")
                .importance(Importance::High),
            ));
    }
    def = def
        .define(common(
            ConfigKey::new(
                KEY_CONVERTER,
                ConfigType::Class,
                "Converter of record keys: json, string or bytes (or Kafka's class name).",
            )
            .default_value(DEFAULT_KEY_CONVERTER),
        ))
        .define(common(
            ConfigKey::new(
                VALUE_CONVERTER,
                ConfigType::Class,
                "Converter of record values: json, string or bytes (or Kafka's class name).",
            )
            .default_value(DEFAULT_VALUE_CONVERTER),
        ))
        .define(common(
            ConfigKey::new(
                HEADER_CONVERTER,
                ConfigType::Class,
                "Converter of the header values transforms write (HeaderFrom, InsertHeader): \
                 simple, json, string or bytes (or Kafka's class name).",
            )
            .default_value(DEFAULT_HEADER_CONVERTER),
        ))
        .define(common(
            ConfigKey::new(
                BATCH_MAX_RECORDS,
                ConfigType::Int,
                "Sinks: records per write. Sources: most records per produced batch.",
            )
            .default_value("500")
            .importance(Importance::Low)
            .validator(at_least(1)),
        ))
        .define(common(
            ConfigKey::new(
                BATCH_MAX_MS,
                ConfigType::Long,
                "Sinks: longest wait in milliseconds to fill a batch before writing it.",
            )
            .default_value("100")
            .importance(Importance::Low)
            .validator(at_least(0)),
        ))
        .define(
            ConfigKey::new(
                TRANSFORMS,
                ConfigType::List,
                "Aliases of the transforms to apply to records, in order.",
            )
            .default_value("")
            .importance(Importance::Low)
            .group(GROUP_TRANSFORMS),
        )
        .define(
            ConfigKey::new(
                PREDICATES,
                ConfigType::List,
                "Aliases of the predicates that transforms may be conditioned on.",
            )
            .default_value("")
            .importance(Importance::Low)
            .group(GROUP_TRANSFORMS),
        )
        .define(errors(
            ConfigKey::new(
                ERRORS_TOLERANCE,
                ConfigType::String,
                "none: the first bad record fails the task. all: bad records are skipped \
                 (and sent to the dead-letter topic when one is set).",
            )
            .default_value("none")
            .validator(Validator::Custom(check_tolerance)),
        ))
        .define(errors(
            ConfigKey::new(
                ERRORS_RETRY_TIMEOUT,
                ConfigType::Long,
                "Milliseconds to retry a failed operation; 0 for no retries, -1 forever.",
            )
            .default_value("0")
            .validator(at_least(-1)),
        ))
        .define(errors(
            ConfigKey::new(
                ERRORS_RETRY_DELAY_MAX,
                ConfigType::Long,
                "Longest wait in milliseconds between consecutive retries.",
            )
            .default_value("60000")
            .validator(at_least(0)),
        ))
        .define(errors(
            ConfigKey::new(
                ERRORS_LOG_ENABLE,
                ConfigType::Boolean,
                "Log each failed operation and bad record.",
            )
            .default_value("false"),
        ))
        .define(errors(
            ConfigKey::new(
                ERRORS_LOG_MESSAGES,
                ConfigType::Boolean,
                "Include the record (topic, partition, offset, key, value) in those logs.",
            )
            .default_value("false"),
        ));
    if connector_type != Some(ConnectorType::Sink) {
        def = def
            .define(common(
                ConfigKey::new(
                    EXACTLY_ONCE_SUPPORT,
                    ConfigType::String,
                    "Sources: requested, or required (the connector is refused unless the \
                     worker runs sources in transactions and the connector supports it).",
                )
                .default_value("requested")
                .validator(Validator::OneOf(&["requested", "required"])),
            ))
            .define(common(
                ConfigKey::new(
                    TRANSACTION_BOUNDARY,
                    ConfigType::String,
                    "Sources with exactly-once delivery: where transactions end. poll: after \
                     every polled batch; interval: every transaction.boundary.interval.ms; \
                     connector: where the connector says.",
                )
                .default_value("poll")
                .validator(Validator::OneOf(&["poll", "interval", "connector"])),
            ))
            .define(common(
                ConfigKey::new(
                    TRANSACTION_BOUNDARY_INTERVAL,
                    ConfigType::Long,
                    "Sources with transaction.boundary=interval: milliseconds per \
                     transaction; the worker's offset.flush.interval.ms when unset.",
                )
                .optional()
                .validator(at_least(1)),
            ));
        for key in super::topic_creation::framework_keys() {
            def = def.define(key);
        }
    }
    if connector_type != Some(ConnectorType::Source) {
        def = def
            .define(errors(
                ConfigKey::new(
                    DLQ_TOPIC,
                    ConfigType::String,
                    "Sinks: topic receiving the records that failed (with errors.tolerance=all).",
                )
                .default_value(""),
            ))
            .define(errors(
                ConfigKey::new(
                    DLQ_REPLICATION,
                    ConfigType::Int,
                    "Replication factor of the dead-letter topic when it is created; -1 for \
                     the broker's default. 1 by default: Weir runs as one node today.",
                )
                .default_value("1")
                .validator(Validator::Custom(check_replication_factor)),
            ))
            .define(errors(
                ConfigKey::new(
                    DLQ_HEADERS,
                    ConfigType::Boolean,
                    "Add __connect.errors.* headers saying where and why a record failed.",
                )
                .default_value("false"),
            ));
    }
    def
}

/// The runtime's keys for `plugin` followed by the plugin's own.
pub fn connector_def(plugin: &dyn ConnectorPlugin) -> ConfigDef {
    framework_def(Some(plugin.connector_type())).merge(&plugin.config_def())
}

fn at_least(min: i32) -> Validator {
    Validator::Range {
        min: Some(min.into()),
        max: None,
    }
}

fn check_name(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::String(name) if name.is_empty() => {
            Err("a connector name must not be empty".into())
        }
        ConfigValue::String(name) if name.contains('/') => {
            Err("a connector name must not contain '/'".into())
        }
        ConfigValue::String(name) if name.chars().any(char::is_control) => {
            Err("a connector name must not contain control characters".into())
        }
        _ => Ok(()),
    }
}

fn check_tolerance(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::String(s)
            if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("all") =>
        {
            Ok(())
        }
        _ => Err("String must be one of (case insensitive): none, all".into()),
    }
}

fn check_replication_factor(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::Long(n) if *n == -1 || (1..=i64::from(i16::MAX)).contains(n) => Ok(()),
        _ => Err("Value must be -1 (the broker's default) or between 1 and 32767".into()),
    }
}
