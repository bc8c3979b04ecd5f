//! The database sink's keys, declared once in a [`ConfigDef`] with the names and
//! defaults of Confluent's JDBC sink (and the Debezium JDBC sink's spellings where they
//! differ), and the typed config a task runs with.

use std::time::Duration;

use weir_connect::config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, ParsedConfig, Secret, Validator,
};

use super::table_name::TableNameFormat;
use super::url::ConnectionUrl;

pub(crate) const URL: &str = "connection.url";
pub(crate) const USERNAME: &str = "connection.username";
pub(crate) const PASSWORD: &str = "connection.password";
pub(crate) const INSERT_MODE: &str = "insert.mode";
pub(crate) const PK_MODE: &str = "primary.key.mode";
pub(crate) const PK_FIELDS: &str = "primary.key.fields";
/// Confluent's spellings of the two keys above.
pub(crate) const PK_MODE_CONFLUENT: &str = "pk.mode";
pub(crate) const PK_FIELDS_CONFLUENT: &str = "pk.fields";
pub(crate) const DELETE_ENABLED: &str = "delete.enabled";
pub(crate) const TABLE_NAME_FORMAT: &str = "table.name.format";
pub(crate) const AUTO_CREATE: &str = "auto.create";
pub(crate) const AUTO_EVOLVE: &str = "auto.evolve";
pub(crate) const SCHEMA_EVOLUTION: &str = "schema.evolution";
pub(crate) const BATCH_SIZE: &str = "batch.size";
pub(crate) const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";
pub(crate) const QUOTE_IDENTIFIERS: &str = "quote.identifiers";
pub(crate) const MAX_RETRIES: &str = "max.retries";
pub(crate) const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";

const GROUP: &str = "JDBC";

/// How a record's row reaches its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertMode {
    /// `INSERT`: a row whose key exists fails.
    Insert,
    /// Insert, or update the row with the same primary key.
    Upsert,
    /// `UPDATE` the row with the same primary key; a missing row is not created.
    Update,
}

/// Where a row's primary key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrimaryKeyMode {
    /// No key: every record is inserted.
    None,
    /// `__connect_topic`, `__connect_partition`, `__connect_offset`.
    Kafka,
    /// The record key: its fields (or one column for a primitive key).
    RecordKey,
    /// Fields of the record value.
    RecordValue,
}

pub(crate) fn config_def() -> ConfigDef {
    let key = |name: &str, ty, doc: &str| ConfigKey::new(name, ty, doc).group(GROUP);
    ConfigDef::new()
        .define(
            key(
                URL,
                ConfigType::String,
                "The database: jdbc:postgresql://host:port/db, jdbc:mysql://…, \
                 jdbc:mariadb://…, postgres://… or mysql://…. Credentials may be query \
                 parameters (user, password) but connection.password is a masked secret.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            key(
                USERNAME,
                ConfigType::String,
                "The database user; the URL's if unset.",
            )
            .optional()
            .importance(Importance::High),
        )
        .define(
            key(
                PASSWORD,
                ConfigType::Password,
                "The database user's password.",
            )
            .optional()
            .importance(Importance::High),
        )
        .define(
            key(
                INSERT_MODE,
                ConfigType::String,
                "insert, upsert (insert or update by primary key) or update.",
            )
            .default_value("insert")
            .importance(Importance::High)
            .validator(Validator::OneOf(&[
                "insert", "upsert", "update", "INSERT", "UPSERT", "UPDATE",
            ])),
        )
        .define(
            key(
                PK_MODE,
                ConfigType::String,
                "Where the primary key comes from: none, kafka (topic, partition, offset), \
                 record_key or record_value. Confluent's pk.mode is accepted too.",
            )
            .optional()
            .importance(Importance::High)
            .validator(Validator::OneOf(PK_MODES)),
        )
        .define(
            key(
                PK_FIELDS,
                ConfigType::List,
                "The primary key's columns: for record_key and record_value, the fields \
                 to use (all when empty); for a primitive record key, its one column name; \
                 for kafka, three column names. Confluent's pk.fields is accepted too.",
            )
            .optional(),
        )
        .define(
            key(
                PK_MODE_CONFLUENT,
                ConfigType::String,
                "Confluent's name of primary.key.mode.",
            )
            .optional()
            .validator(Validator::OneOf(PK_MODES)),
        )
        .define(
            key(
                PK_FIELDS_CONFLUENT,
                ConfigType::List,
                "Confluent's name of primary.key.fields.",
            )
            .optional(),
        )
        .define(
            key(
                DELETE_ENABLED,
                ConfigType::Boolean,
                "Whether a tombstone (null value) or a Debezium delete event deletes the row \
                 by its key. Needs primary.key.mode record_key.",
            )
            .default_value("false"),
        )
        .define(
            key(
                TABLE_NAME_FORMAT,
                ConfigType::String,
                "The table, a template with ${topic} and, for Debezium change events, \
                 ${source.db}, ${source.schema} and ${source.table}.",
            )
            .default_value("${topic}"),
        )
        .define(
            key(
                AUTO_CREATE,
                ConfigType::Boolean,
                "Create a missing table from the record's schema (or its JSON values).",
            )
            .default_value("false"),
        )
        .define(
            key(
                AUTO_EVOLVE,
                ConfigType::Boolean,
                "Add a column that a record has and its table lacks.",
            )
            .default_value("false"),
        )
        .define(
            key(
                SCHEMA_EVOLUTION,
                ConfigType::String,
                "Debezium's name for both: basic creates missing tables and adds missing \
                 columns, none does neither. Unset: auto.create and auto.evolve decide.",
            )
            .optional()
            .validator(Validator::OneOf(&["none", "basic"])),
        )
        .define(
            key(
                BATCH_SIZE,
                ConfigType::Int,
                "Most rows per statement. A transaction holds one runtime batch \
                 (batch.max.records), written as statements of up to this many rows.",
            )
            .default_value("3000")
            .validator(Validator::Range {
                min: Some(1.0),
                max: None,
            }),
        )
        .define(
            key(
                QUOTE_SQL_IDENTIFIERS,
                ConfigType::String,
                "always: table and column names are quoted, so their case is kept; never: \
                 the database folds them.",
            )
            .default_value("always")
            .validator(Validator::OneOf(&["always", "never", "ALWAYS", "NEVER"])),
        )
        .define(
            key(
                QUOTE_IDENTIFIERS,
                ConfigType::Boolean,
                "Debezium's name for quote.sql.identifiers (true = always); wins if set.",
            )
            .optional(),
        )
        .define(
            key(
                MAX_RETRIES,
                ConfigType::Int,
                "How often a batch is tried again when the database cannot be reached \
                 before the task fails.",
            )
            .default_value("10")
            .validator(Validator::Range {
                min: Some(0.0),
                max: None,
            }),
        )
        .define(
            key(
                RETRY_BACKOFF_MS,
                ConfigType::Long,
                "The wait between those tries, in ms.",
            )
            .default_value("3000")
            .validator(Validator::Range {
                min: Some(0.0),
                max: None,
            }),
        )
}

const PK_MODES: &[&str] = &[
    "none",
    "kafka",
    "record_key",
    "record_value",
    "NONE",
    "KAFKA",
    "RECORD_KEY",
    "RECORD_VALUE",
];

/// What a task runs with. `Debug` is safe to log: passwords are [`Secret`]s.
#[derive(Debug, Clone)]
pub(crate) struct JdbcSinkConfig {
    pub(crate) url: ConnectionUrl,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) insert_mode: InsertMode,
    pub(crate) pk_mode: PrimaryKeyMode,
    pub(crate) pk_fields: Vec<String>,
    pub(crate) delete_enabled: bool,
    pub(crate) table_name: TableNameFormat,
    pub(crate) auto_create: bool,
    pub(crate) auto_evolve: bool,
    pub(crate) batch_size: usize,
    pub(crate) quote_identifiers: bool,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
}

impl JdbcSinkConfig {
    /// The typed config, or every problem with it.
    pub(crate) fn from_parsed(config: &ParsedConfig) -> Result<JdbcSinkConfig, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let url = match ConnectionUrl::parse(config.string(URL).unwrap_or_default()) {
            Ok(url) => Some(url),
            Err(message) => {
                issues.push(
                    ConfigIssue::new(URL, format!("Invalid connection.url: {message}"))
                        .with_hint("e.g. jdbc:postgresql://127.0.0.1:5432/shop"),
                );
                None
            }
        };
        let username = config
            .string(USERNAME)
            .map(str::to_string)
            .or_else(|| url.as_ref().and_then(|u| u.username.clone()));
        let password = config
            .password(PASSWORD)
            .cloned()
            .or_else(|| url.as_ref().and_then(|u| u.password.clone()));
        let insert_mode = match config.string(INSERT_MODE).map(str::to_ascii_lowercase) {
            Some(mode) if mode == "upsert" => InsertMode::Upsert,
            Some(mode) if mode == "update" => InsertMode::Update,
            _ => InsertMode::Insert,
        };
        let pk_mode_text = either(config, &mut issues, PK_MODE, PK_MODE_CONFLUENT, |c, k| {
            c.string(k).map(str::to_ascii_lowercase)
        });
        let pk_mode = match pk_mode_text.as_deref() {
            Some("kafka") => PrimaryKeyMode::Kafka,
            Some("record_key") => PrimaryKeyMode::RecordKey,
            Some("record_value") => PrimaryKeyMode::RecordValue,
            _ => PrimaryKeyMode::None,
        };
        let pk_fields = either(
            config,
            &mut issues,
            PK_FIELDS,
            PK_FIELDS_CONFLUENT,
            |c, k| Some(c.list(k).to_vec()).filter(|l| !l.is_empty()),
        )
        .unwrap_or_default();
        let delete_enabled = config.boolean(DELETE_ENABLED).unwrap_or(false);
        if delete_enabled && pk_mode != PrimaryKeyMode::RecordKey {
            issues.push(
                ConfigIssue::new(
                    DELETE_ENABLED,
                    "delete.enabled needs primary.key.mode record_key: a delete names its \
                     row by the record key",
                )
                .with_hint("set primary.key.mode: record_key"),
            );
        }
        if insert_mode != InsertMode::Insert && pk_mode == PrimaryKeyMode::None {
            issues.push(
                ConfigIssue::new(
                    PK_MODE,
                    "insert.mode upsert and update need a primary key, but primary.key.mode \
                     is none",
                )
                .with_hint("set primary.key.mode: record_key (or record_value)"),
            );
        }
        if pk_mode == PrimaryKeyMode::Kafka && !matches!(pk_fields.len(), 0 | 3) {
            issues.push(
                ConfigIssue::new(
                    PK_FIELDS,
                    "primary.key.mode kafka takes three column names (topic, partition, \
                     offset), or none for the defaults",
                )
                .with_hint(
                    "e.g. primary.key.fields: __connect_topic,__connect_partition,__connect_offset",
                ),
            );
        }
        let table_name =
            TableNameFormat::parse(config.string(TABLE_NAME_FORMAT).unwrap_or("${topic}"))
                .map_err(|message| {
                    issues.push(
                        ConfigIssue::new(
                            TABLE_NAME_FORMAT,
                            format!("Invalid table.name.format: {message}"),
                        )
                        .with_hint("e.g. ${topic} or ${source.schema}_${source.table}"),
                    )
                })
                .ok();
        let (auto_create, auto_evolve) = match config.string(SCHEMA_EVOLUTION) {
            Some("basic") => (true, true),
            Some(_) => (false, false),
            None => (
                config.boolean(AUTO_CREATE).unwrap_or(false),
                config.boolean(AUTO_EVOLVE).unwrap_or(false),
            ),
        };
        let quote_identifiers = match config.boolean(QUOTE_IDENTIFIERS) {
            Some(quote) => quote,
            None => !config
                .string(QUOTE_SQL_IDENTIFIERS)
                .is_some_and(|q| q.eq_ignore_ascii_case("never")),
        };
        let batch_size = config.long(BATCH_SIZE).unwrap_or(3000).max(1) as usize;
        let max_retries = config.long(MAX_RETRIES).unwrap_or(10).clamp(0, 1_000_000) as u32;
        let retry_backoff =
            Duration::from_millis(config.long(RETRY_BACKOFF_MS).unwrap_or(3000).max(0) as u64);
        match (url, table_name) {
            (Some(url), Some(table_name)) if issues.is_empty() => Ok(JdbcSinkConfig {
                url,
                username,
                password,
                insert_mode,
                pk_mode,
                pk_fields,
                delete_enabled,
                table_name,
                auto_create,
                auto_evolve,
                batch_size,
                quote_identifiers,
                max_retries,
                retry_backoff,
            }),
            _ => Err(issues),
        }
    }
}

/// The value of a key that has two names, refusing two different values.
fn either<T: PartialEq>(
    config: &ParsedConfig,
    issues: &mut Vec<ConfigIssue>,
    name: &str,
    other: &str,
    read: impl Fn(&ParsedConfig, &str) -> Option<T>,
) -> Option<T> {
    match (read(config, name), read(config, other)) {
        (Some(a), Some(b)) if a != b => {
            issues.push(
                ConfigIssue::new(other, format!("{other} differs from {name}"))
                    .with_hint(format!("set only {name}")),
            );
            Some(a)
        }
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use weir_connect::config::ConfigMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<JdbcSinkConfig, Vec<ConfigIssue>> {
        let props: ConfigMap = weir_connect::config::config_map(pairs);
        let parsed = config_def().parse(&props)?;
        JdbcSinkConfig::from_parsed(&parsed)
    }

    #[test]
    fn defaults_are_confluents() {
        let config = parse(&[(URL, "jdbc:postgresql://h/db")]).unwrap();
        assert_eq!(config.insert_mode, InsertMode::Insert);
        assert_eq!(config.pk_mode, PrimaryKeyMode::None);
        assert_eq!(config.batch_size, 3000);
        assert_eq!(config.max_retries, 10);
        assert_eq!(config.retry_backoff, Duration::from_millis(3000));
        assert!(config.quote_identifiers);
        assert!(!config.auto_create && !config.auto_evolve && !config.delete_enabled);
    }

    #[test]
    fn takes_debezium_and_confluent_spellings() {
        let config = parse(&[
            (URL, "jdbc:mysql://h/db"),
            (PK_MODE_CONFLUENT, "record_key"),
            (PK_FIELDS_CONFLUENT, "id"),
            (INSERT_MODE, "UPSERT"),
            (SCHEMA_EVOLUTION, "basic"),
            (QUOTE_IDENTIFIERS, "false"),
        ])
        .unwrap();
        assert_eq!(config.pk_mode, PrimaryKeyMode::RecordKey);
        assert_eq!(config.pk_fields, ["id"]);
        assert_eq!(config.insert_mode, InsertMode::Upsert);
        assert!(config.auto_create && config.auto_evolve && !config.quote_identifiers);
    }

    #[test]
    fn credentials_come_from_the_keys_or_the_url_and_stay_hidden() {
        let config = parse(&[(URL, "jdbc:postgresql://h/db?user=app&password=s3cret")]).unwrap();
        assert_eq!(config.username.as_deref(), Some("app"));
        assert_eq!(config.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{config:?}").contains("s3cret"));
        let config = parse(&[
            (URL, "jdbc:postgresql://h/db?user=app"),
            (USERNAME, "ops"),
            (PASSWORD, "pw"),
        ])
        .unwrap();
        assert_eq!(config.username.as_deref(), Some("ops"));
    }

    #[test]
    fn reports_every_inconsistent_setting() {
        let issues = parse(&[
            (URL, "jdbc:db2://h/db"),
            (DELETE_ENABLED, "true"),
            (INSERT_MODE, "upsert"),
            (TABLE_NAME_FORMAT, "${nope}"),
        ])
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, [URL, DELETE_ENABLED, PK_MODE, TABLE_NAME_FORMAT]);
        let issues = parse(&[
            (URL, "jdbc:postgresql://h/db"),
            (PK_MODE, "record_key"),
            (PK_MODE_CONFLUENT, "kafka"),
        ])
        .unwrap_err();
        assert_eq!(issues[0].key, PK_MODE_CONFLUENT);
    }
}
