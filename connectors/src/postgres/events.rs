//! Debezium's change events: the envelope (`before`, `after`, `source`, `op`,
//! `ts_ms`…), the `source` block, and the other events a PostgreSQL connector writes —
//! transaction metadata, heartbeats and logical decoding messages.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{json, Value};
use weir_connect::converter::base64;
use weir_connect::{Data, Header, Record, Schema};

use super::json_text;
use super::table::Table;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub(crate) const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// What `source.snapshot` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotMarker {
    /// A streamed change.
    False,
    /// A snapshot read; `First`/`Last` mark the snapshot's first and last, the
    /// `…InTable` forms the first and last of each table.
    True,
    First,
    FirstInTable,
    LastInTable,
    Last,
    /// A row an incremental snapshot read while streaming.
    Incremental,
}

impl SnapshotMarker {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInTable => "first_in_data_collection",
            SnapshotMarker::LastInTable => "last_in_data_collection",
            SnapshotMarker::Last => "last",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// Where and when a change happened, for the `source` block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceInfo {
    /// Commit time, microseconds since the Unix epoch.
    pub(crate) ts_us: i64,
    pub(crate) tx_id: Option<u32>,
    /// The change's own WAL position.
    pub(crate) lsn: Option<u64>,
    /// The previous transaction's commit, the first half of `sequence`.
    pub(crate) last_commit_lsn: Option<u64>,
    pub(crate) snapshot: SnapshotMarker,
}

/// What every event of one connector shares.
#[derive(Debug)]
pub(crate) struct EventContext {
    pub(crate) prefix: String,
    /// `{"version":…,"connector":"postgresql","name":…,"ts_ms":`, the `source`
    /// block's constant start.
    source_start: Box<[u8]>,
    /// `,"db":…,"sequence":`.
    source_db: Box<[u8]>,
}

/// One change event's parts: `op` is c, u, d, r or t; `key`, `before` and `after`
/// are JSON text.
#[derive(Debug)]
pub(crate) struct Change<'a> {
    pub(crate) op: &'static str,
    pub(crate) key: Option<Bytes>,
    pub(crate) before: Option<&'a [u8]>,
    pub(crate) after: Option<&'a [u8]>,
    /// With `provide.transaction.metadata`: the transaction's id and the event's order
    /// in it and in its table.
    pub(crate) transaction: Option<(&'a str, u64, u64)>,
}

/// The Connect schema of the `source` block, as `field`.
pub(crate) fn source_schema(field: &str) -> Value {
    let string =
        |name: &str, optional: bool| json!({"type": "string", "optional": optional, "field": name});
    let int64 =
        |name: &str, optional: bool| json!({"type": "int64", "optional": optional, "field": name});
    json!({
        "type": "struct",
        "fields": [
            string("version", false),
            string("connector", false),
            string("name", false),
            int64("ts_ms", false),
            {
                "type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
                "parameters": {"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
                "default": "false", "field": "snapshot",
            },
            string("db", false),
            string("sequence", true),
            int64("ts_us", true),
            int64("ts_ns", true),
            string("schema", false),
            string("table", false),
            int64("txId", true),
            int64("lsn", true),
            int64("xmin", true),
        ],
        "optional": false,
        "name": "io.debezium.connector.postgresql.Source",
        "field": field,
    })
}

/// The version reported in `source.version`.
const VERSION: &str = concat!("weir-", env!("CARGO_PKG_VERSION"));

impl EventContext {
    pub(crate) fn new(prefix: &str, database: &str) -> EventContext {
        let mut start = b"{\"version\":".to_vec();
        json_text::string(&mut start, VERSION);
        start.extend_from_slice(b",\"connector\":\"postgresql\",\"name\":");
        json_text::string(&mut start, prefix);
        start.extend_from_slice(b",\"ts_ms\":");
        let mut db = b",\"db\":".to_vec();
        json_text::string(&mut db, database);
        db.extend_from_slice(b",\"sequence\":");
        EventContext {
            prefix: prefix.to_owned(),
            source_start: start.into_boxed_slice(),
            source_db: db.into_boxed_slice(),
        }
    }

    /// The `source` block, its fields in the order of its schema. `table_fields` is
    /// `,"schema":…,"table":…`.
    fn write_source(&self, out: &mut Vec<u8>, table_fields: &[u8], at: &SourceInfo) {
        out.extend_from_slice(&self.source_start);
        json_text::int(out, at.ts_us.div_euclid(1000));
        out.extend_from_slice(b",\"snapshot\":\"");
        out.extend_from_slice(at.snapshot.as_str().as_bytes());
        out.push(b'"');
        out.extend_from_slice(&self.source_db);
        // A JSON string holding `["<last commit>","<lsn>"]`, nulls where unknown.
        out.extend_from_slice(b"\"[");
        for (i, lsn) in [at.last_commit_lsn, at.lsn].into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match lsn {
                Some(lsn) => {
                    out.extend_from_slice(b"\\\"");
                    json_text::uint(out, lsn);
                    out.extend_from_slice(b"\\\"");
                }
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"]\",\"ts_us\":");
        json_text::int(out, at.ts_us);
        out.extend_from_slice(b",\"ts_ns\":");
        json_text::int(out, at.ts_us.saturating_mul(1000));
        out.extend_from_slice(table_fields);
        out.extend_from_slice(b",\"txId\":");
        json_text::opt_uint(out, at.tx_id.map(u64::from));
        out.extend_from_slice(b",\"lsn\":");
        json_text::opt_uint(out, at.lsn);
        out.extend_from_slice(b",\"xmin\":null}");
    }

    /// A change event for `table`, its fields in the order of the envelope's schema.
    pub(crate) fn change(&self, table: &Table, change: Change<'_>, at: &SourceInfo) -> Record {
        let now_us = now_us();
        let rows = change.before.map_or(0, <[u8]>::len) + change.after.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(rows + 512);
        out.extend_from_slice(b"{\"before\":");
        json_text::opt_raw(&mut out, change.before);
        out.extend_from_slice(b",\"after\":");
        json_text::opt_raw(&mut out, change.after);
        out.extend_from_slice(b",\"source\":");
        self.write_source(&mut out, &table.source_fields, at);
        out.extend_from_slice(b",\"transaction\":");
        match change.transaction {
            Some((id, total, in_table)) => {
                out.extend_from_slice(b"{\"id\":");
                json_text::string(&mut out, id);
                out.extend_from_slice(b",\"total_order\":");
                json_text::uint(&mut out, total);
                out.extend_from_slice(b",\"data_collection_order\":");
                json_text::uint(&mut out, in_table);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"op\":\"");
        out.extend_from_slice(change.op.as_bytes());
        out.extend_from_slice(b"\",\"ts_ms\":");
        json_text::int(&mut out, now_us / 1000);
        out.extend_from_slice(b",\"ts_us\":");
        json_text::int(&mut out, now_us);
        out.extend_from_slice(b",\"ts_ns\":");
        json_text::int(&mut out, now_us.saturating_mul(1000));
        out.push(b'}');
        let mut record = Record::new(table.topic.clone(), Data::JsonText(Bytes::from(out)));
        record.key = change.key.map_or(Data::Null, Data::JsonText);
        record.key_schema = table.key_schema.clone();
        record.value_schema = Some(table.envelope_schema.clone());
        record.timestamp = Some(now_us / 1000);
        record
    }

    /// The tombstone that follows a delete when `tombstones.on.delete` is on.
    pub(crate) fn tombstone(&self, delete: &Record) -> Record {
        let mut record = Record::new(delete.topic.clone(), Data::Null);
        record.key = delete.key.clone();
        record.key_schema = delete.key_schema.clone();
        record.timestamp = delete.timestamp;
        record
    }

    /// A truncate event (`op` t): no key, no rows.
    pub(crate) fn truncate(&self, table: &Table, at: &SourceInfo) -> Record {
        let change = Change {
            op: "t",
            key: None,
            before: None,
            after: None,
            transaction: None,
        };
        let mut record = self.change(table, change, at);
        record.key_schema = None;
        record
    }

    /// A logical decoding message (`pg_logical_emit_message`), `op` m, on
    /// `<prefix>.message` keyed by its prefix.
    pub(crate) fn message(
        &self,
        topic: &str,
        prefix: &str,
        content: &[u8],
        at: &SourceInfo,
    ) -> Record {
        let now_us = now_us();
        let mut value = b"{\"op\":\"m\",\"ts_ms\":".to_vec();
        json_text::int(&mut value, now_us / 1000);
        value.extend_from_slice(b",\"source\":");
        self.write_source(&mut value, b",\"schema\":\"\",\"table\":\"\"", at);
        value.extend_from_slice(b",\"message\":{\"prefix\":");
        json_text::string(&mut value, prefix);
        value.extend_from_slice(b",\"content\":");
        json_text::string(&mut value, &base64(content));
        value.extend_from_slice(b"}}");
        let mut record = Record::new(topic, Data::JsonText(Bytes::from(value)));
        record.key = Data::Json(json!({"prefix": prefix}));
        record.key_schema = Some(message_key_schema());
        record.value_schema = Some(message_value_schema());
        record.timestamp = Some(now_us / 1000);
        record
    }

    /// A heartbeat on `<heartbeat.topics.prefix>.<prefix>`.
    pub(crate) fn heartbeat(&self, topic: &str) -> Record {
        let now_ms = now_us() / 1000;
        let mut record = Record::new(topic, Data::Json(json!({"ts_ms": now_ms})));
        record.key = Data::Json(json!({"serverName": self.prefix}));
        record.key_schema = Some(static_schema(&HEARTBEAT_KEY, || {
            json!({"type": "struct", "fields": [{"type": "string", "optional": false, "field": "serverName"}],
                   "optional": false, "name": "io.debezium.connector.common.ServerNameKey"})
        }));
        record.value_schema = Some(static_schema(&HEARTBEAT_VALUE, || {
            json!({"type": "struct", "fields": [{"type": "int64", "optional": false, "field": "ts_ms"}],
                   "optional": false, "name": "io.debezium.connector.common.Heartbeat"})
        }));
        record.timestamp = Some(now_ms);
        record
    }

    /// A transaction's BEGIN (`end` None) or END event, on `<prefix>.transaction`.
    pub(crate) fn transaction(
        &self,
        topic: &str,
        id: &str,
        ts_us: i64,
        end: Option<(u64, &[(String, u64)])>,
    ) -> Record {
        let (status, count, collections) = match end {
            None => ("BEGIN", Value::Null, Value::Null),
            Some((count, per_table)) => (
                "END",
                json!(count),
                Value::Array(
                    per_table
                        .iter()
                        .map(|(name, n)| json!({"data_collection": name, "event_count": n}))
                        .collect(),
                ),
            ),
        };
        let value = json!({
            "status": status,
            "id": id,
            "event_count": count,
            "data_collections": collections,
            "ts_ms": ts_us.div_euclid(1000),
        });
        let mut record = Record::new(topic, Data::Json(value));
        record.key = Data::Json(json!({"id": id}));
        record.key_schema = Some(static_schema(&TRANSACTION_KEY, || {
            json!({"type": "struct", "fields": [{"type": "string", "optional": false, "field": "id"}],
                   "optional": false, "name": "io.debezium.connector.common.TransactionMetadataKey"})
        }));
        record.value_schema = Some(static_schema(&TRANSACTION_VALUE, transaction_value_schema));
        record.timestamp = Some(ts_us.div_euclid(1000));
        record
    }
}

/// The header a primary-key change's delete carries (`__debezium.newkey`) or its
/// create (`__debezium.oldkey`): the other key, as JSON text.
pub(crate) fn key_header(name: &str, key: &[u8]) -> Header {
    Header::new(name, String::from_utf8_lossy(key).into_owned())
}

pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

static HEARTBEAT_KEY: OnceLock<Schema> = OnceLock::new();
static HEARTBEAT_VALUE: OnceLock<Schema> = OnceLock::new();
static TRANSACTION_KEY: OnceLock<Schema> = OnceLock::new();
static TRANSACTION_VALUE: OnceLock<Schema> = OnceLock::new();
static MESSAGE_KEY: OnceLock<Schema> = OnceLock::new();
static MESSAGE_VALUE: OnceLock<Schema> = OnceLock::new();

fn static_schema(cell: &'static OnceLock<Schema>, make: fn() -> Value) -> Schema {
    cell.get_or_init(|| Schema::new(make())).clone()
}

fn message_key_schema() -> Schema {
    static_schema(&MESSAGE_KEY, || {
        json!({"type": "struct", "fields": [{"type": "string", "optional": true, "field": "prefix"}],
               "optional": false, "name": "io.debezium.connector.postgresql.MessageKey"})
    })
}

fn message_value_schema() -> Schema {
    static_schema(&MESSAGE_VALUE, || {
        json!({
            "type": "struct",
            "fields": [
                {"type": "string", "optional": false, "field": "op"},
                {"type": "int64", "optional": true, "field": "ts_ms"},
                source_schema("source"),
                {"type": "struct", "fields": [
                    {"type": "string", "optional": false, "field": "prefix"},
                    {"type": "bytes", "optional": true, "field": "content"},
                 ], "optional": true, "name": "io.debezium.connector.postgresql.Message", "field": "message"},
            ],
            "optional": false,
            "name": "io.debezium.connector.postgresql.MessageValue",
        })
    })
}

fn transaction_value_schema() -> Value {
    json!({
        "type": "struct",
        "fields": [
            {"type": "string", "optional": false, "field": "status"},
            {"type": "string", "optional": false, "field": "id"},
            {"type": "int64", "optional": true, "field": "event_count"},
            {"type": "array", "items": {"type": "struct", "fields": [
                {"type": "string", "optional": false, "field": "data_collection"},
                {"type": "int64", "optional": false, "field": "event_count"},
             ], "optional": false}, "optional": true, "field": "data_collections"},
            {"type": "int64", "optional": false, "field": "ts_ms"},
        ],
        "optional": false,
        "name": "io.debezium.connector.common.TransactionMetadataValue",
        "version": 1,
    })
}

#[cfg(test)]
mod tests {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;

    use super::*;
    use crate::postgres::table::Column;
    use crate::postgres::types::{ColumnMapping, PgType, TypeKind, TypeOptions};

    fn column(name: &str, oid: u32, type_name: &str) -> Column {
        let ty = PgType {
            oid,
            name: type_name.to_owned(),
            kind: TypeKind::Base,
        };
        let mapping = ColumnMapping::new(&ty, -1, &TypeOptions::default());
        Column::new(name.to_owned(), mapping, true, true)
    }

    /// An object's field names in the order the text has them.
    fn field_order(text: &[u8]) -> Vec<String> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, _)) = map.next_entry::<String, Box<RawValue>>()? {
                    keys.push(key);
                }
                Ok(keys)
            }
        }
        serde_json::Deserializer::from_slice(text)
            .deserialize_map(Keys)
            .unwrap()
    }

    fn text(data: &Data) -> &[u8] {
        match data {
            Data::JsonText(text) => text,
            other => panic!("JSON text, got {other:?}"),
        }
    }

    #[test]
    fn a_change_event_is_json_in_the_order_of_its_schema() {
        let table = Table::new(
            "shop",
            "public".into(),
            "orders \"q\"".into(),
            "shop.public.orders".into(),
            vec![column("id", 23, "int4"), column("note", 25, "text")],
            vec![0],
        );
        let events = EventContext::new("shop", "inventory");
        let tuple = [Some("7"), Some("a \"quoted\"\nnote")];
        let at = SourceInfo {
            ts_us: 1_700_000_000_123_456,
            tx_id: Some(42),
            lsn: Some(1000),
            last_commit_lsn: None,
            snapshot: SnapshotMarker::False,
        };
        let after = table.row_from_text(&tuple).unwrap();
        let change = Change {
            op: "c",
            key: table.key_from_text(&tuple).unwrap(),
            before: None,
            after: Some(&after),
            transaction: Some(("42:1000", 3, 1)),
        };
        let record = events.change(&table, change, &at);

        let value = text(&record.value);
        let fields: Vec<String> = table.envelope_schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(field_order(value), fields);
        let parsed: Value = serde_json::from_slice(value).unwrap();
        let source_fields: Vec<String> = source_schema("source")["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            field_order(parsed["source"].to_string().as_bytes()).len(),
            source_fields.len()
        );
        let source_start = value
            .windows(10)
            .position(|w| w == b"\"source\":{")
            .unwrap()
            + 9;
        let mut source = serde_json::Deserializer::from_slice(&value[source_start..])
            .into_iter::<Box<RawValue>>();
        let source = source.next().unwrap().unwrap();
        assert_eq!(field_order(source.get().as_bytes()), source_fields);

        assert_eq!(
            parsed["after"],
            json!({"id": 7, "note": "a \"quoted\"\nnote"})
        );
        assert_eq!(parsed["before"], Value::Null);
        assert_eq!(parsed["op"], "c");
        assert_eq!(
            parsed["transaction"],
            json!({"id": "42:1000", "total_order": 3, "data_collection_order": 1})
        );
        assert_eq!(
            parsed["source"],
            json!({
                "version": VERSION, "connector": "postgresql", "name": "shop",
                "ts_ms": 1_700_000_000_123_i64, "snapshot": "false", "db": "inventory",
                "sequence": "[null,\"1000\"]", "ts_us": 1_700_000_000_123_456_i64,
                "ts_ns": 1_700_000_000_123_456_000_i64, "schema": "public",
                "table": "orders \"q\"", "txId": 42, "lsn": 1000, "xmin": null,
            })
        );
        let key: Value = serde_json::from_slice(text(&record.key)).unwrap();
        assert_eq!(key, json!({"id": 7}));
    }
}
