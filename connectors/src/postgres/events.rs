//! Debezium's change events: the envelope (`before`, `after`, `source`, `op`,
//! `ts_ms`…), the `source` block, and the other events a PostgreSQL connector writes —
//! transaction metadata, heartbeats and logical decoding messages.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use weir_connect::converter::base64;
use weir_connect::{Data, Header, Record, Schema};

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
    pub(crate) database: String,
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
    /// The `source` block.
    pub(crate) fn source(&self, table: Option<(&str, &str)>, at: &SourceInfo) -> Value {
        let lsn_text = |lsn: Option<u64>| lsn.map_or(Value::Null, |l| Value::String(l.to_string()));
        let (schema, name) = table.unwrap_or(("", ""));
        json!({
            "version": VERSION,
            "connector": "postgresql",
            "name": self.prefix,
            "ts_ms": at.ts_us.div_euclid(1000),
            "snapshot": at.snapshot.as_str(),
            "db": self.database,
            "sequence": Value::Array(vec![lsn_text(at.last_commit_lsn), lsn_text(at.lsn)]).to_string(),
            "ts_us": at.ts_us,
            "ts_ns": at.ts_us.saturating_mul(1000),
            "schema": schema,
            "table": name,
            "txId": at.tx_id,
            "lsn": at.lsn,
            "xmin": Value::Null,
        })
    }

    /// A change event for `table`: `op` is c, u, d or r. Its `transaction` block is
    /// null until the caller sets it (with transaction metadata on).
    pub(crate) fn change(
        &self,
        table: &Table,
        op: &str,
        key: Option<Value>,
        before: Option<Value>,
        after: Option<Value>,
        at: &SourceInfo,
    ) -> Record {
        let now_us = now_us();
        let value = json!({
            "before": before,
            "after": after,
            "source": self.source(Some((&table.schema, &table.name)), at),
            "transaction": Value::Null,
            "op": op,
            "ts_ms": now_us / 1000,
            "ts_us": now_us,
            "ts_ns": now_us * 1000,
        });
        let mut record = Record::new(table.topic.clone(), Data::Json(value));
        record.key = key.map_or(Data::Null, Data::Json);
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
        let mut record = self.change(table, "t", None, None, None, at);
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
        let value = json!({
            "op": "m",
            "ts_ms": now_us / 1000,
            "source": self.source(None, at),
            "message": {"prefix": prefix, "content": base64(content)},
        });
        let mut record = Record::new(topic, Data::Json(value));
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
pub(crate) fn key_header(name: &str, key: &Value) -> Header {
    Header::new(name, key.to_string())
}

/// The `transaction` block of one change event.
pub(crate) fn transaction_block(id: &str, total_order: u64, table_order: u64) -> Value {
    json!({"id": id, "total_order": total_order, "data_collection_order": table_order})
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
