//! A record → a [`Change`] of one table row: the table, the primary key's cells and
//! either the row to write or a delete.
//!
//! Three record shapes are read:
//! - a Debezium change event (a value with `op`, `source` and `before`/`after`): `c`,
//!   `r` and `u` write `after`, `d` deletes by the key; truncates and messages are
//!   skipped, as Debezium's JDBC sink does by default;
//! - a tombstone (null value): a delete by the key when `delete.enabled`, else
//!   skipped;
//! - any other JSON object: its fields are the row.
//!
//! Column types come from the record's Connect schema (`value_schema` / `key_schema`,
//! which the JSON converter keeps with `schemas.enable=true`; for a change event the
//! schema of its `after` field), else from the values ([`FieldType::infer`]).

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};
use weir_connect::{ConnectError, Data, SinkRecord};

use super::config::{JdbcSinkConfig, PrimaryKeyMode};
use super::table_name::TableId;
use super::types::{Cell, FieldType};

/// A column as records describe it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) ty: FieldType,
    /// Whether the schema lets the field be null (always, without a schema).
    pub(crate) optional: bool,
}

/// The columns of a row, the primary key's first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Columns {
    pub(crate) columns: Vec<Column>,
    pub(crate) key_len: usize,
}

impl Columns {
    pub(crate) fn key(&self) -> &[Column] {
        &self.columns[..self.key_len]
    }
}

/// One row to write or delete.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) table: TableId,
    pub(crate) columns: Arc<Columns>,
    /// One per column; a delete has the key's cells only.
    pub(crate) cells: Vec<Cell>,
    pub(crate) delete: bool,
}

impl Change {
    pub(crate) fn key(&self) -> &[Cell] {
        &self.cells[..self.columns.key_len]
    }
}

/// Kafka Connect's default names of the `kafka` key's columns.
const KAFKA_COLUMNS: [&str; 3] = ["__connect_topic", "__connect_partition", "__connect_offset"];

/// The record's change, `None` for a record that changes nothing (a tombstone without
/// `delete.enabled`, a truncate), or the user error that makes it no row.
pub(crate) fn change(
    config: &JdbcSinkConfig,
    record: &SinkRecord,
) -> Result<Option<Change>, ConnectError> {
    let topic = &record.record.topic;
    let fail = |message: String| {
        ConnectError::user(format!(
            "record {}-{}@{} cannot be written to a table: {message}",
            record.origin_topic, record.origin_partition, record.offset
        ))
    };
    let value = structured(&record.record.value).map_err(|m| fail(format!("its value {m}")))?;
    let value_schema = record.record.value_schema.as_ref();
    let (payload, schema, source, delete) = match value.as_ref() {
        Value::Null => (None, None, None, true),
        Value::Object(map) if is_change_event(map) => {
            let op = map.get("op").and_then(Value::as_str).unwrap_or_default();
            let source = map.get("source").and_then(Value::as_object);
            match op {
                "c" | "r" | "u" => {
                    let after = match map.get("after") {
                        Some(Value::Object(after)) => after,
                        _ => return Err(fail(format!("a '{op}' change event without 'after'"))),
                    };
                    let schema = typed_field(value_schema.and_then(|s| s.as_object()), "after");
                    (Some(after), schema, source, false)
                }
                "d" => (None, None, source, true),
                _ => return Ok(None),
            }
        }
        Value::Object(map) => (
            Some(map),
            value_schema.and_then(|s| s.as_object()),
            None,
            false,
        ),
        other => {
            return Err(fail(format!(
                "is a JSON {}, not an object with one field per column",
                kind(other)
            )))
        }
    };
    if delete && !config.delete_enabled {
        return Ok(None);
    }
    let table = match config.table_name.resolve(topic, source) {
        Ok(table) => table,
        // A tombstone after a change event cannot name a table from `source`; the
        // event before it already deleted the row.
        Err(_) if payload.is_none() && source.is_none() => return Ok(None),
        Err(message) => return Err(fail(message)),
    };
    let mut row = RowBuilder::default();
    match config.pk_mode {
        PrimaryKeyMode::None => {}
        PrimaryKeyMode::Kafka => {
            let names: Vec<&str> = match config.pk_fields.len() {
                3 => config.pk_fields.iter().map(String::as_str).collect(),
                _ => KAFKA_COLUMNS.to_vec(),
            };
            row.push(
                names[0],
                FieldType::Text,
                false,
                &Value::from(record.origin_topic.as_str()),
            )
            .map_err(&fail)?;
            row.push(
                names[1],
                FieldType::Int32,
                false,
                &Value::from(record.origin_partition),
            )
            .map_err(&fail)?;
            row.push(
                names[2],
                FieldType::Int64,
                false,
                &Value::from(record.offset),
            )
            .map_err(&fail)?;
        }
        PrimaryKeyMode::RecordKey => {
            let key = structured(&record.record.key).map_err(|m| fail(format!("its key {m}")))?;
            let key_schema = record
                .record
                .key_schema
                .as_ref()
                .and_then(|s| s.as_object());
            match key.as_ref() {
                Value::Null => {
                    return Err(fail(
                        "it has no key, and primary.key.mode is record_key".to_string(),
                    ))
                }
                Value::Object(fields) => {
                    let names: Vec<&String> = match config.pk_fields.is_empty() {
                        true => fields.keys().collect(),
                        false => config.pk_fields.iter().collect(),
                    };
                    if names.is_empty() {
                        return Err(fail("its key is an empty object".to_string()));
                    }
                    for name in names {
                        let value = fields.get(name).ok_or_else(|| {
                            fail(format!(
                                "its key has no field '{name}' (primary.key.fields)"
                            ))
                        })?;
                        let (ty, _) = typed(key_schema, name, value);
                        row.push(name, ty, false, value).map_err(&fail)?;
                    }
                }
                primitive => {
                    let [name] = config.pk_fields.as_slice() else {
                        return Err(fail(
                            "its key is a primitive, which needs exactly one column name in \
                             primary.key.fields"
                                .to_string(),
                        ));
                    };
                    let ty = match key_schema {
                        Some(schema) => FieldType::from_schema(schema),
                        None => FieldType::infer(primitive),
                    };
                    row.push(name, ty, false, primitive).map_err(&fail)?;
                }
            }
        }
        PrimaryKeyMode::RecordValue => {
            let Some(payload) = payload else {
                return Err(fail("it has no value to take the key from".to_string()));
            };
            let names: Vec<&String> = match config.pk_fields.is_empty() {
                true => payload.keys().collect(),
                false => config.pk_fields.iter().collect(),
            };
            for name in names {
                let value = payload
                    .get(name)
                    .ok_or_else(|| fail(format!("its value has no key field '{name}'")))?;
                let (ty, _) = typed(schema, name, value);
                row.push(name, ty, false, value).map_err(&fail)?;
            }
        }
    }
    let key_len = row.columns.len();
    if delete {
        return Ok(Some(Change {
            table,
            columns: Arc::new(Columns {
                columns: row.columns,
                key_len,
            }),
            cells: row.cells,
            delete: true,
        }));
    }
    let Some(payload) = payload else {
        return Err(fail("it has no row to write".to_string()));
    };
    // In the schema's field order; fields it lacks (and every field without a schema:
    // the JSON object's order is not kept) after, by name.
    let ordered = schema
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("field").and_then(Value::as_str))
        .filter(|name| payload.contains_key(*name));
    let unlisted = payload
        .keys()
        .map(String::as_str)
        .filter(|name| typed_field(schema, name).is_none());
    for name in ordered.chain(unlisted) {
        if row.columns[..key_len].iter().any(|c| c.name == name) {
            continue;
        }
        let value = &payload[name];
        let (ty, optional) = typed(schema, name, value);
        row.push(name, ty, optional, value).map_err(&fail)?;
    }
    if row.columns.is_empty() {
        return Err(fail("its value has no fields".to_string()));
    }
    Ok(Some(Change {
        table,
        columns: Arc::new(Columns {
            columns: row.columns,
            key_len,
        }),
        cells: row.cells,
        delete: false,
    }))
}

/// A row's columns and cells as they are read.
#[derive(Default)]
struct RowBuilder {
    columns: Vec<Column>,
    cells: Vec<Cell>,
}

impl RowBuilder {
    fn push(
        &mut self,
        name: &str,
        ty: FieldType,
        optional: bool,
        value: &Value,
    ) -> Result<(), String> {
        let cell = ty.cell(value).map_err(|m| format!("field '{name}': {m}"))?;
        self.columns.push(Column {
            name: name.to_string(),
            ty,
            optional,
        });
        self.cells.push(cell);
        Ok(())
    }
}

/// Debezium's envelope: `op`, `source`, and `before` or `after`.
fn is_change_event(map: &Map<String, Value>) -> bool {
    map.get("op").is_some_and(Value::is_string)
        && map.get("source").is_some_and(Value::is_object)
        && (map.contains_key("after") || map.contains_key("before"))
}

/// The key or value as JSON (borrowed when it already is), or why it is none.
fn structured(data: &Data) -> Result<Cow<'_, Value>, String> {
    match data {
        Data::Null => Ok(Cow::Owned(Value::Null)),
        Data::Json(value) => Ok(Cow::Borrowed(value)),
        Data::JsonText(text) => serde_json::from_slice(text)
            .map(Cow::Owned)
            .map_err(|e| format!("is not JSON: {e}")),
        Data::Bytes(_) => Err("is raw bytes, not JSON: use the json converter".to_string()),
    }
}

/// The schema of field `name` in a struct schema.
fn typed_field<'a>(
    schema: Option<&'a Map<String, Value>>,
    name: &str,
) -> Option<&'a Map<String, Value>> {
    schema?
        .get("fields")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|f| f.get("field").and_then(Value::as_str) == Some(name))
}

/// A field's type and optionality from its struct's schema, or inferred.
fn typed(schema: Option<&Map<String, Value>>, name: &str, value: &Value) -> (FieldType, bool) {
    match typed_field(schema, name) {
        Some(field) => (
            FieldType::from_schema(field),
            field
                .get("optional")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        ),
        None => (FieldType::infer(value), true),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_connect::config::config_map;
    use weir_connect::{Record, Schema};

    use super::*;
    use crate::jdbc_sink::config::{config_def, JdbcSinkConfig};

    fn config(pairs: &[(&str, &str)]) -> JdbcSinkConfig {
        let mut all = vec![("connection.url", "jdbc:postgresql://h/db")];
        all.extend_from_slice(pairs);
        JdbcSinkConfig::from_parsed(&config_def().parse(&config_map(&all)).unwrap()).unwrap()
    }

    fn record(key: Value, value: Value, value_schema: Option<Value>) -> SinkRecord {
        let mut record = Record::new("shop.public.customers", Data::Json(value));
        if value_schema.is_none() && record.value.is_null() {
            record.value = Data::Null;
        }
        record.key = Data::Json(key);
        record.value_schema = value_schema.map(Schema::new);
        SinkRecord {
            record,
            origin_topic: "shop.public.customers".into(),
            origin_partition: 2,
            offset: 41,
        }
    }

    fn names(change: &Change) -> Vec<&str> {
        change
            .columns
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn a_debezium_event_writes_its_after_typed_by_the_envelope_schema() {
        let keyed = config(&[
            ("primary.key.mode", "record_key"),
            ("delete.enabled", "true"),
            ("table.name.format", "${source.table}"),
        ]);
        let schema = json!({"type": "struct", "fields": [
            {"field": "before", "type": "struct", "optional": true, "fields": []},
            {"field": "after", "type": "struct", "optional": true, "fields": [
                {"field": "id", "type": "int32", "optional": false},
                {"field": "born", "type": "int32", "optional": true, "name": "io.debezium.time.Date"}]},
            {"field": "op", "type": "string", "optional": false}]});
        let event = json!({"before": null, "after": {"id": 1, "born": 17109}, "op": "c",
            "source": {"schema": "public", "table": "customers"}});
        let change = change(&keyed, &record(json!({"id": 1}), event, Some(schema)))
            .unwrap()
            .unwrap();
        assert_eq!(change.table.to_string(), "customers");
        assert_eq!(names(&change), ["id", "born"]);
        assert_eq!(change.columns.columns[1].ty, FieldType::Date);
        assert_eq!(change.cells[1], Cell::Text("2016-11-04".into()));
        assert!(!change.delete);

        let delete = json!({"before": {"id": 1}, "after": null, "op": "d",
            "source": {"schema": "public", "table": "customers"}});
        let change = change_of(&keyed, record(json!({"id": 1}), delete, None));
        assert!(change.delete);
        assert_eq!(change.cells, [Cell::Text("1".into())]);

        // The tombstone after it names no table: the delete did the work.
        assert!(
            super::change(&keyed, &record(json!({"id": 1}), Value::Null, None))
                .unwrap()
                .is_none()
        );
    }

    fn change_of(config: &JdbcSinkConfig, record: SinkRecord) -> Change {
        change(config, &record).unwrap().unwrap()
    }

    #[test]
    fn plain_records_infer_types_and_tombstones_delete_only_when_enabled() {
        let keyed = config(&[
            ("primary.key.mode", "record_key"),
            ("delete.enabled", "true"),
        ]);
        let change = change_of(
            &keyed,
            record(json!({"id": "a"}), json!({"n": 1.5, "id": "x"}), None),
        );
        assert_eq!(change.table.to_string(), "shop_public_customers");
        assert_eq!(
            names(&change),
            ["id", "n"],
            "the key wins over a value field"
        );
        assert_eq!(change.cells[0], Cell::Text("a".into()));
        assert!(change_of(&keyed, record(json!({"id": "a"}), Value::Null, None)).delete);
        let no_deletes = config(&[("primary.key.mode", "record_key")]);
        assert!(
            super::change(&no_deletes, &record(json!({"id": "a"}), Value::Null, None))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn kafka_and_value_keys() {
        let kafka = config(&[("primary.key.mode", "kafka")]);
        let change = change_of(&kafka, record(Value::Null, json!({"v": 1}), None));
        assert_eq!(
            names(&change),
            [
                "__connect_topic",
                "__connect_partition",
                "__connect_offset",
                "v"
            ]
        );
        assert_eq!(change.cells[2], Cell::Text("41".into()));
        let by_value = config(&[
            ("primary.key.mode", "record_value"),
            ("primary.key.fields", "b"),
        ]);
        let change = change_of(
            &by_value,
            record(Value::Null, json!({"a": 1, "b": 2}), None),
        );
        assert_eq!(names(&change), ["b", "a"]);
        assert_eq!(change.columns.key_len, 1);
    }

    #[test]
    fn records_that_are_no_rows_are_user_errors() {
        let keyed = config(&[("primary.key.mode", "record_key")]);
        for (key, value, expected) in [
            (Value::Null, json!({"a": 1}), "has no key"),
            (json!({"id": 1}), json!([1, 2]), "not an object"),
            (json!(5), json!({"a": 1}), "primitive"),
        ] {
            let err = change(&keyed, &record(key, value, None)).unwrap_err();
            assert_eq!(err.domain(), weir_connect::ErrorDomain::User);
            assert!(err.to_string().contains(expected), "{err}");
            assert!(
                err.to_string().contains("shop.public.customers-2@41"),
                "{err}"
            );
        }
        let typed = json!({"type": "struct", "fields": [{"field": "n", "type": "int32"}]});
        let err = change(
            &config(&[]),
            &record(Value::Null, json!({"n": "x"}), Some(typed)),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("field 'n': expected int32"),
            "{err}"
        );
        let mut bytes = record(Value::Null, json!({}), None);
        bytes.record.value = Data::Bytes(bytes::Bytes::from_static(b"\x00"));
        assert!(change(&config(&[]), &bytes)
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }
}
