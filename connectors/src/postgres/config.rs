//! The CDC source's keys, under Debezium's names and with Debezium's defaults, so a
//! Debezium PostgreSQL connector config runs unchanged. A Debezium key Weir does not
//! offer is refused by the runtime with the nearest known key as a hint; a value Weir
//! does not offer (another decoding plugin, TLS modes) is refused here with the reason.

use std::time::Duration;

use weir_connect::config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigType, ConfigValue, Importance, ParsedConfig, Validator,
};
use weir_connect::ConnectError;

use super::filters::{ColumnFilter, TableFilter};
use super::types::{
    BinaryHandling, DecimalHandling, HstoreHandling, IntervalHandling, TimePrecision, TypeOptions,
};

pub(crate) const HOSTNAME: &str = "database.hostname";
pub(crate) const PORT: &str = "database.port";
pub(crate) const USER: &str = "database.user";
pub(crate) const PASSWORD: &str = "database.password";
pub(crate) const DBNAME: &str = "database.dbname";
pub(crate) const SSLMODE: &str = "database.sslmode";
pub(crate) const INITIAL_STATEMENTS: &str = "database.initial.statements";
pub(crate) const TOPIC_PREFIX: &str = "topic.prefix";
pub(crate) const TOPIC_DELIMITER: &str = "topic.delimiter";
pub(crate) const TOPIC_TRANSACTION: &str = "topic.transaction";
pub(crate) const PLUGIN_NAME: &str = "plugin.name";
pub(crate) const SLOT_NAME: &str = "slot.name";
pub(crate) const SLOT_DROP_ON_STOP: &str = "slot.drop.on.stop";
pub(crate) const PUBLICATION_NAME: &str = "publication.name";
pub(crate) const PUBLICATION_AUTOCREATE_MODE: &str = "publication.autocreate.mode";
pub(crate) const SCHEMA_INCLUDE: &str = "schema.include.list";
pub(crate) const SCHEMA_EXCLUDE: &str = "schema.exclude.list";
pub(crate) const TABLE_INCLUDE: &str = "table.include.list";
pub(crate) const TABLE_EXCLUDE: &str = "table.exclude.list";
pub(crate) const COLUMN_INCLUDE: &str = "column.include.list";
pub(crate) const COLUMN_EXCLUDE: &str = "column.exclude.list";
pub(crate) const MESSAGE_KEY_COLUMNS: &str = "message.key.columns";
pub(crate) const SNAPSHOT_MODE: &str = "snapshot.mode";
pub(crate) const SNAPSHOT_FETCH_SIZE: &str = "snapshot.fetch.size";
pub(crate) const MAX_BATCH_SIZE: &str = "max.batch.size";
pub(crate) const MAX_QUEUE_SIZE: &str = "max.queue.size";
pub(crate) const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub(crate) const TOMBSTONES_ON_DELETE: &str = "tombstones.on.delete";
pub(crate) const SKIPPED_OPERATIONS: &str = "skipped.operations";
pub(crate) const PROVIDE_TRANSACTION_METADATA: &str = "provide.transaction.metadata";
pub(crate) const HEARTBEAT_INTERVAL_MS: &str = "heartbeat.interval.ms";
pub(crate) const HEARTBEAT_ACTION_QUERY: &str = "heartbeat.action.query";
pub(crate) const HEARTBEAT_TOPICS_PREFIX: &str = "heartbeat.topics.prefix";
pub(crate) const STATUS_UPDATE_INTERVAL_MS: &str = "status.update.interval.ms";
pub(crate) const DECIMAL_HANDLING_MODE: &str = "decimal.handling.mode";
pub(crate) const TIME_PRECISION_MODE: &str = "time.precision.mode";
pub(crate) const BINARY_HANDLING_MODE: &str = "binary.handling.mode";
pub(crate) const INTERVAL_HANDLING_MODE: &str = "interval.handling.mode";
pub(crate) const HSTORE_HANDLING_MODE: &str = "hstore.handling.mode";
pub(crate) const MONEY_FRACTION_DIGITS: &str = "money.fraction.digits";
pub(crate) const INCLUDE_UNKNOWN_DATATYPES: &str = "include.unknown.datatypes";
pub(crate) const SIGNAL_DATA_COLLECTION: &str = "signal.data.collection";
pub(crate) const SIGNAL_ENABLED_CHANNELS: &str = "signal.enabled.channels";
pub(crate) const INCREMENTAL_SNAPSHOT_CHUNK_SIZE: &str = "incremental.snapshot.chunk.size";
pub(crate) const INCREMENTAL_SNAPSHOT_WATERMARKING_STRATEGY: &str =
    "incremental.snapshot.watermarking.strategy";

const CONNECTION: &str = "Connection";
const CAPTURE: &str = "Capture";
const EVENTS: &str = "Events";
const TYPES: &str = "Types";

/// What `snapshot.mode` asks for, as Debezium's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotMode {
    /// A snapshot when no position is stored, then streaming.
    Initial,
    /// A snapshot on every start, then streaming.
    Always,
    /// A snapshot when no position is stored, and no streaming.
    InitialOnly,
    /// Never a snapshot (Debezium's `no_data`, formerly `never`).
    NoData,
    /// A snapshot when no position is stored or the stored one is gone from the slot.
    WhenNeeded,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicationMode {
    AllTables,
    Filtered,
    /// The publication must exist (Debezium's `disabled` and `no_tables`; Weir never
    /// creates an empty one, which captures nothing).
    Disabled,
}

/// `incremental.snapshot.watermarking.strategy`: how a chunk's window is marked in
/// the signal table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watermarking {
    /// An open row, then a close row.
    InsertInsert,
    /// An open row, deleted to close: the table keeps no markers.
    InsertDelete,
}

/// The typed settings a task runs with.
#[derive(Debug, Clone)]
pub(crate) struct PostgresConfig {
    pub(crate) hostname: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) dbname: String,
    pub(crate) initial_statements: Vec<String>,
    pub(crate) topic_prefix: String,
    pub(crate) topic_delimiter: String,
    pub(crate) topic_transaction: String,
    pub(crate) slot_name: String,
    pub(crate) slot_drop_on_stop: bool,
    pub(crate) publication_name: String,
    pub(crate) publication_mode: PublicationMode,
    pub(crate) tables: TableFilter,
    pub(crate) columns: ColumnFilter,
    /// `message.key.columns`: `(table pattern, columns)`.
    pub(crate) key_columns: Vec<(regex::Regex, Vec<String>)>,
    pub(crate) snapshot_mode: SnapshotMode,
    pub(crate) snapshot_fetch_size: usize,
    pub(crate) max_batch_size: usize,
    pub(crate) max_queue_size: usize,
    pub(crate) poll_interval: Duration,
    pub(crate) tombstones_on_delete: bool,
    pub(crate) skip_truncate: bool,
    pub(crate) skip_create: bool,
    pub(crate) skip_update: bool,
    pub(crate) skip_delete: bool,
    pub(crate) provide_transaction_metadata: bool,
    pub(crate) heartbeat_interval: Option<Duration>,
    pub(crate) heartbeat_action_query: Option<String>,
    pub(crate) heartbeat_topics_prefix: String,
    pub(crate) status_update_interval: Duration,
    pub(crate) types: TypeOptions,
    /// `signal.data.collection` as `(schema, table)`, when signals are read from it.
    pub(crate) signal_table: Option<(String, String)>,
    pub(crate) incremental_chunk_size: usize,
    pub(crate) watermarking: Watermarking,
}

fn key(name: &str, ty: ConfigType, group: &str, doc: &str) -> ConfigKey {
    ConfigKey::new(name, ty, doc).group(group)
}

/// Every key of the CDC source.
pub(crate) fn config_def() -> ConfigDef {
    let positive = Validator::Range {
        min: Some(1.0),
        max: None,
    };
    let non_negative = Validator::Range {
        min: Some(0.0),
        max: None,
    };
    ConfigDef::new()
        .define(
            key(HOSTNAME, ConfigType::String, CONNECTION, "The PostgreSQL server's host name or address.")
                .importance(Importance::High)
                .validator(Validator::NonEmpty),
        )
        .define(key(PORT, ConfigType::Int, CONNECTION, "The PostgreSQL server's port.").default_value("5432").validator(Validator::Range { min: Some(1.0), max: Some(65535.0) }))
        .define(
            key(USER, ConfigType::String, CONNECTION, "The user to connect as: it needs the REPLICATION attribute (or superuser), SELECT on the captured tables, and to create a publication, ownership of them.")
                .importance(Importance::High)
                .validator(Validator::NonEmpty),
        )
        .define(key(PASSWORD, ConfigType::Password, CONNECTION, "The user's password (SCRAM-SHA-256 or cleartext authentication).").default_value(""))
        .define(
            key(DBNAME, ConfigType::String, CONNECTION, "The database to capture.")
                .importance(Importance::High)
                .validator(Validator::NonEmpty),
        )
        .define(
            key(SSLMODE, ConfigType::String, CONNECTION, "Weir connects without TLS: `disable`, or `prefer`/`allow`, which fall back to a plain connection. A mode that requires TLS is refused.")
                .default_value("prefer")
                .validator(Validator::OneOf(&["disable", "allow", "prefer"])),
        )
        .define(key(INITIAL_STATEMENTS, ConfigType::String, CONNECTION, "SQL statements, separated by `;`, run on every new ordinary (not replication) connection.").optional())
        .define(
            key(TOPIC_PREFIX, ConfigType::String, EVENTS, "The prefix of every topic the connector writes: changes go to <topic.prefix>.<schema>.<table>. Also the `name` in each event's source block and the partition of the stored positions.")
                .importance(Importance::High)
                .validator(Validator::NonEmpty),
        )
        .define(key(TOPIC_DELIMITER, ConfigType::String, EVENTS, "What joins the parts of a topic name.").default_value("."))
        .define(key(TOPIC_TRANSACTION, ConfigType::String, EVENTS, "The suffix of the transaction metadata topic, <topic.prefix>.<topic.transaction>.").default_value("transaction"))
        .define(
            key(PLUGIN_NAME, ConfigType::String, CAPTURE, "The logical decoding plugin. Weir reads PostgreSQL's built-in `pgoutput` only.")
                .default_value("pgoutput")
                .validator(Validator::OneOf(&["pgoutput"])),
        )
        .define(key(SLOT_NAME, ConfigType::String, CAPTURE, "The logical replication slot; created at the first start if missing.").default_value("debezium").validator(Validator::Custom(slot_name)))
        .define(key(SLOT_DROP_ON_STOP, ConfigType::Boolean, CAPTURE, "Drop the slot when the task stops, for tests: the next start cannot resume where this one stopped.").default_value("false"))
        .define(key(PUBLICATION_NAME, ConfigType::String, CAPTURE, "The publication the slot streams.").default_value("dbz_publication"))
        .define(
            key(PUBLICATION_AUTOCREATE_MODE, ConfigType::String, CAPTURE, "`all_tables`: create the publication FOR ALL TABLES when missing; `filtered`: create or update it for the included tables; `disabled` (or `no_tables`): it must exist. Tables that cannot publish updates and deletes (no primary key, no replica identity) are reported, never added.")
                .default_value("all_tables")
                .validator(Validator::OneOf(&["all_tables", "filtered", "disabled", "no_tables"])),
        )
        .define(key(SCHEMA_INCLUDE, ConfigType::List, CAPTURE, "Regular expressions of the schemas to capture (whole-name matches).").default_value(""))
        .define(key(SCHEMA_EXCLUDE, ConfigType::List, CAPTURE, "Regular expressions of schemas not to capture.").default_value(""))
        .define(key(TABLE_INCLUDE, ConfigType::List, CAPTURE, "Regular expressions of the tables to capture, as <schema>.<table>.").default_value(""))
        .define(key(TABLE_EXCLUDE, ConfigType::List, CAPTURE, "Regular expressions of tables not to capture, as <schema>.<table>.").default_value(""))
        .define(key(COLUMN_INCLUDE, ConfigType::List, CAPTURE, "Regular expressions of the columns to keep, as <schema>.<table>.<column>.").default_value(""))
        .define(key(COLUMN_EXCLUDE, ConfigType::List, CAPTURE, "Regular expressions of the columns to leave out, as <schema>.<table>.<column>.").default_value(""))
        .define(key(MESSAGE_KEY_COLUMNS, ConfigType::String, EVENTS, "Record keys from other columns than the primary key: `<table regex>:<col>,<col>;…`, e.g. `public.orders:customer_id,no`.").optional().validator(Validator::Custom(key_columns_syntax)))
        .define(
            key(SNAPSHOT_MODE, ConfigType::String, CAPTURE, "`initial`: a snapshot at the first start, then changes; `always`: a snapshot at every start; `initial_only`: a snapshot and no changes; `no_data` (or `never`): changes only; `when_needed`: a snapshot when no position is stored or the stored one is no longer in the slot.")
                .default_value("initial")
                .importance(Importance::High)
                .validator(Validator::OneOf(&["initial", "always", "initial_only", "no_data", "never", "when_needed"])),
        )
        .define(key(SNAPSHOT_FETCH_SIZE, ConfigType::Int, CAPTURE, "Rows read from a table at a time during a snapshot.").default_value("10240").validator(positive.clone()))
        .define(key(MAX_BATCH_SIZE, ConfigType::Int, CAPTURE, "The most events one poll hands to the runtime.").default_value("2048").validator(positive.clone()))
        .define(key(MAX_QUEUE_SIZE, ConfigType::Int, CAPTURE, "The most replication messages buffered ahead of the runtime.").default_value("8192").validator(positive.clone()))
        .define(key(POLL_INTERVAL_MS, ConfigType::Long, CAPTURE, "How long a poll waits for new changes before returning empty.").default_value("500").validator(positive.clone()))
        .define(key(TOMBSTONES_ON_DELETE, ConfigType::Boolean, EVENTS, "Follow each delete event with a tombstone (null value), so compaction can drop the key.").default_value("true"))
        .define(key(SKIPPED_OPERATIONS, ConfigType::List, EVENTS, "Operations not emitted: c (inserts), u (updates), d (deletes), t (truncates), or none.").default_value("t").validator(Validator::Custom(skipped_operations)))
        .define(key(PROVIDE_TRANSACTION_METADATA, ConfigType::Boolean, EVENTS, "Write BEGIN and END events to <topic.prefix>.transaction and a `transaction` block into each change event.").default_value("false"))
        .define(key(HEARTBEAT_INTERVAL_MS, ConfigType::Int, EVENTS, "How often a heartbeat event is written to <heartbeat.topics.prefix>.<topic.prefix>, carrying the current position so the slot advances while captured tables are idle; 0: never.").default_value("0").validator(non_negative.clone()))
        .define(key(HEARTBEAT_ACTION_QUERY, ConfigType::String, EVENTS, "SQL run on each heartbeat, e.g. an insert into a captured heartbeat table, so WAL written by other databases on the server is released too.").optional())
        .define(key(HEARTBEAT_TOPICS_PREFIX, ConfigType::String, EVENTS, "The prefix of the heartbeat topic.").default_value("__debezium-heartbeat"))
        .define(key(STATUS_UPDATE_INTERVAL_MS, ConfigType::Int, CAPTURE, "How often the slot's position is reported to the server.").default_value("10000").validator(positive.clone()))
        .define(key(DECIMAL_HANDLING_MODE, ConfigType::String, TYPES, "numeric and money as `precise` (Connect Decimal bytes), `double` or `string`.").default_value("precise").validator(Validator::OneOf(&["precise", "double", "string"])))
        .define(key(TIME_PRECISION_MODE, ConfigType::String, TYPES, "Temporal values as `adaptive` (Debezium's types by column precision), `adaptive_time_microseconds` or `connect` (Kafka Connect's Date, Time and Timestamp, milliseconds).").default_value("adaptive").validator(Validator::OneOf(&["adaptive", "adaptive_time_microseconds", "connect"])))
        .define(key(BINARY_HANDLING_MODE, ConfigType::String, TYPES, "bytea as `bytes`, `base64`, `base64-url-safe` or `hex`.").default_value("bytes").validator(Validator::OneOf(&["bytes", "base64", "base64-url-safe", "hex"])))
        .define(key(INTERVAL_HANDLING_MODE, ConfigType::String, TYPES, "interval as `numeric` (microseconds) or `string` (ISO 8601).").default_value("numeric").validator(Validator::OneOf(&["numeric", "string"])))
        .define(key(HSTORE_HANDLING_MODE, ConfigType::String, TYPES, "hstore as `json` (a JSON object's text) or `map`.").default_value("json").validator(Validator::OneOf(&["json", "map"])))
        .define(key(MONEY_FRACTION_DIGITS, ConfigType::Int, TYPES, "The scale of money values as decimals.").default_value("2").validator(Validator::Range { min: Some(0.0), max: Some(18.0) }))
        .define(key(INCLUDE_UNKNOWN_DATATYPES, ConfigType::Boolean, TYPES, "Accepted for Debezium configs. Weir always emits columns of types it has no mapping for (extension types) as their text, where Debezium leaves them out unless this is true.").default_value("false"))
        .define(key(SIGNAL_DATA_COLLECTION, ConfigType::String, CAPTURE, "The signal table, <schema>.<table>, with columns id varchar primary key, type varchar, data varchar (in that order). Rows inserted into it start, stop, pause and resume incremental snapshots; the connector writes its window markers there. It must be in the publication, and its rows are never emitted.").optional().validator(Validator::Custom(signal_collection)))
        .define(key(SIGNAL_ENABLED_CHANNELS, ConfigType::List, CAPTURE, "Where signals are read from: `source`, the signal table as it streams.").default_value("source").validator(Validator::Custom(signal_channels)))
        .define(key(INCREMENTAL_SNAPSHOT_CHUNK_SIZE, ConfigType::Int, CAPTURE, "Rows per chunk of an incremental snapshot: each is read in one query and held in memory until the stream passes its window.").default_value("1024").validator(positive))
        .define(key(INCREMENTAL_SNAPSHOT_WATERMARKING_STRATEGY, ConfigType::String, CAPTURE, "How an incremental snapshot marks a chunk's window in the signal table: `insert_insert` (an open and a close row) or `insert_delete` (an open row, deleted to close).").default_value("insert_insert").validator(Validator::OneOf(&["insert_insert", "insert_delete"])))
}

/// `<schema>.<table>`.
fn parse_signal_collection(text: &str) -> Option<(String, String)> {
    let (schema, table) = text.trim().split_once('.')?;
    let valid = |s: &str| !s.is_empty() && !s.contains('.');
    (valid(schema) && valid(table)).then(|| (schema.to_string(), table.to_string()))
}

fn signal_collection(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::Null => Ok(()),
        _ => parse_signal_collection(text(value))
            .map(|_| ())
            .ok_or_else(|| {
                "the signal table is <schema>.<table>, e.g. public.debezium_signal".to_string()
            }),
    }
}

fn signal_channels(value: &ConfigValue) -> Result<(), String> {
    let ConfigValue::List(channels) = value else {
        return Ok(());
    };
    for channel in channels {
        if channel != "source" {
            return Err(format!(
                "the '{channel}' signal channel is not available in Weir: use `source` and \
                 insert signals into the signal.data.collection table"
            ));
        }
    }
    Ok(())
}

fn text(value: &ConfigValue) -> &str {
    match value {
        ConfigValue::String(s) => s,
        _ => "",
    }
}

fn slot_name(value: &ConfigValue) -> Result<(), String> {
    let name = text(value);
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err("a slot name is 1 to 63 lower-case letters, digits and underscores".to_string())
    }
}

fn skipped_operations(value: &ConfigValue) -> Result<(), String> {
    let ConfigValue::List(ops) = value else {
        return Ok(());
    };
    for op in ops {
        if !matches!(op.as_str(), "c" | "u" | "d" | "t" | "none") {
            return Err(format!(
                "'{op}' is not an operation: use c, u, d, t or none"
            ));
        }
    }
    Ok(())
}

fn key_columns_syntax(value: &ConfigValue) -> Result<(), String> {
    parse_key_columns(text(value)).map(|_| ())
}

/// `message.key.columns`: `table-regex:col,col;table-regex:col`.
fn parse_key_columns(text: &str) -> Result<Vec<(regex::Regex, Vec<String>)>, String> {
    let mut out = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (table, columns) = entry
            .rsplit_once(':')
            .ok_or_else(|| format!("'{entry}' is not <table>:<column>[,<column>…]"))?;
        let pattern = regex::Regex::new(&format!("^(?:{})$", table.trim()))
            .map_err(|e| format!("'{table}' is not a regular expression: {e}"))?;
        let columns: Vec<String> = columns
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if columns.is_empty() {
            return Err(format!("'{entry}' names no columns"));
        }
        out.push((pattern, columns));
    }
    Ok(out)
}

/// Checks across keys.
pub(crate) fn validate(config: &ParsedConfig) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    if let Err(e) = TableFilter::from_config(config) {
        issues.push(e);
    }
    if let Err(e) = ColumnFilter::from_config(config) {
        issues.push(e);
    }
    issues
}

impl PostgresConfig {
    pub(crate) fn from_parsed(config: &ParsedConfig) -> Result<PostgresConfig, ConnectError> {
        if let Some(issue) = validate(config).into_iter().next() {
            return Err(ConnectError::user(issue.to_string()));
        }
        let string = |key: &str| config.string(key).unwrap_or_default().to_string();
        let long = |key: &str, default: i64| config.long(key).unwrap_or(default);
        let skipped = config.list(SKIPPED_OPERATIONS);
        let skip = |op: &str| skipped.iter().any(|s| s == op);
        let types = TypeOptions {
            decimal: DecimalHandling::parse(&string(DECIMAL_HANDLING_MODE)).unwrap_or_default(),
            time_precision: TimePrecision::parse(&string(TIME_PRECISION_MODE)).unwrap_or_default(),
            binary: BinaryHandling::parse(&string(BINARY_HANDLING_MODE)).unwrap_or_default(),
            interval: IntervalHandling::parse(&string(INTERVAL_HANDLING_MODE)).unwrap_or_default(),
            hstore: HstoreHandling::parse(&string(HSTORE_HANDLING_MODE)).unwrap_or_default(),
            money_fraction_digits: long(MONEY_FRACTION_DIGITS, 2) as u8,
        };
        let heartbeat_ms = long(HEARTBEAT_INTERVAL_MS, 0);
        Ok(PostgresConfig {
            hostname: string(HOSTNAME),
            port: long(PORT, 5432) as u16,
            user: string(USER),
            password: config
                .password(PASSWORD)
                .map(|s| s.expose().to_string())
                .unwrap_or_default(),
            dbname: string(DBNAME),
            initial_statements: config
                .string(INITIAL_STATEMENTS)
                .map(|s| {
                    s.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            topic_prefix: string(TOPIC_PREFIX),
            topic_delimiter: string(TOPIC_DELIMITER),
            topic_transaction: string(TOPIC_TRANSACTION),
            slot_name: string(SLOT_NAME),
            slot_drop_on_stop: config.boolean(SLOT_DROP_ON_STOP).unwrap_or(false),
            publication_name: string(PUBLICATION_NAME),
            publication_mode: match config.string(PUBLICATION_AUTOCREATE_MODE) {
                Some("filtered") => PublicationMode::Filtered,
                Some("disabled" | "no_tables") => PublicationMode::Disabled,
                _ => PublicationMode::AllTables,
            },
            tables: TableFilter::from_config(config)
                .map_err(|i| ConnectError::user(i.to_string()))?,
            columns: ColumnFilter::from_config(config)
                .map_err(|i| ConnectError::user(i.to_string()))?,
            key_columns: parse_key_columns(config.string(MESSAGE_KEY_COLUMNS).unwrap_or_default())
                .map_err(|m| ConnectError::user(format!("{MESSAGE_KEY_COLUMNS}: {m}")))?,
            snapshot_mode: match config.string(SNAPSHOT_MODE) {
                Some("always") => SnapshotMode::Always,
                Some("initial_only") => SnapshotMode::InitialOnly,
                Some("no_data" | "never") => SnapshotMode::NoData,
                Some("when_needed") => SnapshotMode::WhenNeeded,
                _ => SnapshotMode::Initial,
            },
            snapshot_fetch_size: long(SNAPSHOT_FETCH_SIZE, 10240) as usize,
            max_batch_size: long(MAX_BATCH_SIZE, 2048) as usize,
            max_queue_size: long(MAX_QUEUE_SIZE, 8192) as usize,
            poll_interval: Duration::from_millis(long(POLL_INTERVAL_MS, 500) as u64),
            tombstones_on_delete: config.boolean(TOMBSTONES_ON_DELETE).unwrap_or(true),
            skip_truncate: skip("t"),
            skip_create: skip("c"),
            skip_update: skip("u"),
            skip_delete: skip("d"),
            provide_transaction_metadata: config
                .boolean(PROVIDE_TRANSACTION_METADATA)
                .unwrap_or(false),
            heartbeat_interval: (heartbeat_ms > 0)
                .then(|| Duration::from_millis(heartbeat_ms as u64)),
            heartbeat_action_query: config.string(HEARTBEAT_ACTION_QUERY).map(String::from),
            heartbeat_topics_prefix: string(HEARTBEAT_TOPICS_PREFIX),
            status_update_interval: Duration::from_millis(
                long(STATUS_UPDATE_INTERVAL_MS, 10_000) as u64
            ),
            types,
            signal_table: config
                .string(SIGNAL_DATA_COLLECTION)
                .and_then(parse_signal_collection)
                .filter(|_| {
                    config
                        .list(SIGNAL_ENABLED_CHANNELS)
                        .iter()
                        .any(|c| c == "source")
                }),
            incremental_chunk_size: long(INCREMENTAL_SNAPSHOT_CHUNK_SIZE, 1024) as usize,
            watermarking: match config.string(INCREMENTAL_SNAPSHOT_WATERMARKING_STRATEGY) {
                Some("insert_delete") => Watermarking::InsertDelete,
                _ => Watermarking::InsertInsert,
            },
        })
    }

    /// `<prefix>.<schema>.<table>`.
    pub(crate) fn table_topic(&self, schema: &str, table: &str) -> String {
        let d = &self.topic_delimiter;
        format!("{}{d}{schema}{d}{table}", self.topic_prefix)
    }

    /// The columns `message.key.columns` names for `schema.table`, if any.
    pub(crate) fn key_columns_for(&self, schema: &str, table: &str) -> Option<&[String]> {
        let name = format!("{schema}.{table}");
        self.key_columns
            .iter()
            .find(|(pattern, _)| pattern.is_match(&name))
            .map(|(_, columns)| columns.as_slice())
    }
}
