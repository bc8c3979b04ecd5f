//! A captured table as events describe it: its columns with their type mappings, the
//! record key's columns, and the Connect schemas of key, row and envelope, built once
//! per table version and shared by every event of it.

use serde_json::{json, Map, Value};
use weir_connect::converter::base64;
use weir_connect::Schema;

use super::events::source_schema;
use super::pgoutput::ColumnValue;
use super::types::{ColumnMapping, TypeError};

/// Debezium's placeholder for an unchanged TOASTed value, which pgoutput does not
/// send with an update that left it alone.
pub(crate) const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// One column, in the order the server sends tuples.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) mapping: ColumnMapping,
    pub(crate) optional: bool,
    /// False for a column `column.include.list`/`exclude.list` leaves out, or of a type
    /// Weir does not map when `include.unknown.datatypes` is off.
    pub(crate) kept: bool,
    /// The JSON of `UNAVAILABLE_VALUE` in this column's schema type.
    unavailable: Value,
}

impl Column {
    pub(crate) fn new(name: String, mapping: ColumnMapping, optional: bool, kept: bool) -> Column {
        let unavailable = match mapping.schema(&name, optional)["type"].as_str() {
            Some("bytes") => Value::String(base64(UNAVAILABLE_VALUE.as_bytes())),
            Some("array") => json!([UNAVAILABLE_VALUE]),
            _ => Value::String(UNAVAILABLE_VALUE.to_string()),
        };
        Column {
            name,
            mapping,
            optional,
            kept,
            unavailable,
        }
    }
}

/// A table's event shapes.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) schema: String,
    pub(crate) name: String,
    pub(crate) topic: String,
    pub(crate) columns: Vec<Column>,
    /// Indexes into `columns` of the record key: the primary key, or the columns
    /// `message.key.columns` names. Empty: records have no key.
    pub(crate) key: Vec<usize>,
    pub(crate) key_schema: Option<Schema>,
    pub(crate) envelope_schema: Schema,
}

impl Table {
    /// `prefix` is `topic.prefix`, used in the schema names as Debezium does.
    pub(crate) fn new(
        prefix: &str,
        schema: String,
        name: String,
        topic: String,
        columns: Vec<Column>,
        key: Vec<usize>,
    ) -> Table {
        let base = format!("{prefix}.{schema}.{name}");
        let key_schema = (!key.is_empty()).then(|| {
            let fields: Vec<Value> = key
                .iter()
                .map(|&i| columns[i].mapping.schema(&columns[i].name, false))
                .collect();
            Schema::new(json!({
                "type": "struct",
                "fields": fields,
                "optional": false,
                "name": format!("{base}.Key"),
            }))
        });
        let row_fields: Vec<Value> = columns
            .iter()
            .filter(|c| c.kept)
            .map(|c| c.mapping.schema(&c.name, c.optional))
            .collect();
        let row = |field: &str| {
            json!({
                "type": "struct",
                "fields": row_fields,
                "optional": true,
                "name": format!("{base}.Value"),
                "field": field,
            })
        };
        let envelope_schema = Schema::new(json!({
            "type": "struct",
            "fields": [
                row("before"),
                row("after"),
                source_schema("source"),
                transaction_block_schema(),
                {"type": "string", "optional": false, "field": "op"},
                {"type": "int64", "optional": true, "field": "ts_ms"},
                {"type": "int64", "optional": true, "field": "ts_us"},
                {"type": "int64", "optional": true, "field": "ts_ns"},
            ],
            "optional": false,
            "name": format!("{base}.Envelope"),
            "version": 2,
        }));
        Table {
            schema,
            name,
            topic,
            columns,
            key,
            key_schema,
            envelope_schema,
        }
    }

    /// `schema.table`, as include lists and transaction metadata name it.
    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// A row from text values in column order (`None`: SQL NULL), as `before`/`after`.
    pub(crate) fn row_from_text<'a>(
        &self,
        values: impl Iterator<Item = Option<&'a str>>,
    ) -> Result<Value, TypeError> {
        let mut row = Map::with_capacity(self.columns.len());
        for (column, text) in self.columns.iter().zip(values) {
            if !column.kept {
                continue;
            }
            let value = match text {
                Some(text) => column.mapping.value(text)?,
                None => Value::Null,
            };
            row.insert(column.name.clone(), value);
        }
        Ok(Value::Object(row))
    }

    /// A row from a pgoutput tuple. A column the tuple does not carry (a key-only old
    /// tuple) is null.
    pub(crate) fn row_from_tuple(&self, tuple: &[ColumnValue]) -> Result<Value, RowError> {
        let mut row = Map::with_capacity(self.columns.len());
        for (i, column) in self.columns.iter().enumerate() {
            if !column.kept {
                continue;
            }
            let value = match tuple.get(i) {
                None | Some(ColumnValue::Null) => Value::Null,
                Some(ColumnValue::Unchanged) => column.unavailable.clone(),
                Some(ColumnValue::Text(bytes)) => {
                    let text = std::str::from_utf8(bytes).map_err(|_| RowError::NotUtf8 {
                        column: column.name.clone(),
                    })?;
                    column.mapping.value(text).map_err(RowError::Type)?
                }
                Some(ColumnValue::Binary(_)) => {
                    return Err(RowError::Binary {
                        column: column.name.clone(),
                    })
                }
            };
            row.insert(column.name.clone(), value);
        }
        Ok(Value::Object(row))
    }

    /// The record key from a pgoutput tuple (`None`: the table has no key). Key
    /// columns the column filters leave out of rows are still in the key.
    pub(crate) fn key_from_tuple(&self, tuple: &[ColumnValue]) -> Result<Option<Value>, RowError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        let mut key = Map::with_capacity(self.key.len());
        for &i in &self.key {
            let column = &self.columns[i];
            let value = match tuple.get(i) {
                Some(ColumnValue::Text(bytes)) => {
                    let text = std::str::from_utf8(bytes).map_err(|_| RowError::NotUtf8 {
                        column: column.name.clone(),
                    })?;
                    column.mapping.value(text).map_err(RowError::Type)?
                }
                Some(ColumnValue::Unchanged) => column.unavailable.clone(),
                _ => Value::Null,
            };
            key.insert(column.name.clone(), value);
        }
        Ok(Some(Value::Object(key)))
    }

    /// The record key from text values in column order.
    pub(crate) fn key_from_text(
        &self,
        values: &[Option<&str>],
    ) -> Result<Option<Value>, TypeError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        let mut key = Map::with_capacity(self.key.len());
        for &i in &self.key {
            let column = &self.columns[i];
            let value = match values.get(i).copied().flatten() {
                Some(text) => column.mapping.value(text)?,
                None => Value::Null,
            };
            key.insert(column.name.clone(), value);
        }
        Ok(Some(Value::Object(key)))
    }
}

/// Why a tuple could not become a row.
#[derive(Debug)]
pub(crate) enum RowError {
    Type(TypeError),
    NotUtf8 { column: String },
    Binary { column: String },
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::Type(e) => write!(f, "{e}"),
            RowError::NotUtf8 { column } => {
                write!(
                    f,
                    "column {column} is not UTF-8: set the database encoding to UTF8"
                )
            }
            RowError::Binary { column } => write!(
                f,
                "column {column} arrived in binary format, which the connector never asks for"
            ),
        }
    }
}

/// Debezium's `transaction` block (`provide.transaction.metadata`).
fn transaction_block_schema() -> Value {
    json!({
        "type": "struct",
        "fields": [
            {"type": "string", "optional": false, "field": "id"},
            {"type": "int64", "optional": false, "field": "total_order"},
            {"type": "int64", "optional": false, "field": "data_collection_order"},
        ],
        "optional": true,
        "name": "event.block",
        "version": 1,
        "field": "transaction",
    })
}
