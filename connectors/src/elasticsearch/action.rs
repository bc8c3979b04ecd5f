//! How one record becomes one bulk action: its NDJSON lines, the document id it
//! touches, and whether it is skipped or fails before anything is sent.
//!
//! - A value is written as a document: `index` (`create` into a data stream), or with
//!   `write.method=upsert` an `update` with `doc_as_upsert`. The value must be a JSON
//!   object; JSON text (from the `bytes` converter or a source that wrote text) is sent
//!   as it came, its line breaks (whitespace in valid JSON) turned into spaces, so a
//!   document is never parsed just to be written again.
//! - A tombstone follows `behavior.on.null.values`; `delete` removes the document.
//! - The id is the record key as text, or `topic+partition+offset` with `key.ignore`.
//! - Index and delete actions of keyed documents carry `version=<offset>` and
//!   `version_type=external`: the server then refuses (409) any write older than what
//!   it has, so a batch written again after a crash or a retry cannot undo a later
//!   write.

use serde::Serialize;
use serde_json::{Map, Value};
use weir_connect::calendar::civil_from_days;
use weir_connect::{ConnectError, Data, SinkRecord};

use super::config::{ElasticsearchSinkConfig, NullValues, WriteMethod};
use super::index::IndexName;

/// The bulk operation of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Index,
    Create,
    Update,
    Delete,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Index => "index",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// One record's action, ready to be put into a bulk body.
#[derive(Debug, Clone)]
pub(crate) struct Action {
    pub(crate) op: Op,
    pub(crate) index: String,
    pub(crate) id: String,
    /// The external version, when the action carries one.
    pub(crate) version: Option<i64>,
    /// The action's NDJSON lines, each ending in `\n`.
    pub(crate) lines: Vec<u8>,
}

/// What becomes of one record.
#[derive(Debug)]
pub(crate) enum Prepared {
    Action(Action),
    /// Nothing to write (`behavior.on.null.values=ignore`).
    Skip,
    /// A document that cannot be written as it is; `behavior.on.malformed.documents`
    /// decides.
    Malformed(ConnectError),
    /// A record the sink cannot write at all (no id, a tombstone with `fail`).
    Fail(ConnectError),
}

/// Elasticsearch refuses longer ids.
const MAX_ID_BYTES: usize = 512;

#[derive(Serialize)]
struct Meta<'a> {
    _index: &'a str,
    _id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_type: Option<&'static str>,
}

pub(crate) fn prepare(config: &ElasticsearchSinkConfig, record: &SinkRecord) -> Prepared {
    let topic = &record.record.topic;
    let index = config.index.for_topic(topic);
    let id = match document_id(config, record) {
        Ok(id) => id,
        Err(error) => return Prepared::Fail(error),
    };
    let version = config.versioned().then_some(record.offset);
    let value = &record.record.value;
    let (op, source) = if value.is_null() {
        match config.null_values {
            NullValues::Ignore => return Prepared::Skip,
            NullValues::Fail => {
                return Prepared::Fail(ConnectError::user(format!(
                    "the record for document '{id}' has a null value and \
                     behavior.on.null.values=fail (set it to delete or ignore to handle \
                     tombstones)"
                )))
            }
            NullValues::Delete => (Op::Delete, None),
        }
    } else {
        let document = match document(config, record) {
            Ok(document) => document,
            Err(why) => {
                return Prepared::Malformed(ConnectError::user(format!(
                    "cannot write document '{id}' to index '{index}': {why}"
                )))
            }
        };
        match (config.write_method, &config.index) {
            (WriteMethod::Upsert, _) => (Op::Update, Some(upsert_body(&document))),
            (WriteMethod::Insert, IndexName::DataStream(_)) => (Op::Create, Some(document)),
            (WriteMethod::Insert, IndexName::Topic) => (Op::Index, Some(document)),
        }
    };
    let meta = Meta {
        _index: &index,
        _id: &id,
        version,
        version_type: version.map(|_| "external"),
    };
    let mut lines = Vec::with_capacity(64 + source.as_ref().map_or(0, Vec::len));
    lines.extend_from_slice(b"{\"");
    lines.extend_from_slice(op.name().as_bytes());
    lines.extend_from_slice(b"\":");
    serde_json::to_writer(&mut lines, &meta).expect("writing JSON into a Vec cannot fail");
    lines.extend_from_slice(b"}\n");
    if let Some(source) = source {
        lines.extend_from_slice(&source);
        lines.push(b'\n');
    }
    Prepared::Action(Action {
        op,
        index,
        id,
        version,
        lines,
    })
}

fn document_id(
    config: &ElasticsearchSinkConfig,
    record: &SinkRecord,
) -> Result<String, ConnectError> {
    if config.key_ignore {
        return Ok(format!(
            "{}+{}+{}",
            record.record.topic, record.origin_partition, record.offset
        ));
    }
    let id = match &record.record.key {
        Data::Null | Data::Json(Value::Null) => {
            return Err(ConnectError::user(
                "the record key is the document id and cannot be null (set key.ignore=true \
                 to use topic+partition+offset ids)",
            ))
        }
        key @ (Data::Json(Value::Object(_)) | Data::Json(Value::Array(_))) => {
            return Err(ConnectError::user(format!(
                "the record key is the document id and cannot be {} (extract one field with \
                 the ExtractField$Key transform, or set key.ignore=true)",
                match key.kind() {
                    "object" => "an object",
                    _ => "an array",
                }
            )))
        }
        Data::Bytes(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| {
                ConnectError::user("the record key is not UTF-8 text and cannot be a document id")
            })?
            .to_string(),
        key => key.to_text().unwrap_or_default(),
    };
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(ConnectError::user(format!(
            "the record key makes a document id of {} bytes; ids must be 1 to {MAX_ID_BYTES} bytes",
            id.len()
        )));
    }
    Ok(id)
}

/// The document's JSON text, on one line.
fn document(config: &ElasticsearchSinkConfig, record: &SinkRecord) -> Result<Vec<u8>, String> {
    let value = &record.record.value;
    if let IndexName::DataStream(_) = config.index {
        let mut object = match value {
            Data::Json(Value::Object(object)) => object.clone(),
            Data::Bytes(text) | Data::JsonText(text) => match serde_json::from_slice(text) {
                Ok(Value::Object(object)) => object,
                Ok(other) => return Err(not_an_object(kind(&other))),
                Err(err) => return Err(format!("the value is not JSON: {err}")),
            },
            other => return Err(not_an_object(other.kind())),
        };
        set_timestamp(config, record, &mut object)?;
        return Ok(serde_json::to_vec(&object).expect("a JSON map serializes"));
    }
    match value {
        Data::Json(value @ Value::Object(_)) => {
            Ok(serde_json::to_vec(value).expect("a JSON value serializes"))
        }
        Data::Bytes(text) | Data::JsonText(text) => {
            let start = text.iter().position(|b| !b.is_ascii_whitespace());
            if start.map(|i| text[i]) != Some(b'{') {
                return Err("the value is not a JSON object".to_string());
            }
            Ok(text
                .iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
                .collect())
        }
        other => Err(not_an_object(other.kind())),
    }
}

fn kind(value: &Value) -> &'static str {
    Data::Json(value.clone()).kind()
}

fn not_an_object(kind: &str) -> String {
    format!(
        "the value is {} {kind}, not a JSON object (wrap it with the HoistField$Value \
         transform, e.g. field: message)",
        if kind.starts_with(['a', 'o']) {
            "an"
        } else {
            "a"
        }
    )
}

/// `@timestamp` from the first listed field the value has, else the record timestamp.
fn set_timestamp(
    config: &ElasticsearchSinkConfig,
    record: &SinkRecord,
    object: &mut Map<String, Value>,
) -> Result<(), String> {
    for field in &config.timestamp_fields {
        if let Some(value) = object.get(field).filter(|v| !v.is_null()) {
            let value = value.clone();
            object.insert("@timestamp".to_string(), value);
            return Ok(());
        }
    }
    let Some(millis) = record.record.timestamp else {
        return Err(
            "a data stream document needs @timestamp, and the record has no timestamp nor \
             any of the data.stream.timestamp.field fields"
                .to_string(),
        );
    };
    object.insert("@timestamp".to_string(), Value::String(iso8601(millis)));
    Ok(())
}

/// `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC.
pub(crate) fn iso8601(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let ms = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn upsert_body(document: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(document.len() + 32);
    body.extend_from_slice(b"{\"doc\":");
    body.extend_from_slice(document);
    body.extend_from_slice(b",\"doc_as_upsert\":true}");
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_connect::config::config_map;
    use weir_connect::Record;

    use super::super::config::{config_def, ElasticsearchSinkConfig};
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ElasticsearchSinkConfig {
        let mut all = vec![("connection.url", "http://127.0.0.1:9200")];
        all.extend_from_slice(pairs);
        let parsed = config_def().parse(&config_map(&all)).unwrap();
        ElasticsearchSinkConfig::from_parsed(&parsed).unwrap()
    }

    fn record(key: Data, value: Data) -> SinkRecord {
        let mut record = Record::new("Orders", value);
        record.key = key;
        record.timestamp = Some(1_709_164_800_123);
        SinkRecord {
            record,
            origin_topic: "Orders".into(),
            origin_partition: 2,
            offset: 41,
        }
    }

    fn lines(prepared: Prepared) -> String {
        match prepared {
            Prepared::Action(action) => String::from_utf8(action.lines).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_keyed_record_is_indexed_with_its_offset_as_external_version() {
        let out = lines(prepare(
            &config(&[]),
            &record(Data::Json(json!("k1")), Data::Json(json!({"a": 1}))),
        ));
        assert_eq!(
            out,
            "{\"index\":{\"_index\":\"orders\",\"_id\":\"k1\",\"version\":41,\"version_type\":\"external\"}}\n{\"a\":1}\n"
        );
    }

    #[test]
    fn key_ignore_ids_are_topic_partition_offset_without_versions() {
        let out = lines(prepare(
            &config(&[("key.ignore", "true")]),
            &record(Data::Null, Data::JsonText("{\"a\":\n 1}".into())),
        ));
        assert_eq!(
            out,
            "{\"index\":{\"_index\":\"orders\",\"_id\":\"Orders+2+41\"}}\n{\"a\":  1}\n"
        );
    }

    #[test]
    fn upserts_update_with_doc_as_upsert_and_tombstones_delete_with_a_version() {
        let upsert = config(&[("write.method", "upsert")]);
        let out = lines(prepare(
            &upsert,
            &record(Data::Json(json!(7)), Data::Json(json!({"b": true}))),
        ));
        assert_eq!(
            out,
            "{\"update\":{\"_index\":\"orders\",\"_id\":\"7\"}}\n{\"doc\":{\"b\":true},\"doc_as_upsert\":true}\n"
        );
        let delete = config(&[("behavior.on.null.values", "delete")]);
        let out = lines(prepare(
            &delete,
            &record(Data::Json(json!("k")), Data::Null),
        ));
        assert_eq!(
            out,
            "{\"delete\":{\"_index\":\"orders\",\"_id\":\"k\",\"version\":41,\"version_type\":\"external\"}}\n"
        );
        let ignore = config(&[("behavior.on.null.values", "ignore")]);
        assert!(matches!(
            prepare(&ignore, &record(Data::Json(json!("k")), Data::Null)),
            Prepared::Skip
        ));
        assert!(matches!(
            prepare(&config(&[]), &record(Data::Json(json!("k")), Data::Null)),
            Prepared::Fail(_)
        ));
    }

    #[test]
    fn keys_that_cannot_be_ids_and_values_that_are_not_objects() {
        let c = config(&[]);
        for key in [
            Data::Null,
            Data::Json(json!({"id": 1})),
            Data::Json(json!("x".repeat(600))),
        ] {
            assert!(matches!(
                prepare(&c, &record(key, Data::Json(json!({})))),
                Prepared::Fail(_)
            ));
        }
        for value in [
            Data::Json(json!("a line")),
            Data::Json(json!([1])),
            Data::JsonText("[1]".into()),
        ] {
            match prepare(&c, &record(Data::Json(json!("k")), value)) {
                Prepared::Malformed(err) => {
                    assert!(err.to_string().contains("JSON object"), "{err}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn data_stream_documents_are_created_with_a_timestamp() {
        let c = config(&[
            ("data.stream.type", "logs"),
            ("data.stream.dataset", "app"),
            ("key.ignore", "true"),
        ]);
        let out = lines(prepare(
            &c,
            &record(Data::Null, Data::Json(json!({"message": "hi"}))),
        ));
        assert_eq!(
            out,
            "{\"create\":{\"_index\":\"logs-app-orders\",\"_id\":\"Orders+2+41\"}}\n{\"@timestamp\":\"2024-02-29T00:00:00.123Z\",\"message\":\"hi\"}\n"
        );
        let c = config(&[
            ("data.stream.type", "logs"),
            ("data.stream.dataset", "app"),
            ("data.stream.timestamp.field", "time,ts"),
            ("key.ignore", "true"),
        ]);
        let out = lines(prepare(
            &c,
            &record(Data::Null, Data::Json(json!({"ts": 5}))),
        ));
        assert!(out.contains("{\"@timestamp\":5,\"ts\":5}"), "{out}");
    }

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }
}
