//! Flags and helpers shared by every client command: where the cluster is, raw
//! librdkafka settings, and how Kafka errors are named in messages.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

/// Connection flags common to all client commands.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientArgs {
    /// Bootstrap broker(s), `host:port[,host:port...]`.
    /// (localhost:9092 when not given here or, for a Connect worker, in its
    /// properties file.)
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "WEIR_BOOTSTRAP",
        global = true
    )]
    pub(crate) bootstrap_server: Option<String>,
    /// A librdkafka setting, `key=value`; repeatable, applied last.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value, global = true)]
    pub(crate) config: Vec<(String, String)>,
}

impl ClientArgs {
    pub(crate) const DEFAULT_BOOTSTRAP: &'static str = "localhost:9092";

    /// The bootstrap servers given, or the default.
    pub(crate) fn bootstrap(&self) -> &str {
        self.bootstrap_server
            .as_deref()
            .unwrap_or(ClientArgs::DEFAULT_BOOTSTRAP)
    }

    /// A client configuration: `defaults` first, then the bootstrap servers, then `-X`.
    pub(crate) fn config_with(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        config.set("bootstrap.servers", self.bootstrap());
        for (key, value) in &self.config {
            config.set(key, value);
        }
        config
    }

    /// A consumer config for reading assigned partitions without a consumer group,
    /// with `extra` defaults.
    ///
    /// librdkafka's `assign()` needs a group handle even when nothing joins or commits,
    /// so the consumer gets a private `group.id` that is never joined (no subscribe)
    /// and never committed to (auto commit and offset store off).
    pub(crate) fn groupless_consumer_config(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let group = format!("weir-cli-{}", std::process::id());
        let mut defaults = vec![
            ("group.id", group.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ];
        defaults.extend_from_slice(extra);
        self.config_with(&defaults)
    }
}

/// Record batch compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The librdkafka `compression.type` value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Producer acknowledgements: `0`, `1` or `all` (`-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Acks {
    #[value(name = "0")]
    None,
    #[value(name = "1")]
    Leader,
    #[value(name = "all", alias = "-1")]
    All,
}

impl Acks {
    /// The librdkafka `acks` value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// Parses `key=value` (the value may itself contain `=`).
pub(crate) fn parse_key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected key=value, got {arg:?}")),
    }
}

/// Kafka's name for an error code, e.g. `TOPIC_ALREADY_EXISTS`.
///
/// rdkafka's code enum uses the same words as Kafka's `Errors` enum in CamelCase, so the
/// name is derived from the variant name rather than kept in a second table.
pub(crate) fn error_name(code: RDKafkaErrorCode) -> String {
    let camel = format!("{code:?}");
    let mut name = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// `NAME (description)` for an error code, e.g.
/// `TOPIC_ALREADY_EXISTS (Broker: Topic already exists)`.
pub(crate) fn describe_code(code: RDKafkaErrorCode) -> String {
    // rdkafka displays a code as `Variant (description)`; keep only the description.
    let shown = code.to_string();
    let variant = format!("{code:?} (");
    let description = shown
        .strip_prefix(&variant)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(&shown);
    format!("{} ({description})", error_name(code))
}

/// A Kafka error as one line, named as Kafka names it when it carries a code, e.g.
/// `MESSAGE_TIMED_OUT (Local: Message timed out)`.
pub(crate) fn describe_error(err: &KafkaError) -> String {
    let code = match err {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    };
    match code {
        Some(code) => describe_code(code),
        None => err.to_string(),
    }
}

/// Wraps a Kafka error into an `anyhow` error with context, keeping the Kafka name.
pub(crate) fn kafka_error(context: impl std::fmt::Display, err: &KafkaError) -> anyhow::Error {
    anyhow::anyhow!("{context}: {}", describe_error(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_match_kafka() {
        assert_eq!(
            error_name(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::UnknownTopicOrPartition),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
    }

    #[test]
    fn key_value_splits_at_first_equals() {
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}
