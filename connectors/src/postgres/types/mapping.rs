//! Which schema and converter each PostgreSQL type gets: Debezium's
//! `PostgresValueConverter.schemaBuilder` and `converter`, decided once per column.

use serde_json::{json, Map, Value};

use super::convert::{Convert, Unit};
use super::{
    BinaryHandling, DecimalHandling, HstoreHandling, IntervalHandling, PgType, TimePrecision,
    TypeKind, TypeOptions,
};

/// Built-in type OIDs, fixed by PostgreSQL (`pg_type.dat`).
pub(super) mod oid {
    pub(crate) const BOOL: u32 = 16;
    pub(crate) const BYTEA: u32 = 17;
    pub(crate) const INT8: u32 = 20;
    pub(crate) const INT2: u32 = 21;
    pub(crate) const INT4: u32 = 23;
    pub(crate) const OID: u32 = 26;
    pub(crate) const JSON: u32 = 114;
    pub(crate) const XML: u32 = 142;
    pub(crate) const BOX: u32 = 603;
    pub(crate) const FLOAT4: u32 = 700;
    pub(crate) const FLOAT8: u32 = 701;
    pub(crate) const MONEY: u32 = 790;
    pub(crate) const DATE: u32 = 1082;
    pub(crate) const TIME: u32 = 1083;
    pub(crate) const TIMESTAMP: u32 = 1114;
    pub(crate) const TIMESTAMPTZ: u32 = 1184;
    pub(crate) const INTERVAL: u32 = 1186;
    pub(crate) const TIMETZ: u32 = 1266;
    pub(crate) const BIT: u32 = 1560;
    pub(crate) const VARBIT: u32 = 1562;
    pub(crate) const NUMERIC: u32 = 1700;
    pub(crate) const UUID: u32 = 2950;
    pub(crate) const TSVECTOR: u32 = 3614;
    pub(crate) const JSONB: u32 = 3802;
    /// Below this every OID is PostgreSQL's own; extension types (`hstore`, `ltree`,
    /// `citext`) get OIDs above it that differ per database, so they go by name.
    pub(crate) const FIRST_NORMAL_OBJECT_ID: u32 = 16384;
}

fn plain(ty: &str) -> Value {
    json!({ "type": ty })
}

pub(super) fn named(ty: &str, name: &str) -> Value {
    json!({ "type": ty, "name": name, "version": 1 })
}

pub(super) fn with_parameters(mut schema: Value, parameters: &[(&str, String)]) -> Value {
    let parameters: Map<String, Value> = parameters
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    schema["parameters"] = Value::Object(parameters);
    schema
}

fn decimal_schema(scale: i32) -> Value {
    with_parameters(
        named("bytes", "org.apache.kafka.connect.data.Decimal"),
        &[("scale", scale.to_string())],
    )
}

/// The root of a domain chain.
pub(super) fn root(ty: &PgType) -> &PgType {
    match &ty.kind {
        TypeKind::Domain { base, .. } => root(base),
        _ => ty,
    }
}

/// `numeric`'s `atttypmod`: `((precision << 16) | scale) + 4`, the scale an 11-bit
/// signed field since PostgreSQL 15 allows -1000..1000; -1 for unconstrained.
pub(super) fn numeric_typmod(type_modifier: i32) -> Option<(i32, i32)> {
    let t = type_modifier.checked_sub(4).filter(|t| *t >= 0)?;
    Some(((t >> 16) & 0xFFFF, ((t & 0x7FF) ^ 0x400) - 0x400))
}

/// `time`/`timestamp` precision: the typmod, 6 when unconstrained.
fn time_precision(type_modifier: i32) -> i32 {
    if type_modifier < 0 {
        6
    } else {
        type_modifier
    }
}

/// The schema and converter of a base type, by OID for PostgreSQL's own types and by
/// name for extension types.
pub(super) fn base_mapping(
    ty: &PgType,
    type_modifier: i32,
    options: &TypeOptions,
) -> (Value, Convert) {
    let string = || (plain("string"), Convert::Text);
    let named_string = |name: &str| (named("string", name), Convert::Text);
    match ty.oid {
        oid::BOOL => (plain("boolean"), Convert::Bool),
        oid::INT2 => (plain("int16"), Convert::Int16),
        oid::INT4 => (plain("int32"), Convert::Int32),
        oid::INT8 | oid::OID => (plain("int64"), Convert::Int64),
        oid::FLOAT4 => (plain("float32"), Convert::Float32),
        oid::FLOAT8 => (plain("float64"), Convert::Float64),
        oid::NUMERIC => numeric_mapping(type_modifier, options.decimal),
        oid::MONEY => {
            let scale = i32::from(options.money_fraction_digits);
            let schema = match options.decimal {
                // Debezium's `moneySchema()`: a Decimal without a precision parameter.
                DecimalHandling::Precise => decimal_schema(scale),
                DecimalHandling::Double => plain("float64"),
                DecimalHandling::String => plain("string"),
            };
            let mode = options.decimal;
            (schema, Convert::Money { mode, scale })
        }
        oid::BIT | oid::VARBIT => {
            // pgjdbc's length: `bit`'s typmod is its length; an unconstrained `varbit`
            // reports 2^31 - 1, which Debezium puts in the `length` parameter.
            let length = match (ty.oid, type_modifier) {
                (oid::VARBIT, m) if m < 0 => i32::MAX,
                (_, m) => m,
            };
            if length > 1 {
                let schema = with_parameters(
                    named("bytes", "io.debezium.data.Bits"),
                    &[("length", length.to_string())],
                );
                (schema, Convert::Bits)
            } else {
                (plain("boolean"), Convert::Bit)
            }
        }
        oid::BYTEA => {
            let schema = match options.binary {
                BinaryHandling::Bytes => plain("bytes"),
                _ => plain("string"),
            };
            (schema, Convert::Bytea(options.binary))
        }
        oid::DATE => match options.time_precision {
            TimePrecision::Connect => (
                named("int32", "org.apache.kafka.connect.data.Date"),
                Convert::Date,
            ),
            _ => (named("int32", "io.debezium.time.Date"), Convert::Date),
        },
        oid::TIME => {
            let precision = time_precision(type_modifier);
            match options.time_precision {
                TimePrecision::Connect => (
                    named("int32", "org.apache.kafka.connect.data.Time"),
                    Convert::Time(Unit::Millis),
                ),
                TimePrecision::Adaptive if precision <= 3 => (
                    named("int32", "io.debezium.time.Time"),
                    Convert::Time(Unit::Millis),
                ),
                _ => (
                    named("int64", "io.debezium.time.MicroTime"),
                    Convert::Time(Unit::Micros),
                ),
            }
        }
        oid::TIMESTAMP => {
            let precision = time_precision(type_modifier);
            match options.time_precision {
                TimePrecision::Connect => (
                    named("int64", "org.apache.kafka.connect.data.Timestamp"),
                    Convert::Timestamp(Unit::Millis),
                ),
                _ if precision <= 3 => (
                    named("int64", "io.debezium.time.Timestamp"),
                    Convert::Timestamp(Unit::Millis),
                ),
                _ => (
                    named("int64", "io.debezium.time.MicroTimestamp"),
                    Convert::Timestamp(Unit::Micros),
                ),
            }
        }
        // Zoned types ignore time.precision.mode (but for Debezium's `structured`).
        oid::TIMESTAMPTZ => (
            named("string", "io.debezium.time.ZonedTimestamp"),
            Convert::ZonedTimestamp {
                fraction_digits: time_precision(type_modifier),
            },
        ),
        oid::TIMETZ => (
            named("string", "io.debezium.time.ZonedTime"),
            Convert::ZonedTime,
        ),
        oid::INTERVAL => match options.interval {
            IntervalHandling::Numeric => (
                named("int64", "io.debezium.time.MicroDuration"),
                Convert::IntervalMicros,
            ),
            IntervalHandling::String => (
                named("string", "io.debezium.time.Interval"),
                Convert::IntervalString,
            ),
        },
        oid::JSON | oid::JSONB => named_string("io.debezium.data.Json"),
        oid::UUID => named_string("io.debezium.data.Uuid"),
        oid::XML => named_string("io.debezium.data.Xml"),
        oid::TSVECTOR => named_string("io.debezium.data.Tsvector"),
        id if id >= oid::FIRST_NORMAL_OBJECT_ID => match ty.name.as_str() {
            "hstore" => match options.hstore {
                HstoreHandling::Json => (
                    named("string", "io.debezium.data.Json"),
                    Convert::HstoreJson,
                ),
                HstoreHandling::Map => (
                    json!({
                        "type": "map",
                        "keys": { "type": "string", "optional": false },
                        "values": { "type": "string", "optional": true },
                    }),
                    Convert::HstoreMap,
                ),
            },
            "ltree" => named_string("io.debezium.data.Ltree"),
            // citext, isbn and the rest: strings. Debezium drops a type it does not
            // know unless `include.unknown.datatypes` is set, and then sends the text's
            // UTF-8 bytes (`binary.handling.mode` applying); Weir always sends the text,
            // which is what a consumer of those bytes decodes anyway.
            _ => string(),
        },
        // text, varchar, bpchar (padding kept), name, "char", inet, cidr, macaddr,
        // macaddr8, the range types (as Debezium), the geometric types (Weir's choice:
        // Debezium's structs need the WKB writer), and built-ins Debezium does not
        // know (tsquery, pg_lsn, xid, regclass, …).
        _ => string(),
    }
}

/// Debezium's `numericSchema`: an unconstrained `numeric` in precise mode varies its
/// scale per value, so it is a `VariableScaleDecimal` struct.
fn numeric_mapping(type_modifier: i32, mode: DecimalHandling) -> (Value, Convert) {
    match (mode, numeric_typmod(type_modifier)) {
        (DecimalHandling::Precise, Some((precision, scale))) => {
            let schema = with_parameters(
                named("bytes", "org.apache.kafka.connect.data.Decimal"),
                &[
                    ("scale", scale.to_string()),
                    ("connect.decimal.precision", precision.to_string()),
                ],
            );
            (schema, Convert::Decimal { scale })
        }
        (DecimalHandling::Precise, None) => {
            let mut schema = named("struct", "io.debezium.data.VariableScaleDecimal");
            schema["doc"] = json!("Variable scaled decimal");
            schema["fields"] = json!([
                { "type": "int32", "optional": false, "field": "scale" },
                { "type": "bytes", "optional": false, "field": "value" },
            ]);
            (schema, Convert::VariableScaleDecimal)
        }
        (DecimalHandling::Double, _) => (plain("float64"), Convert::DecimalDouble),
        (DecimalHandling::String, _) => (plain("string"), Convert::DecimalString),
    }
}
