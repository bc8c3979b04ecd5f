//! Signals: rows written to the `signal.data.collection` table (`id`, `type`, `data`,
//! read by position as Debezium reads them), which the connector sees as they stream
//! and never emits. They start, stop, pause and resume incremental snapshots
//! (`incremental.rs`), and carry the snapshot's own window markers.
//!
//! A signal's `data` is JSON written by whoever can insert into the table, so it is
//! parsed defensively: anything malformed is a [`SignalError`] that the caller logs,
//! never a failure of the task.

use serde_json::Value;
use sqlx::PgConnection;
use weir_connect::ConnectError;

use super::catalog::{self, query_error, CatalogTable};
use super::config::{PostgresConfig, PublicationMode};
use super::pgoutput::{ColumnValue, Message, OldTuple};

/// The signal types Weir acts on, under Debezium's names.
pub(crate) const EXECUTE_SNAPSHOT: &str = "execute-snapshot";
pub(crate) const STOP_SNAPSHOT: &str = "stop-snapshot";
pub(crate) const PAUSE_SNAPSHOT: &str = "pause-snapshot";
pub(crate) const RESUME_SNAPSHOT: &str = "resume-snapshot";
pub(crate) const WINDOW_OPEN: &str = "snapshot-window-open";
pub(crate) const WINDOW_CLOSE: &str = "snapshot-window-close";

/// The most collections or conditions one signal may name: a signal is a request
/// typed by a person, and this bounds what a bad one makes the connector hold.
const MAX_ENTRIES: usize = 4096;

/// The tables the publication must stream: the captured ones and the signal table,
/// which must exist.
pub(crate) async fn with_signal_table(
    conn: &mut PgConnection,
    config: &PostgresConfig,
    captured: &[CatalogTable],
) -> Result<Vec<CatalogTable>, ConnectError> {
    let mut published = captured.to_vec();
    let Some((schema, name)) = &config.signal_table else {
        return Ok(published);
    };
    let found = catalog::tables(conn)
        .await?
        .into_iter()
        .find(|t| t.schema.eq_ignore_ascii_case(schema) && t.name.eq_ignore_ascii_case(name));
    match found {
        Some(table) => published.push(table),
        None => {
            return Err(ConnectError::user(format!(
                "the signal table {schema}.{name} (signal.data.collection) does not exist: \
                 CREATE TABLE {schema}.{name} (id varchar(42) PRIMARY KEY, type varchar(32) \
                 NOT NULL, data varchar(2048))"
            )))
        }
    }
    Ok(published)
}

/// Refuses a publication that does not stream the signal table: its signals and
/// the snapshot's window markers would never arrive.
pub(crate) async fn check_published(
    conn: &mut PgConnection,
    config: &PostgresConfig,
) -> Result<(), ConnectError> {
    let Some((schema, name)) = &config.signal_table else {
        return Ok(());
    };
    let published: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_publication_tables
                        WHERE pubname = $1 AND lower(schemaname) = lower($2)
                          AND lower(tablename) = lower($3))",
    )
    .bind(&config.publication_name)
    .bind(schema)
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .map_err(query_error("reading the publication's tables"))?;
    if published {
        return Ok(());
    }
    let hint = match config.publication_mode {
        PublicationMode::Disabled => format!(
            "ALTER PUBLICATION \"{}\" ADD TABLE {schema}.{name}",
            config.publication_name
        ),
        _ => format!(
            "ALTER PUBLICATION \"{}\" ADD TABLE {schema}.{name}, or drop the publication for \
             the connector to create it again",
            config.publication_name
        ),
    };
    Err(ConnectError::user(format!(
        "the publication '{}' does not stream the signal table {schema}.{name}: {hint}",
        config.publication_name
    )))
}

/// One row of the signal table, as it streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignalRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) data: Option<String>,
    /// A DELETE of the row (the `insert_delete` strategy closes a window so).
    pub(crate) deleted: bool,
}

impl SignalRow {
    /// The signal a change of the signal table carries; `None` for an update, or a
    /// row without an id.
    pub(crate) fn from_change(message: &Message) -> Option<SignalRow> {
        let (tuple, deleted) = match message {
            Message::Insert { new, .. } => (&new.0, false),
            Message::Delete {
                old: OldTuple::Key(t) | OldTuple::Full(t),
                ..
            } => (&t.0, true),
            _ => return None,
        };
        let text = |i: usize| match tuple.get(i) {
            Some(ColumnValue::Text(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        };
        Some(SignalRow {
            id: text(0)?,
            kind: text(1).unwrap_or_default(),
            data: text(2),
            deleted,
        })
    }
}

/// What a signal asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    ExecuteSnapshot(SnapshotRequest),
    /// Stop the snapshot of these collections (patterns); empty: of all.
    StopSnapshot(Vec<String>),
    PauseSnapshot,
    ResumeSnapshot,
    /// A window marker, with the chunk id it names.
    WindowOpen(String),
    WindowClose(String),
    /// A type Weir does not act on: logged and ignored, as Debezium does.
    Unknown(String),
}

/// An `execute-snapshot` signal's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotRequest {
    /// Regular expressions of `<schema>.<table>` (an exact name matches itself).
    pub(crate) collections: Vec<String>,
    /// `(collection pattern, SQL condition)`, from `additional-conditions`.
    pub(crate) conditions: Vec<(String, String)>,
}

/// Why a signal's data was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignalError {
    #[error("its data is not JSON: {0}")]
    NotJson(String),
    #[error("its data is not a JSON object")]
    NotObject,
    #[error("`{0}` must be an array of strings")]
    NotStrings(&'static str),
    #[error(
        "`additional-conditions` must be an array of {{\"data-collection\": …, \"filter\": …}}"
    )]
    BadCondition,
    #[error("names no data-collections")]
    NoCollections,
    #[error("asks for a `{0}` snapshot; Weir runs `incremental` ones only")]
    UnsupportedType(String),
    #[error("sets `surrogate-key`, which Weir does not offer: the table's primary key is used")]
    SurrogateKey,
    #[error("names more than {MAX_ENTRIES} entries")]
    TooMany,
}

/// Parses a signal's type and data.
pub(crate) fn parse(kind: &str, data: Option<&str>) -> Result<Signal, SignalError> {
    match kind {
        EXECUTE_SNAPSHOT => {
            let object = object(data)?;
            check_type(&object)?;
            if object.get("surrogate-key").is_some_and(|v| !v.is_null()) {
                return Err(SignalError::SurrogateKey);
            }
            let collections = strings(&object, "data-collections")?;
            if collections.is_empty() {
                return Err(SignalError::NoCollections);
            }
            let mut conditions = Vec::new();
            match object.get("additional-conditions") {
                None | Some(Value::Null) => {}
                Some(Value::Array(entries)) => {
                    if entries.len() > MAX_ENTRIES {
                        return Err(SignalError::TooMany);
                    }
                    for entry in entries {
                        let collection = entry.get("data-collection").and_then(Value::as_str);
                        let filter = entry.get("filter").and_then(Value::as_str);
                        match (collection, filter) {
                            (Some(c), Some(f)) if !c.is_empty() => {
                                conditions.push((c.to_string(), f.to_string()))
                            }
                            _ => return Err(SignalError::BadCondition),
                        }
                    }
                }
                Some(_) => return Err(SignalError::BadCondition),
            }
            Ok(Signal::ExecuteSnapshot(SnapshotRequest {
                collections,
                conditions,
            }))
        }
        STOP_SNAPSHOT => {
            // Debezium stops everything when the data is empty or names nothing.
            if data.is_none_or(|d| d.trim().is_empty()) {
                return Ok(Signal::StopSnapshot(Vec::new()));
            }
            let object = object(data)?;
            check_type(&object)?;
            Ok(Signal::StopSnapshot(strings(&object, "data-collections")?))
        }
        PAUSE_SNAPSHOT => Ok(Signal::PauseSnapshot),
        RESUME_SNAPSHOT => Ok(Signal::ResumeSnapshot),
        WINDOW_OPEN => Ok(Signal::WindowOpen(data.unwrap_or_default().to_string())),
        WINDOW_CLOSE => Ok(Signal::WindowClose(data.unwrap_or_default().to_string())),
        other => Ok(Signal::Unknown(other.to_string())),
    }
}

fn object(data: Option<&str>) -> Result<serde_json::Map<String, Value>, SignalError> {
    let text = data.unwrap_or_default();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SignalError::NotObject),
        Err(e) => Err(SignalError::NotJson(e.to_string())),
    }
}

/// `type` is `incremental` when absent, as in Debezium; `blocking` is not offered.
fn check_type(object: &serde_json::Map<String, Value>) -> Result<(), SignalError> {
    match object.get("type") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("incremental") => Ok(()),
        Some(Value::String(t)) => Err(SignalError::UnsupportedType(t.clone())),
        Some(other) => Err(SignalError::UnsupportedType(other.to_string())),
    }
}

fn strings(
    object: &serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<Vec<String>, SignalError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if items.len() > MAX_ENTRIES {
                return Err(SignalError::TooMany);
            }
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    _ => Err(SignalError::NotStrings(field)),
                })
                .collect()
        }
        Some(_) => Err(SignalError::NotStrings(field)),
    }
}

/// A collection pattern as Debezium matches it: the whole `<schema>.<table>`,
/// ignoring case. A pattern that is not a regular expression matches only itself.
pub(crate) fn matches(pattern: &str, qualified: &str) -> bool {
    match regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
    {
        Ok(re) => re.is_match(qualified),
        Err(_) => pattern.eq_ignore_ascii_case(qualified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_snapshot_reads_collections_and_conditions() {
        let signal = parse(
            EXECUTE_SNAPSHOT,
            Some(
                r#"{"data-collections":["public.t1","public.t2"],"type":"incremental",
                   "additional-conditions":[{"data-collection":"public.t1","filter":"color='blue'"}]}"#,
            ),
        )
        .unwrap();
        assert_eq!(
            signal,
            Signal::ExecuteSnapshot(SnapshotRequest {
                collections: vec!["public.t1".into(), "public.t2".into()],
                conditions: vec![("public.t1".into(), "color='blue'".into())],
            })
        );
        // `type` defaults to incremental.
        assert!(matches!(
            parse(EXECUTE_SNAPSHOT, Some(r#"{"data-collections":["a.b"]}"#)),
            Ok(Signal::ExecuteSnapshot(_))
        ));
    }

    #[test]
    fn bad_data_is_an_error_that_says_what_is_wrong() {
        let err = |data: Option<&str>| parse(EXECUTE_SNAPSHOT, data).unwrap_err();
        assert!(matches!(err(Some("{not json")), SignalError::NotJson(_)));
        assert!(matches!(err(None), SignalError::NotJson(_)));
        assert_eq!(err(Some("[1]")), SignalError::NotObject);
        assert_eq!(
            err(Some(r#"{"data-collections":"public.t"}"#)),
            SignalError::NotStrings("data-collections")
        );
        assert_eq!(
            err(Some(r#"{"data-collections":[1]}"#)),
            SignalError::NotStrings("data-collections")
        );
        assert_eq!(
            err(Some(r#"{"data-collections":[]}"#)),
            SignalError::NoCollections
        );
        assert_eq!(
            err(Some(r#"{"data-collections":["a.b"],"type":"blocking"}"#)),
            SignalError::UnsupportedType("blocking".into())
        );
        assert_eq!(
            err(Some(
                r#"{"data-collections":["a.b"],"additional-conditions":[{"filter":"x"}]}"#
            )),
            SignalError::BadCondition
        );
        assert_eq!(
            err(Some(r#"{"data-collections":["a.b"],"surrogate-key":"k"}"#)),
            SignalError::SurrogateKey
        );
        assert!(err(Some("{not json")).to_string().contains("not JSON"));
    }

    #[test]
    fn stop_without_collections_stops_everything() {
        assert_eq!(parse(STOP_SNAPSHOT, None), Ok(Signal::StopSnapshot(vec![])));
        assert_eq!(
            parse(STOP_SNAPSHOT, Some(r#"{"type":"incremental"}"#)),
            Ok(Signal::StopSnapshot(vec![]))
        );
        assert_eq!(
            parse(
                STOP_SNAPSHOT,
                Some(r#"{"data-collections":["public.t1"],"type":"incremental"}"#)
            ),
            Ok(Signal::StopSnapshot(vec!["public.t1".into()]))
        );
    }

    #[test]
    fn other_types_are_unknown_not_errors() {
        assert_eq!(parse("log", Some("{}")), Ok(Signal::Unknown("log".into())));
        assert_eq!(
            parse(PAUSE_SNAPSHOT, Some("garbage")),
            Ok(Signal::PauseSnapshot)
        );
        assert_eq!(
            parse(WINDOW_OPEN, Some("abc")),
            Ok(Signal::WindowOpen("abc".into()))
        );
    }

    #[test]
    fn collections_match_whole_names_as_patterns() {
        assert!(matches("public.t1", "public.t1"));
        assert!(matches("public.T1", "public.t1"));
        assert!(!matches("public.t1", "public.t10"));
        assert!(matches("public\\.t.*", "public.t10"));
        assert!(matches("public.t(", "public.t("));
    }
}
