//! A captured table as events describe it: its columns with their type mappings, the
//! record key's columns, and the Connect schemas of key, row and envelope, built once
//! per table version and shared by every event of it.

use bytes::Bytes;
use serde_json::{json, Value};
use weir_connect::converter::base64;
use weir_connect::Schema;

use super::events::source_schema;
use super::json_text;
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
    /// `"name":`, as rows and keys write it.
    field: Box<[u8]>,
    /// The JSON of `UNAVAILABLE_VALUE` in this column's schema type.
    unavailable: Box<[u8]>,
}

impl Column {
    pub(crate) fn new(name: String, mapping: ColumnMapping, optional: bool, kept: bool) -> Column {
        let unavailable = match mapping.schema(&name, optional)["type"].as_str() {
            Some("bytes") => Value::String(base64(UNAVAILABLE_VALUE.as_bytes())),
            Some("array") => json!([UNAVAILABLE_VALUE]),
            _ => Value::String(UNAVAILABLE_VALUE.to_string()),
        };
        Column {
            field: json_text::field_name(&name),
            unavailable: unavailable.to_string().into_bytes().into_boxed_slice(),
            name,
            mapping,
            optional,
            kept,
        }
    }
}

/// One value of a row, whichever way it arrived.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Null,
    /// An unchanged TOASTed value pgoutput left out.
    Unchanged,
    Text(&'a str),
}

/// A table's event shapes.
#[derive(Debug)]
pub(crate) struct Table {
    /// `schema.table`, as include lists and transaction metadata name it.
    pub(crate) qualified: String,
    pub(crate) topic: String,
    pub(crate) columns: Vec<Column>,
    /// Indexes into `columns` of the record key: the primary key, or the columns
    /// `message.key.columns` names. Empty: records have no key.
    pub(crate) key: Vec<usize>,
    pub(crate) key_schema: Option<Schema>,
    pub(crate) envelope_schema: Schema,
    /// `,"schema":…,"table":…` of the `source` block, written once.
    pub(crate) source_fields: Box<[u8]>,
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
            qualified: format!("{schema}.{name}"),
            source_fields: source_table_fields(&schema, &name),
            topic,
            columns,
            key,
            key_schema,
            envelope_schema,
        }
    }

    /// A row from text values in column order (`None`: SQL NULL), as `before`/`after`
    /// JSON.
    pub(crate) fn row_from_text(&self, values: &[Option<&str>]) -> Result<Vec<u8>, RowError> {
        self.write_object(self.kept(), |i| Ok(text_cell(values, i)))
    }

    /// The record key's JSON from text values in column order (`None`: the table has
    /// no key).
    pub(crate) fn key_from_text(&self, values: &[Option<&str>]) -> Result<Option<Bytes>, RowError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        let key = self.write_object(self.key.iter().copied(), |i| Ok(text_cell(values, i)))?;
        Ok(Some(Bytes::from(key)))
    }

    /// A row from a pgoutput tuple, as `before`/`after` JSON. A column the tuple does
    /// not carry (a key-only old tuple) is null.
    pub(crate) fn row_from_tuple(&self, tuple: &[ColumnValue]) -> Result<Vec<u8>, RowError> {
        self.write_object(self.kept(), |i| {
            Ok(match tuple.get(i) {
                None | Some(ColumnValue::Null) => Cell::Null,
                Some(ColumnValue::Unchanged) => Cell::Unchanged,
                Some(ColumnValue::Text(bytes)) => Cell::Text(self.utf8(i, bytes)?),
                Some(ColumnValue::Binary(_)) => {
                    return Err(RowError::Binary {
                        column: self.columns[i].name.clone(),
                    })
                }
            })
        })
    }

    /// The record key's JSON from a pgoutput tuple (`None`: the table has no key).
    /// Key columns the column filters leave out of rows are still in the key.
    pub(crate) fn key_from_tuple(&self, tuple: &[ColumnValue]) -> Result<Option<Bytes>, RowError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        let key = self.write_object(self.key.iter().copied(), |i| {
            Ok(match tuple.get(i) {
                Some(ColumnValue::Text(bytes)) => Cell::Text(self.utf8(i, bytes)?),
                Some(ColumnValue::Unchanged) => Cell::Unchanged,
                _ => Cell::Null,
            })
        })?;
        Ok(Some(Bytes::from(key)))
    }

    fn kept(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.columns.len()).filter(|&i| self.columns[i].kept)
    }

    fn utf8<'a>(&self, i: usize, bytes: &'a [u8]) -> Result<&'a str, RowError> {
        std::str::from_utf8(bytes).map_err(|_| RowError::NotUtf8 {
            column: self.columns[i].name.clone(),
        })
    }

    /// `{"col":value,…}` over the columns `indexes` names.
    fn write_object<'a>(
        &self,
        indexes: impl Iterator<Item = usize>,
        cell: impl Fn(usize) -> Result<Cell<'a>, RowError>,
    ) -> Result<Vec<u8>, RowError> {
        let mut out = Vec::with_capacity(16 * self.columns.len() + 2);
        out.push(b'{');
        for (n, i) in indexes.enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let column = &self.columns[i];
            out.extend_from_slice(&column.field);
            match cell(i)? {
                Cell::Null => out.extend_from_slice(b"null"),
                Cell::Unchanged => out.extend_from_slice(&column.unavailable),
                Cell::Text(text) => column
                    .mapping
                    .write_value(text, &mut out)
                    .map_err(RowError::Type)?,
            }
        }
        out.push(b'}');
        Ok(out)
    }
}

fn text_cell<'a>(values: &[Option<&'a str>], i: usize) -> Cell<'a> {
    values
        .get(i)
        .copied()
        .flatten()
        .map_or(Cell::Null, Cell::Text)
}

/// `,"schema":"public","table":"orders"`.
fn source_table_fields(schema: &str, name: &str) -> Box<[u8]> {
    let mut out = b",\"schema\":".to_vec();
    json_text::string(&mut out, schema);
    out.extend_from_slice(b",\"table\":");
    json_text::string(&mut out, name);
    out.into_boxed_slice()
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
