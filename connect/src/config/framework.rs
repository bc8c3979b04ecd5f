//! A connector's whole config, checked: the runtime's keys, the plugin's keys,
//! transforms, converters, and anything left over.
//!
//! [`ConnectorConfig::parse`] is the one gate every config passes, from YAML or from
//! the REST API, and it reports every problem at once so a user fixes a pipeline in one
//! round rather than one error at a time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::checks::{find_plugin, sink_topics, unknown_keys, Checked};
use super::env::resolve_env;
use super::keys::*;
use super::topic_creation::{self, TopicCreation};
use super::validate::mask_with;
use super::{ConfigIssue, ConfigMap, ParsedConfig};
use crate::converter::{
    converter_from_config, header_converter_from_config, Converter, SimpleHeaderConverter,
};
use crate::transforms::TransformChain;
use crate::{ConnectorPlugin, ConnectorType, ExactlyOnceSupport, Plugins};

/// What happens to a record that fails in a converter, a transform or the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// The first failure fails the task (`errors.tolerance=none`).
    None,
    /// Failed records are skipped, and sent to the dead-letter topic when one is set.
    All,
}

/// The `errors.*` keys, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPolicy {
    pub tolerance: Tolerance,
    /// How long to retry a retryable failure; `None` retries forever.
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    /// Sinks only; `None` when unset.
    pub dlq_topic: Option<String>,
    pub dlq_replication_factor: i16,
    pub dlq_context_headers: bool,
}

/// Where a source task's transactions end (`transaction.boundary`), when the worker
/// runs sources exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// After every polled batch.
    Poll,
    /// Every so often; `None` takes the worker's `offset.flush.interval.ms`.
    Interval(Option<Duration>),
    /// Where the task says ([`Source::end_of_transaction`](crate::Source::end_of_transaction)).
    Connector,
}

/// A connector's config, parsed and checked. Its `Debug` masks secrets.
#[derive(Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub plugin: Arc<dyn ConnectorPlugin>,
    pub connector_type: ConnectorType,
    pub tasks_max: usize,
    /// Sinks: the topics to consume (empty when `topics_regex` is set).
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    pub key_converter: Arc<dyn Converter>,
    pub value_converter: Arc<dyn Converter>,
    pub transforms: Arc<TransformChain>,
    pub errors: ErrorPolicy,
    pub batch_max_records: usize,
    pub batch_max_ms: Duration,
    /// Sources: `exactly.once.support=required`.
    pub exactly_once_required: bool,
    /// Sources: `transaction.boundary`.
    pub transaction_boundary: TransactionBoundary,
    /// Sources: how the topics they write to are created when missing
    /// (`topic.creation.*`, KIP-158); `None` leaves them to the cluster.
    pub topic_creation: Option<Arc<TopicCreation>>,
    /// `producer.override.*` with the prefix removed.
    pub producer_overrides: ConfigMap,
    /// `consumer.override.*` with the prefix removed.
    pub consumer_overrides: ConfigMap,
    /// The connector's own keys, parsed with its plugin's ConfigDef.
    pub connector: ParsedConfig,
    /// The config as given (env references unresolved), for storage and the REST API.
    pub raw: ConfigMap,
}

impl ConnectorConfig {
    /// Resolves `${env:NAME}` references, then checks everything: framework keys, the
    /// plugin's keys (`ConfigDef::parse` + `ConnectorPlugin::validate`), transforms
    /// (`TransformChain::from_config`), converters, and unknown keys (any key that is
    /// not a framework key, not a plugin key, not owned by transforms, not under a
    /// converter/override prefix → issue with a did-you-mean hint from the union of
    /// known keys). Returns every issue, not just the first.
    pub fn parse(
        plugins: &Plugins,
        props: &ConfigMap,
    ) -> Result<ConnectorConfig, Vec<ConfigIssue>> {
        let mut checked = Checked::default();
        // A key whose reference cannot be resolved is reported once, for that reason;
        // the checks below see its value as written.
        let resolved = match resolve_env(props) {
            Ok(resolved) => resolved,
            Err(issues) => {
                checked.env_keys = issues.iter().map(|i| i.key.clone()).collect();
                checked.issues = issues;
                props.clone()
            }
        };
        let plugin = find_plugin(plugins, &resolved, &mut checked);
        let connector_type = plugin.as_ref().map(|p| p.connector_type());
        let framework = framework_def(connector_type);
        let common = checked.take(framework.parse(&resolved));

        let mut topics = Vec::new();
        let mut topics_regex = None;
        match connector_type {
            Some(ConnectorType::Sink) => {
                (topics, topics_regex) = sink_topics(&resolved, &mut checked);
            }
            Some(ConnectorType::Source) => {
                let class = plugin.as_ref().map_or("", |p| p.class());
                for key in SINK_ONLY.iter().filter(|k| resolved.contains_key(**k)) {
                    let issue = ConfigIssue::new(
                        *key,
                        format!("{key} is only for sink connectors; {class} is a source connector"),
                    );
                    checked.push(if key.starts_with("topics") {
                        issue.with_hint("a source names the topic it writes in its own keys")
                    } else {
                        issue.with_hint("remove it: sources have no dead-letter topic")
                    });
                }
            }
            None => {}
        }

        let own = plugin.as_ref().and_then(|plugin| {
            let parsed = checked.take(plugin.config_def().parse(&resolved))?;
            let found = plugin.validate(&parsed);
            if found.is_empty() {
                Some(parsed)
            } else {
                found.into_iter().for_each(|i| checked.push(i));
                None
            }
        });
        // Parsed once here: the chain's own parsing of it would report its issues twice.
        let header_converter = checked
            .take(header_converter_from_config(
                &resolved,
                DEFAULT_HEADER_CONVERTER,
            ))
            .unwrap_or_else(|| Arc::new(SimpleHeaderConverter));
        let transforms = checked.take(TransformChain::from_config_with(
            &resolved,
            header_converter,
        ));
        let key_converter = checked.take(converter_from_config(
            &resolved,
            KEY_CONVERTER,
            DEFAULT_KEY_CONVERTER,
        ));
        let value_converter = checked.take(converter_from_config(
            &resolved,
            VALUE_CONVERTER,
            DEFAULT_VALUE_CONVERTER,
        ));
        let topic_creation = checked.take(topic_creation::parse(
            &resolved,
            plugin.as_ref().map(|p| (p.class(), p.connector_type())),
        ));
        if let Some(plugin) = &plugin {
            unknown_keys(plugin.as_ref(), &resolved, &mut checked);
            if let Some(common) = &common {
                check_exactly_once(plugin.as_ref(), common, &mut checked);
            }
        }

        let (
            Some(plugin),
            Some(common),
            Some(connector),
            Some(transforms),
            Some(key_converter),
            Some(value_converter),
            true,
        ) = (
            plugin,
            common,
            own,
            transforms,
            key_converter,
            value_converter,
            checked.issues.is_empty(),
        )
        else {
            return Err(checked.issues);
        };
        let long = |key| common.long(key).unwrap_or_default();
        let flag = |key| common.boolean(key).unwrap_or_default();
        let sink = connector_type == Some(ConnectorType::Sink);
        let errors = ErrorPolicy {
            tolerance: match common.string(ERRORS_TOLERANCE) {
                Some(t) if t.eq_ignore_ascii_case("all") => Tolerance::All,
                _ => Tolerance::None,
            },
            retry_timeout: u64::try_from(long(ERRORS_RETRY_TIMEOUT))
                .ok()
                .map(Duration::from_millis),
            retry_delay_max: Duration::from_millis(long(ERRORS_RETRY_DELAY_MAX).max(0) as u64),
            log_enable: flag(ERRORS_LOG_ENABLE),
            log_include_messages: flag(ERRORS_LOG_MESSAGES),
            dlq_topic: common
                .string(DLQ_TOPIC)
                .filter(|t| sink && !t.is_empty())
                .map(str::to_string),
            dlq_replication_factor: i16::try_from(common.long(DLQ_REPLICATION).unwrap_or(1))
                .unwrap_or(1),
            dlq_context_headers: flag(DLQ_HEADERS),
        };
        Ok(ConnectorConfig {
            name: common.string(NAME).unwrap_or_default().to_string(),
            connector_type: plugin.connector_type(),
            plugin,
            tasks_max: long(TASKS_MAX).max(1) as usize,
            topics,
            topics_regex,
            key_converter,
            value_converter,
            transforms: Arc::new(transforms),
            errors,
            batch_max_records: long(BATCH_MAX_RECORDS).max(1) as usize,
            batch_max_ms: Duration::from_millis(long(BATCH_MAX_MS).max(0) as u64),
            exactly_once_required: common.string(EXACTLY_ONCE_SUPPORT) == Some("required"),
            transaction_boundary: match common.string(TRANSACTION_BOUNDARY) {
                Some("interval") => TransactionBoundary::Interval(
                    common
                        .long(TRANSACTION_BOUNDARY_INTERVAL)
                        .map(|ms| Duration::from_millis(ms.max(1) as u64)),
                ),
                Some("connector") => TransactionBoundary::Connector,
                _ => TransactionBoundary::Poll,
            },
            topic_creation: topic_creation.flatten().map(Arc::new),
            producer_overrides: strip_prefix(&resolved, PRODUCER_OVERRIDE),
            consumer_overrides: strip_prefix(&resolved, CONSUMER_OVERRIDE),
            connector,
            raw: props.clone(),
        })
    }
}

/// What a source connector asks of exactly-once delivery that its plugin cannot give.
fn check_exactly_once(plugin: &dyn ConnectorPlugin, common: &ParsedConfig, checked: &mut Checked) {
    if plugin.connector_type() != ConnectorType::Source {
        return;
    }
    let class = plugin.class();
    if common.string(EXACTLY_ONCE_SUPPORT) == Some("required")
        && plugin.exactly_once_support() == ExactlyOnceSupport::Unsupported
    {
        checked.push(
            ConfigIssue::new(
                EXACTLY_ONCE_SUPPORT,
                format!("The connector {class} does not support exactly-once semantics"),
            )
            .with_hint("set exactly.once.support=requested to run it at least once"),
        );
    }
    if common.string(TRANSACTION_BOUNDARY) == Some("connector")
        && !plugin.can_define_transaction_boundaries()
    {
        checked.push(
            ConfigIssue::new(
                TRANSACTION_BOUNDARY,
                format!("The connector {class} does not define its own transaction boundaries"),
            )
            .with_hint("use transaction.boundary=poll or interval"),
        );
    }
}

impl fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let def = connector_def(self.plugin.as_ref());
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("plugin", &self.plugin.class())
            .field("connector_type", &self.connector_type)
            .field("tasks_max", &self.tasks_max)
            .field("topics", &self.topics)
            .field("topics_regex", &self.topics_regex)
            .field("key_converter", &self.key_converter)
            .field("value_converter", &self.value_converter)
            .field("transforms", &self.transforms)
            .field("errors", &self.errors)
            .field("batch_max_records", &self.batch_max_records)
            .field("batch_max_ms", &self.batch_max_ms)
            .field("topic_creation", &self.topic_creation)
            .field(
                "producer_overrides",
                &mask_with(&def, &self.producer_overrides),
            )
            .field(
                "consumer_overrides",
                &mask_with(&def, &self.consumer_overrides),
            )
            .field("connector", &self.connector)
            .field("raw", &mask_with(&def, &self.raw))
            .finish()
    }
}

fn strip_prefix(props: &ConfigMap, prefix: &str) -> ConfigMap {
    props
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{plugins, props};

    fn parse(pairs: &[(&str, &str)]) -> Result<ConnectorConfig, Vec<ConfigIssue>> {
        ConnectorConfig::parse(&plugins(), &props(pairs))
    }

    fn issues(pairs: &[(&str, &str)]) -> Vec<String> {
        parse(pairs)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_sink_gets_kafka_connect_defaults() {
        let config = parse(&[
            ("name", "orders-redis"),
            ("connector.class", "test-sink"),
            ("topics", "orders, refunds"),
            ("redis.uri", "redis://127.0.0.1:6379"),
        ])
        .unwrap();
        assert_eq!(config.name, "orders-redis");
        assert_eq!(config.connector_type, ConnectorType::Sink);
        assert_eq!(config.plugin.class(), "io.weir.test.TestSinkConnector");
        assert_eq!(config.tasks_max, 1);
        assert_eq!(config.topics, ["orders", "refunds"]);
        assert_eq!(config.topics_regex, None);
        assert_eq!(format!("{:?}", config.key_converter), "StringConverter");
        assert!(format!("{:?}", config.value_converter).starts_with("JsonConverter"));
        assert!(config.transforms.is_empty());
        assert_eq!(
            config.errors,
            ErrorPolicy {
                tolerance: Tolerance::None,
                retry_timeout: Some(Duration::ZERO),
                retry_delay_max: Duration::from_secs(60),
                log_enable: false,
                log_include_messages: false,
                dlq_topic: None,
                dlq_replication_factor: 1,
                dlq_context_headers: false,
            }
        );
        assert_eq!(config.batch_max_records, 500);
        assert_eq!(config.batch_max_ms, Duration::from_millis(100));
        assert_eq!(
            config.connector.string("redis.uri"),
            Some("redis://127.0.0.1:6379")
        );
    }

    #[test]
    fn every_framework_key_is_parsed() {
        let config = parse(&[
            ("name", "s"),
            ("connector.class", "io.weir.test.TestSinkConnector"),
            ("tasks.max", "4"),
            ("topics.regex", "orders-.*"),
            ("key.converter", "bytes"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "true"),
            ("errors.tolerance", "ALL"),
            ("errors.retry.timeout", "-1"),
            ("errors.retry.delay.max.ms", "250"),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
            ("errors.deadletterqueue.topic.name", "s-dlq"),
            ("errors.deadletterqueue.topic.replication.factor", "-1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
            ("batch.max.records", "50"),
            ("batch.max.ms", "0"),
            ("producer.override.linger.ms", "5"),
            ("consumer.override.fetch.min.bytes", "1024"),
            ("redis.uri", "redis://x"),
        ])
        .unwrap();
        assert_eq!(config.tasks_max, 4);
        assert!(config.topics.is_empty());
        assert_eq!(config.topics_regex.as_deref(), Some("orders-.*"));
        assert_eq!(format!("{:?}", config.key_converter), "ByteArrayConverter");
        let e = &config.errors;
        assert_eq!(e.tolerance, Tolerance::All);
        assert_eq!(e.retry_timeout, None);
        assert_eq!(e.retry_delay_max, Duration::from_millis(250));
        assert!(e.log_enable && e.log_include_messages && e.dlq_context_headers);
        assert_eq!(e.dlq_topic.as_deref(), Some("s-dlq"));
        assert_eq!(e.dlq_replication_factor, -1);
        assert_eq!(config.batch_max_records, 50);
        assert_eq!(config.batch_max_ms, Duration::ZERO);
        assert_eq!(config.producer_overrides, props(&[("linger.ms", "5")]));
        assert_eq!(
            config.consumer_overrides,
            props(&[("fetch.min.bytes", "1024")])
        );
    }

    #[test]
    fn env_references_are_resolved_but_raw_keeps_them() {
        std::env::set_var("WEIR_FRAMEWORK_TEST_URI", "redis://10.1.1.1");
        let config = parse(&[
            ("name", "s"),
            ("connector.class", "test-sink"),
            ("topics", "t"),
            ("redis.uri", "${env:WEIR_FRAMEWORK_TEST_URI}"),
        ])
        .unwrap();
        assert_eq!(
            config.connector.string("redis.uri"),
            Some("redis://10.1.1.1")
        );
        assert_eq!(config.raw["redis.uri"], "${env:WEIR_FRAMEWORK_TEST_URI}");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let found = issues(&[
            ("name", "a/b"),
            ("connector.class", "test-sink"),
            ("tasks.max", "0"),
            ("topics", "t"),
            ("topics.regex", "t.*"),
            ("errors.tolerance", "some"),
            ("redis.url", "redis://x"),
            ("redis.password", "${env:WEIR_FRAMEWORK_TEST_UNSET}"),
        ]);
        assert_eq!(
            found,
            [
                "redis.password: environment variable WEIR_FRAMEWORK_TEST_UNSET is not set \
                 (hint: set WEIR_FRAMEWORK_TEST_UNSET in the worker's environment, or give a \
                 default: ${env:WEIR_FRAMEWORK_TEST_UNSET:-value})",
                "name: Invalid value a/b for configuration name: a connector name must not \
                 contain '/'",
                "tasks.max: Invalid value 0 for configuration tasks.max: Value must be at least 1",
                "errors.tolerance: Invalid value some for configuration errors.tolerance: \
                 String must be one of (case insensitive): none, all",
                "topics: topics and topics.regex are mutually exclusive options, but both are \
                 set. (hint: keep one of them)",
                "topics.regex: topics and topics.regex are mutually exclusive options, but both \
                 are set. (hint: keep one of them)",
                "redis.uri: Missing required configuration \"redis.uri\" which has no default \
                 value. (hint: set redis.uri: Where Redis listens.)",
                "redis.url: Unknown configuration 'redis.url' (hint: did you mean 'redis.uri'?)",
            ]
        );
    }

    #[test]
    fn a_sink_needs_exactly_one_of_topics_and_topics_regex() {
        let base = [
            ("name", "s"),
            ("connector.class", "test-sink"),
            ("redis.uri", "redis://x"),
        ];
        assert_eq!(
            issues(&base),
            [
                "topics: Must configure one of topics or topics.regex (hint: set topics: the \
              topics this sink consumes)"
            ]
        );
        let both = [&base[..], &[("topics", "a"), ("topics.regex", "a.*")]].concat();
        let found = issues(&both);
        assert_eq!(found.len(), 2);
        assert!(found[0].starts_with("topics: topics and topics.regex are mutually exclusive"));
        assert!(found[1].starts_with("topics.regex: topics and topics.regex"));
        let dlq = [
            &base[..],
            &[
                ("topics", "a,a-dlq"),
                ("errors.deadletterqueue.topic.name", "a-dlq"),
            ],
        ]
        .concat();
        assert!(issues(&dlq)[0].contains("The DLQ topic 'a-dlq' may not be included"));
    }

    #[test]
    fn transaction_keys_parse_and_need_a_plugin_that_supports_them() {
        use crate::config::testing::source_pairs as source;
        let config = parse(&source(&[])).unwrap();
        assert!(!config.exactly_once_required);
        assert_eq!(config.transaction_boundary, TransactionBoundary::Poll);
        let config = parse(&source(&[
            ("transaction.boundary", "interval"),
            ("transaction.boundary.interval.ms", "250"),
        ]))
        .unwrap();
        assert_eq!(
            config.transaction_boundary,
            TransactionBoundary::Interval(Some(Duration::from_millis(250)))
        );
        // The test source supports neither exactly-once nor its own boundaries.
        let found = issues(&source(&[
            ("exactly.once.support", "required"),
            ("transaction.boundary", "connector"),
        ]));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("does not support exactly-once"),
            "{found:?}"
        );
        assert!(
            found[1].contains("does not define its own transaction boundaries"),
            "{found:?}"
        );
        let found = issues(&source(&[("transaction.boundary", "batch")]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("transaction.boundary:"), "{found:?}");
    }

    #[test]
    fn topic_creation_keys_reach_a_source_and_are_refused_on_a_sink() {
        let source = [
            ("name", "src"),
            ("connector.class", "test-source"),
            ("topic", "logs"),
            ("file.paths", "/tmp/a.log"),
        ];
        assert!(parse(&source).unwrap().topic_creation.is_none());
        let on = [
            &source[..],
            &[
                ("topic.creation.default.replication.factor", "1"),
                ("topic.creation.default.partitions", "3"),
                ("topic.creation.groups", "compacted"),
                ("topic.creation.compacted.include", ".*-state"),
                ("topic.creation.compacted.cleanup.policy", "compact"),
            ],
        ]
        .concat();
        let creation = parse(&on).unwrap().topic_creation.unwrap();
        assert_eq!(creation.group_for("logs-state").name, "compacted");
        assert_eq!(creation.group_for("logs").partitions, 3);
        // A bad default value is reported once, though both the framework's keys and
        // the topic creation groups check it.
        let bad = [
            &source[..],
            &[
                ("topic.creation.default.replication.factor", "0"),
                ("topic.creation.default.partitions", "3"),
            ],
        ]
        .concat();
        assert_eq!(
            issues(&bad),
            [
                "topic.creation.default.replication.factor: Invalid value 0 for configuration \
              topic.creation.default.replication.factor: Replication factor must be -1 (the \
              broker's default) or between 1 and 32767"
            ]
        );
        let found = issues(&[
            ("name", "s"),
            ("connector.class", "test-sink"),
            ("topics", "t"),
            ("redis.uri", "redis://x"),
            ("topic.creation.default.partitions", "3"),
        ]);
        assert_eq!(
            found,
            [
                "topic.creation.default.partitions: topic.creation.default.partitions is only for \
              source connectors; io.weir.test.TestSinkConnector is a sink connector (hint: \
              remove it: a sink creates no topics)"
            ]
        );
    }

    #[test]
    fn sink_keys_are_refused_on_a_source() {
        let found = issues(&[
            ("name", "src"),
            ("connector.class", "test-source"),
            ("topic", "logs"),
            ("file.paths", "/tmp/a.log"),
            ("topics", "logs"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]);
        assert_eq!(
            found,
            [
                "topics: topics is only for sink connectors; io.weir.test.TestSourceConnector \
                 is a source connector (hint: a source names the topic it writes in its own keys)",
                "errors.deadletterqueue.topic.name: errors.deadletterqueue.topic.name is only \
                 for sink connectors; io.weir.test.TestSourceConnector is a source connector \
                 (hint: remove it: sources have no dead-letter topic)",
            ]
        );
    }

    #[test]
    fn an_unknown_plugin_suggests_the_nearest_name() {
        assert_eq!(
            issues(&[("name", "s"), ("connector.class", "test-snk")]),
            [
                "connector.class: Failed to find any connector plugin named 'test-snk' (hint: did \
              you mean 'test-sink'?)"
            ]
        );
        assert_eq!(
            issues(&[("name", "s"), ("connector.class", "Elastic")]),
            [
                "connector.class: Failed to find any connector plugin named 'Elastic' (hint: this \
              worker offers: io.weir.test.TestSourceConnector, test-source, \
              io.weir.test.TestSinkConnector, test-sink)"
            ]
        );
        assert_eq!(
            issues(&[("name", "s")]),
            [
                "connector.class: Missing required configuration \"connector.class\" which has no \
              default value. (hint: set connector.class: The connector plugin: its class, \
              simple class name or alias.)"
            ]
        );
    }

    #[test]
    fn header_converter_reaches_the_transforms_and_its_problems_are_issues() {
        let base = [
            ("name", "s"),
            ("connector.class", "test-sink"),
            ("topics", "t"),
            ("redis.uri", "redis://x"),
            ("transforms", "origin"),
            ("transforms.origin.type", "InsertHeader"),
            ("transforms.origin.header", "origin"),
            ("transforms.origin.value.literal", "weir"),
        ];
        let header_of = |config: &ConnectorConfig| {
            let record = crate::Record::new("t", crate::Data::Null);
            let out = config.transforms.apply(record).unwrap().unwrap();
            out.header("origin").unwrap().value.clone().unwrap()
        };
        assert_eq!(&header_of(&parse(&base).unwrap())[..], b"weir");
        let json = [
            &base[..],
            &[
                (
                    "header.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
                ("header.converter.schemas.enable", "false"),
            ],
        ]
        .concat();
        assert_eq!(&header_of(&parse(&json).unwrap())[..], b"\"weir\"");

        let bad = [
            &base[..],
            &[
                ("header.converter", "SimpleHeaderConvertor"),
                ("transforms.origin.value.literl", "x"),
            ],
        ]
        .concat();
        assert_eq!(
            issues(&bad),
            [
                "header.converter: Unknown converter 'SimpleHeaderConvertor' (hint: did you mean \
                 'SimpleHeaderConverter'?)",
                "transforms.origin.value.literl: Unknown configuration for origin (InsertHeader) \
                 (hint: did you mean transforms.origin.value.literal?)",
            ]
        );
        let unknown_setting = [
            &base[..],
            &[
                ("header.converter", "simple"),
                ("header.converter.encoding", "x"),
            ],
        ]
        .concat();
        assert_eq!(
            issues(&unknown_setting),
            [
                "header.converter.encoding: Unknown configuration 'encoding' for the simple \
                 converter (hint: the simple converter takes no settings)"
            ]
        );
    }

    #[test]
    fn plugin_checks_and_converter_issues_are_included() {
        let found = issues(&[
            ("name", "src"),
            ("connector.class", "TestSourceConnector"),
            ("topic", "logs"),
            ("file.paths", "/a.log"),
            ("multiline.pattern", "("),
            ("value.converter", "avro"),
        ]);
        assert_eq!(
            found,
            [
                "multiline.pattern: unbalanced parenthesis (hint: escape it as \\()",
                "value.converter: Unknown converter 'avro' (hint: use json, string or bytes)",
            ]
        );
    }
}
