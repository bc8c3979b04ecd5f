//! Debezium's mapping of PostgreSQL column types to Kafka Connect schemas and values.
//!
//! A [`ColumnMapping`] is built once per column of a relation, from the catalog's
//! [`PgType`] and the column's `atttypmod`; it then turns each value's **text** into
//! JSON with no further look at the type. Both sources of values send text: `pgoutput`
//! writes every column in its type's output format, and the snapshot selects
//! `col::text`. The replication and snapshot sessions pin the settings that text
//! depends on, and this module relies on them:
//!
//! | setting | what it fixes |
//! |---|---|
//! | `DateStyle=ISO, YMD` | `2024-01-02`, `2024-01-02 03:04:05.6`, `0044-03-15 BC` |
//! | `IntervalStyle=iso_8601` | `P1Y2M3DT4H5M6.78S` |
//! | `TimeZone=UTC` | `timestamptz` written with `+00` (other offsets are still read) |
//! | `extra_float_digits=3` | shortest exact `float4`/`float8` text |
//! | `bytea_output=hex` | `\x0102ff` |
//!
//! and `lc_monetary` must write `.` as the decimal point (C or an English locale),
//! since `money` text is locale-formatted.
//!
//! Values come out as Kafka's `JsonConverter` (with Debezium's converters before it)
//! writes them: `bytes` as base64 text, Decimal as the base64 of its unscaled
//! two's complement, and a non-finite float as the strings `"NaN"`, `"Infinity"`,
//! `"-Infinity"` (Jackson's default for `NaN`, which JSON numbers cannot hold).
//! Schemas come out as that converter writes them with `schemas.enable=true`.
//!
//! Where Weir differs from Debezium (each is noted where it is decided):
//! - geometric types (`point`, `line`, `lseg`, `box`, `path`, `polygon`, `circle`) are
//!   strings of their text, not Debezium's `Point`/`Geometry`/`Circle`/`Line` structs;
//! - a type Debezium does not know is a string of its text, where Debezium drops the
//!   column (or, with `include.unknown.datatypes`, sends the text's bytes);
//! - every array type is supported, including arrays of domains, `money`, `interval`
//!   and `varbit`, which Debezium leaves out; multi-dimensional arrays are flattened;
//! - `numeric` with a negative scale (PostgreSQL 15) is read correctly;
//! - `hstore` keeps PostgreSQL's key order; `timetz` `24:00:00` at a non-zero offset
//!   and `interval` `±infinity` (PostgreSQL 17) are converted rather than refused;
//! - array items are always optional (Debezium's enum arrays say otherwise), and a
//!   `bit(1)[]` is an array of booleans (Debezium gives it a non-array schema).
//!
//! Kept as Debezium has them although they look wrong: `date` `±infinity` become the
//! epoch days of pgjdbc's sentinel dates (see [`convert`]), and an unconstrained
//! `varbit` declares `length` 2147483647.

mod array;
mod convert;
mod mapping;
mod numeric;
mod options;
mod temporal;
#[cfg(test)]
mod tests;

use serde_json::{json, Value};
use weir_connect::ConnectError;

use self::convert::Convert;
use self::mapping::{base_mapping, named, numeric_typmod, oid, root, with_parameters};
pub(crate) use self::options::{
    BinaryHandling, DecimalHandling, HstoreHandling, IntervalHandling, TimePrecision, TypeOptions,
};

/// What the catalog says about a column's type (`pg_type`), resolved by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgType {
    pub(crate) oid: u32,
    /// `typname`: `int4`, `numeric`, `_int4`, `mood`.
    pub(crate) name: String,
    pub(crate) kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeKind {
    /// A built-in or extension base type (also what to pass for a composite or
    /// pseudo-type: those map as unknown types do).
    Base,
    /// `typtype = 'e'`, its labels in `enumsortorder` (Debezium's `allowed` parameter
    /// lists them in that order, so adding a label later does not reorder it).
    Enum { labels: Vec<String> },
    /// `typelem` of an array type.
    Array { element: Box<PgType> },
    /// `typbasetype` of a domain, and the domain's own `typtypmod`: a column of
    /// `CREATE DOMAIN price AS numeric(10,2)` has `atttypmod` -1, and the precision
    /// and scale live on the domain.
    Domain {
        base: Box<PgType>,
        type_modifier: i32,
    },
}

/// Why a value's text could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    /// The text is not in the format the pinned session settings promise: PostgreSQL
    /// did not write it, or Weir misreads it.
    Malformed(&'static str),
    /// A valid value that the configured mode cannot express (`NaN` as a precise
    /// Decimal, a timestamp beyond 64-bit microseconds).
    Unrepresentable(&'static str),
}

/// A value whose text could not be converted: names the type and the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read '{text}' as {type_name}: {}", self.reason())]
pub(crate) struct TypeError {
    type_name: String,
    /// The value's text, cut to 64 characters: values can be megabytes.
    text: String,
    bad: Bad,
}

impl TypeError {
    fn new(type_name: &str, text: &str, bad: Bad) -> TypeError {
        const MAX_CHARS: usize = 64;
        let mut shown: String = text.chars().take(MAX_CHARS).collect();
        if shown.len() < text.len() {
            shown.push('…');
        }
        TypeError {
            type_name: type_name.to_owned(),
            text: shown,
            bad,
        }
    }

    fn reason(&self) -> &'static str {
        match self.bad {
            Bad::Malformed(reason) | Bad::Unrepresentable(reason) => reason,
        }
    }
}

impl From<TypeError> for ConnectError {
    /// Neither kind is helped by a retry. A value the mode cannot express is the
    /// user's to fix (another handling mode); text that is not PostgreSQL's output
    /// format is Weir's bug.
    fn from(err: TypeError) -> ConnectError {
        let message = err.to_string();
        match err.bad {
            Bad::Unrepresentable(_) => ConnectError::user(message),
            Bad::Malformed(_) => ConnectError::internal(message),
        }
    }
}

/// How one column's values become Connect values: the schema and the converter,
/// decided once from the type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnMapping {
    /// The type as errors name it: `int4`, `numeric(10,2)`, `mood`.
    type_name: String,
    /// The Connect schema without `optional` and `field`.
    schema: Value,
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Scalar(Convert),
    /// Each element converted by `element`, so an error names the element's type and
    /// text rather than the whole array's.
    Array {
        element: Box<ColumnMapping>,
        delimiter: u8,
    },
}

impl ColumnMapping {
    pub(crate) fn new(ty: &PgType, type_modifier: i32, options: &TypeOptions) -> ColumnMapping {
        match &ty.kind {
            TypeKind::Domain {
                base,
                type_modifier: domain_modifier,
            } => {
                // Debezium maps a domain as its root type, with the column's typmod or
                // else the domain's; walking the chain also finds a typmod on a domain
                // over a domain, which Debezium's docs say it loses.
                let modifier = if type_modifier >= 0 {
                    type_modifier
                } else {
                    *domain_modifier
                };
                let mut mapping = ColumnMapping::new(base, modifier, options);
                mapping.type_name = ty.name.clone();
                mapping
            }
            TypeKind::Enum { labels } => ColumnMapping {
                type_name: ty.name.clone(),
                schema: with_parameters(
                    named("string", "io.debezium.data.Enum"),
                    &[("allowed", labels.join(","))],
                ),
                shape: Shape::Scalar(Convert::Text),
            },
            TypeKind::Array { element } => {
                // The element gets the column's typmod: `numeric(10,2)[]` stores the
                // element's modifier on the array column.
                let element_mapping = ColumnMapping::new(element, type_modifier, options);
                let mut items = element_mapping.schema.clone();
                items["optional"] = Value::Bool(true);
                let delimiter = if root(element).oid == oid::BOX {
                    b';'
                } else {
                    b','
                };
                ColumnMapping {
                    type_name: ty.name.clone(),
                    schema: json!({ "type": "array", "items": items }),
                    shape: Shape::Array {
                        element: Box::new(element_mapping),
                        delimiter,
                    },
                }
            }
            TypeKind::Base => {
                let (schema, convert) = base_mapping(ty, type_modifier, options);
                let type_name = match numeric_typmod(type_modifier) {
                    Some((p, s)) if ty.oid == oid::NUMERIC => format!("numeric({p},{s})"),
                    _ => ty.name.clone(),
                };
                ColumnMapping {
                    type_name,
                    schema,
                    shape: Shape::Scalar(convert),
                }
            }
        }
    }

    /// The field's Connect schema JSON, with `"field": name` and `"optional"`.
    pub(crate) fn schema(&self, field: &str, optional: bool) -> Value {
        let mut schema = self.schema.clone();
        schema["optional"] = Value::Bool(optional);
        schema["field"] = Value::String(field.to_owned());
        schema
    }

    /// [`value`](Self::value)'s JSON text appended to `out`; the common scalar types
    /// are written straight from their text, with no `Value` between.
    pub(crate) fn write_value(&self, text: &str, out: &mut Vec<u8>) -> Result<(), TypeError> {
        if let Shape::Scalar(convert) = &self.shape {
            let written = convert
                .write_direct(text, out)
                .map_err(|bad| TypeError::new(&self.type_name, text, bad))?;
            if written {
                return Ok(());
            }
        }
        let value = self.value(text)?;
        serde_json::to_writer(&mut *out, &value).expect("writing to a Vec cannot fail");
        Ok(())
    }

    /// A text value as Debezium's JSON converter writes it. NULL never gets here: the
    /// caller writes `null` for it.
    pub(crate) fn value(&self, text: &str) -> Result<Value, TypeError> {
        let bad = |bad| TypeError::new(&self.type_name, text, bad);
        match &self.shape {
            Shape::Scalar(convert) => convert.apply(text).map_err(bad),
            Shape::Array { element, delimiter } => array::parse_array(text, *delimiter)
                .map_err(bad)?
                .into_iter()
                .map(|item| match item {
                    Some(item) => element.value(&item),
                    None => Ok(Value::Null),
                })
                .collect::<Result<_, _>>()
                .map(Value::Array),
        }
    }
}
