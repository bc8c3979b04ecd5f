//! Records as connectors and transforms see them.
//!
//! A key or value is [`Data`]: raw bytes, structured JSON, or null. Converters turn the
//! bytes in the log into `Data` and back (`json`, `string`, `bytes`); transforms that
//! address fields need `Data::Json` objects and say so when they get anything else.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

/// A record key or value.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// No key, or a tombstone value.
    Null,
    /// Opaque bytes (the `bytes` converter).
    Bytes(Bytes),
    /// Structured data; a string from the `string` converter is `Json(Value::String)`.
    Json(Value),
    /// Structured data its source wrote straight as JSON text (the CDC source's change
    /// events), so that records no transform touches skip building a tree: the JSON
    /// converter copies it as is, and the transform chain parses it into `Json` before
    /// its first transform, so transforms and predicates never see this form.
    JsonText(Bytes),
}

impl Data {
    pub fn is_null(&self) -> bool {
        matches!(self, Data::Null | Data::Json(Value::Null))
    }

    /// The JSON object, when this is one.
    pub fn as_object(&self) -> Option<&serde_json::Map<String, Value>> {
        match self {
            Data::Json(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut serde_json::Map<String, Value>> {
        match self {
            Data::Json(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// `JsonText` parsed into `Json`; anything else as it is.
    pub fn into_structured(self) -> Result<Data, serde_json::Error> {
        match self {
            Data::JsonText(text) => Ok(match serde_json::from_slice(&text)? {
                Value::Null => Data::Null,
                value => Data::Json(value),
            }),
            other => Ok(other),
        }
    }

    /// A short name of the kind of data, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Data::Null | Data::Json(Value::Null) => "null",
            Data::Bytes(_) => "bytes",
            Data::JsonText(_) => "json",
            Data::Json(Value::Bool(_)) => "boolean",
            Data::Json(Value::Number(_)) => "number",
            Data::Json(Value::String(_)) => "string",
            Data::Json(Value::Array(_)) => "array",
            Data::Json(Value::Object(_)) => "object",
        }
    }

    /// The data as text: strings as they are, other JSON serialized, bytes as UTF-8
    /// (lossy). `None` for null. Sinks that write text (Redis keys, file lines) use it.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Data::Null | Data::Json(Value::Null) => None,
            Data::Bytes(bytes) | Data::JsonText(bytes) => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            Data::Json(Value::String(text)) => Some(text.clone()),
            Data::Json(value) => Some(value.to_string()),
        }
    }
}

/// A Kafka Connect schema in the JSON form Kafka's `JsonConverter` writes, e.g.
/// `{"type":"struct","fields":[…],"optional":false,"name":"db.public.orders.Value"}`.
/// Shared: a source builds one per table and hands it to every record of that table,
/// and its JSON text is written once, not once per record.
#[derive(Debug, Clone)]
pub struct Schema(Arc<SchemaDoc>);

#[derive(Debug)]
struct SchemaDoc {
    value: Value,
    text: Bytes,
}

impl Schema {
    pub fn new(value: Value) -> Schema {
        let text = Bytes::from(value.to_string());
        Schema(Arc::new(SchemaDoc { value, text }))
    }

    /// The schema as JSON text.
    pub fn text(&self) -> &[u8] {
        &self.0.text
    }
}

impl std::ops::Deref for Schema {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.0.value
    }
}

impl PartialEq for Schema {
    fn eq(&self, other: &Schema) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.value == other.0.value
    }
}

/// A record header. Kafka allows null header values and repeated keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: Option<Bytes>,
}

impl Header {
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Header {
        Header {
            key: key.into(),
            value: Some(value.into()),
        }
    }
}

/// What transforms work on: a record bound for or read from a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    /// The partition; `None` lets the producer's partitioner choose (by key).
    pub partition: Option<i32>,
    pub key: Data,
    pub value: Data,
    pub headers: Vec<Header>,
    /// Milliseconds since the epoch; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// The record's Kafka offset: set on records read from the log for a sink, `None`
    /// on a source's records, which get theirs only when the log appends them.
    pub offset: Option<i64>,
    /// The key's Kafka Connect schema, when the source knows one (a CDC source does):
    /// the JSON converter writes it into the envelope with `schemas.enable=true`.
    pub key_schema: Option<Schema>,
    /// The value's Kafka Connect schema, as `key_schema`.
    pub value_schema: Option<Schema>,
}

impl Record {
    /// A record for `topic` with a value and nothing else set.
    pub fn new(topic: impl Into<String>, value: Data) -> Record {
        Record {
            topic: topic.into(),
            partition: None,
            key: Data::Null,
            value,
            headers: Vec::new(),
            timestamp: None,
            offset: None,
            key_schema: None,
            value_schema: None,
        }
    }

    /// The last header named `key`, as Kafka Connect's `lastWithName`.
    pub fn header(&self, key: &str) -> Option<&Header> {
        self.headers.iter().rev().find(|h| h.key == key)
    }
}

/// Where in the upstream system a source record came from, e.g. `{"file": "/var/log/a.log"}`.
/// A JSON object; stored as part of the key in the offsets topic.
pub type SourcePartition = Value;

/// How far a source has read within its [`SourcePartition`], e.g. `{"position": 4096}`.
pub type SourceOffset = Value;

/// A record produced by a source task, with the upstream position it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub record: Record,
    pub source_partition: SourcePartition,
    /// The position just after this record: resuming from it must not repeat it.
    pub source_offset: SourceOffset,
}

/// A record consumed from the log for a sink task.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// The record after converters and transforms; transforms may rename its topic.
    pub record: Record,
    /// Where it was read: the coordinates committed and reported in dead-letter headers.
    pub origin_topic: String,
    pub origin_partition: i32,
    pub offset: i64,
}
