//! Broker-level configuration, in Kafka's `server.properties` vocabulary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::group::GroupConfig;
use crate::metadata::topic_config::{validate_value, ConfigType, TOPIC_CONFIGS};
use crate::metadata::{ConfigError, TopicDefaults};
use crate::txn::TxnConfig;

/// Kafka's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_REQUEST_MAX_BYTES: usize = 100 * 1024 * 1024;
/// Default `max.connections`. Kafka's is unlimited (2147483647); a broker that runs
/// out of file descriptors fails every client, so Weir caps at a number a default
/// `ulimit -n` raised for a server can hold.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default `max.connections.per.ip`. Kafka's is unlimited; one misbehaving client
/// host should not be able to take every slot.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 1_000;
/// Kafka's default `connections.max.idle.ms`: 10 minutes.
pub const DEFAULT_CONNECTIONS_MAX_IDLE: Duration = Duration::from_millis(600_000);
/// Default `weir.max.in.flight.requests.per.connection`.
pub const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION: usize = 64;
/// Default `weir.decompressed.max.bytes`: 64 MiB.
pub const DEFAULT_DECOMPRESSED_MAX_BYTES: usize = 64 * 1024 * 1024;

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
    /// `max.connections`: connections held at once, from all clients. One more is
    /// accepted and closed at once.
    pub max_connections: usize,
    /// `max.connections.per.ip`: connections held at once from one client address.
    pub max_connections_per_ip: usize,
    /// `max.connections.per.ip.overrides`: per-address exceptions, `ip:count,…`.
    pub max_connections_per_ip_overrides: HashMap<IpAddr, usize>,
    /// `connections.max.idle.ms`: a connection with no request in progress and no
    /// bytes read or written for this long is closed; `None` (-1) never.
    pub connections_max_idle: Option<Duration>,
    /// `weir.max.in.flight.requests.per.connection`: requests of one connection
    /// started but not yet answered. At the limit the connection stops reading (the
    /// client's sends back up in TCP) until a response leaves. Kafka's
    /// `queued.max.requests` bounds one broker-wide queue, which Weir does not have.
    pub max_in_flight_per_connection: usize,
    /// `weir.decompressed.max.bytes`: the most bytes the broker inflates one
    /// compressed batch to when it must look inside (log compaction); a batch that
    /// would inflate further is left as it is. Not yet passed to the cleaner, whose
    /// built-in cap (`CleanerLimits::default`) has the same value.
    pub decompressed_max_bytes: usize,
    /// `weir.fetch.zero.copy.enable`: fetched records go from the segment files to
    /// the socket with `sendfile(2)`, never through a buffer of the broker's. `false`
    /// reads them into a buffer first (`pread`, then `write`), the path a transport
    /// that must see the bytes (TLS) takes; kept selectable so both can be measured.
    pub fetch_zero_copy: bool,
    /// `log.retention.check.interval.ms`
    pub retention_check_interval: Duration,
    /// Broker-level defaults of topic configs (`log.retention.ms`, `log.segment.bytes`, …).
    pub topic_defaults: TopicDefaults,
    /// The group coordinator's settings (`offsets.*`, `group.*`).
    pub group: GroupConfig,
    /// The transaction coordinator's settings (`transaction.*`, `transactional.id.*`).
    pub txn: TxnConfig,
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
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_connections_per_ip_overrides: HashMap::new(),
            connections_max_idle: Some(DEFAULT_CONNECTIONS_MAX_IDLE),
            max_in_flight_per_connection: DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
            decompressed_max_bytes: DEFAULT_DECOMPRESSED_MAX_BYTES,
            fetch_zero_copy: true,
            retention_check_interval: Duration::from_millis(300_000),
            topic_defaults: TopicDefaults::default(),
            group: GroupConfig::default(),
            txn: TxnConfig::default(),
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
            "max.connections" => self.max_connections = int(0)? as usize,
            "max.connections.per.ip" => self.max_connections_per_ip = int(0)? as usize,
            "max.connections.per.ip.overrides" => {
                self.max_connections_per_ip_overrides = parse_ip_overrides(key, value)?;
            }
            "connections.max.idle.ms" => {
                let ms = long(-1)?;
                if ms == 0 {
                    return Err(ConfigError::Invalid {
                        name: key.to_owned(),
                        value: value.to_owned(),
                        reason: "must be positive, or -1 to never close idle connections"
                            .to_owned(),
                    });
                }
                self.connections_max_idle = u64::try_from(ms).ok().map(Duration::from_millis);
            }
            "weir.max.in.flight.requests.per.connection" => {
                self.max_in_flight_per_connection = int(1)? as usize;
            }
            "weir.decompressed.max.bytes" => self.decompressed_max_bytes = int(1)? as usize,
            "weir.fetch.zero.copy.enable" => {
                validate_value(key, ConfigType::Bool, value)?;
                self.fetch_zero_copy = value == "true";
            }
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
            "transaction.max.timeout.ms" => self.txn.max_timeout_ms = int(1)? as i32,
            "transaction.state.log.num.partitions" => {
                self.txn.state_log_partitions = int(1)? as i32
            }
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.txn.abort_timed_out_interval = Duration::from_millis(int(1)? as u64)
            }
            "transactional.id.expiration.ms" => self.txn.transactional_id_expiration_ms = int(1)?,
            "transaction.remove.expired.transaction.cleanup.interval.ms" => {
                self.txn.remove_expired_interval = Duration::from_millis(int(1)? as u64)
            }
            "producer.id.expiration.ms" => {
                self.topic_defaults.set_producer_id_expiration_ms(int(1)?)
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
                "max.connections".to_owned(),
                self.max_connections.to_string(),
            ),
            (
                "max.connections.per.ip".to_owned(),
                self.max_connections_per_ip.to_string(),
            ),
            (
                "max.connections.per.ip.overrides".to_owned(),
                format_ip_overrides(&self.max_connections_per_ip_overrides),
            ),
            (
                "connections.max.idle.ms".to_owned(),
                self.connections_max_idle
                    .map_or("-1".to_owned(), |idle| idle.as_millis().to_string()),
            ),
            (
                "weir.max.in.flight.requests.per.connection".to_owned(),
                self.max_in_flight_per_connection.to_string(),
            ),
            (
                "weir.decompressed.max.bytes".to_owned(),
                self.decompressed_max_bytes.to_string(),
            ),
            (
                "weir.fetch.zero.copy.enable".to_owned(),
                self.fetch_zero_copy.to_string(),
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
            (
                "transaction.max.timeout.ms".to_owned(),
                self.txn.max_timeout_ms.to_string(),
            ),
            (
                "transaction.state.log.num.partitions".to_owned(),
                self.txn.state_log_partitions.to_string(),
            ),
            (
                "transaction.abort.timed.out.transaction.cleanup.interval.ms".to_owned(),
                self.txn.abort_timed_out_interval.as_millis().to_string(),
            ),
            (
                "transactional.id.expiration.ms".to_owned(),
                self.txn.transactional_id_expiration_ms.to_string(),
            ),
            (
                "transaction.remove.expired.transaction.cleanup.interval.ms".to_owned(),
                self.txn.remove_expired_interval.as_millis().to_string(),
            ),
            (
                "producer.id.expiration.ms".to_owned(),
                self.topic_defaults.producer_id_expiration_ms().to_string(),
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

/// Parses Kafka's `max.connections.per.ip.overrides`: `ip:count` pairs separated by
/// commas (IPv6 addresses in brackets or bare; the count follows the last colon).
/// Host names are not resolved, so only addresses are accepted.
fn parse_ip_overrides(key: &str, value: &str) -> Result<HashMap<IpAddr, usize>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: key.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let mut overrides = HashMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (ip, count) = entry
            .rsplit_once(':')
            .ok_or_else(|| invalid(format!("'{entry}' is not ip:count")))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| invalid(format!("'{ip}' is not an IP address")))?;
        let count = count
            .parse()
            .map_err(|_| invalid(format!("'{count}' is not a connection count")))?;
        overrides.insert(ip, count);
    }
    Ok(overrides)
}

fn format_ip_overrides(overrides: &HashMap<IpAddr, usize>) -> String {
    let mut entries: Vec<String> = overrides
        .iter()
        .map(|(ip, count)| match ip {
            IpAddr::V4(_) => format!("{ip}:{count}"),
            IpAddr::V6(_) => format!("[{ip}]:{count}"),
        })
        .collect();
    entries.sort();
    entries.join(",")
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
        assert!(config.set("connections.max.idle.ms", "0").is_err());
        assert!(config.set("max.connections", "-1").is_err());
        assert!(config
            .set("max.connections.per.ip.overrides", "host:3")
            .is_err());
        assert!(config
            .set("weir.max.in.flight.requests.per.connection", "0")
            .is_err());
        assert!(config.set("weir.fetch.zero.copy.enable", "yes").is_err());
    }

    #[test]
    fn zero_copy_fetch_is_on_by_default_and_can_be_turned_off() {
        let mut config = BrokerConfig::new("/tmp/x");
        assert!(config.fetch_zero_copy);
        config.set("weir.fetch.zero.copy.enable", "false").unwrap();
        assert!(!config.fetch_zero_copy);
        let entries = config.entries();
        assert!(entries.contains(&("weir.fetch.zero.copy.enable".into(), "false".into())));
    }

    #[test]
    fn connection_limits_have_kafka_keys_and_defaults() {
        let mut config = BrokerConfig::new("/tmp/x");
        assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(config.max_connections_per_ip, 1_000);
        assert_eq!(config.connections_max_idle, Some(Duration::from_secs(600)));
        config.set("max.connections", "50").unwrap();
        config.set("max.connections.per.ip", "5").unwrap();
        config
            .set("max.connections.per.ip.overrides", "127.0.0.1:100, [::1]:7")
            .unwrap();
        config.set("connections.max.idle.ms", "-1").unwrap();
        config
            .set("weir.max.in.flight.requests.per.connection", "4")
            .unwrap();
        config
            .set("weir.decompressed.max.bytes", "1048576")
            .unwrap();
        assert_eq!(config.max_connections, 50);
        assert_eq!(config.max_connections_per_ip, 5);
        assert_eq!(
            config.max_connections_per_ip_overrides,
            HashMap::from([
                ("127.0.0.1".parse().unwrap(), 100),
                ("::1".parse().unwrap(), 7)
            ])
        );
        assert_eq!(config.connections_max_idle, None);
        assert_eq!(config.max_in_flight_per_connection, 4);
        assert_eq!(config.decompressed_max_bytes, 1 << 20);
        let entries = config.entries();
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("connections.max.idle.ms").as_deref(), Some("-1"));
        assert_eq!(
            get("max.connections.per.ip.overrides").as_deref(),
            Some("127.0.0.1:100,[::1]:7")
        );
    }
}
