//! Field types: read from a Kafka Connect schema (Debezium's and Connect's logical
//! names included) or inferred from a JSON value, and the conversion of a JSON value
//! into a [`Cell`], the text or bytes bound for one column.
//!
//! Inference without a schema, per value: a JSON integer is `bigint`, any other number
//! `double precision`, a boolean `boolean`, a string `text`, an object or array JSON
//! (`jsonb` / `JSON`), and a null `text`. A column is typed by the first record that
//! creates it; later records of other types then meet the database's own checks.

use serde_json::{Map, Value};
use weir_connect::calendar::civil_from_days;

/// Time units of Connect's and Debezium's temporal types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Unit {
    Millis,
    Micros,
    Nanos,
}

impl Unit {
    fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }
}

/// What a field holds and how its JSON encodes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum FieldType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    Text,
    /// Base64 text in JSON.
    Bytes,
    /// `org.apache.kafka.connect.data.Decimal`: base64 of the unscaled two's complement
    /// big-endian integer (or a plain number with `decimal.handling.mode=double`).
    Decimal {
        scale: u32,
        precision: Option<u32>,
    },
    /// `io.debezium.data.VariableScaleDecimal`: `{"scale": s, "value": base64}`.
    VariableDecimal,
    /// Days since the epoch.
    Date,
    /// Time since midnight.
    Time(Unit),
    /// Time since the epoch, without a zone.
    Timestamp(Unit),
    /// ISO-8601 text with an offset (`io.debezium.time.ZonedTimestamp`).
    ZonedTimestamp,
    Json,
    Uuid,
}

impl FieldType {
    /// The type of a field's schema, e.g. `{"type":"int32","name":"io.debezium.time.Date"}`.
    pub(crate) fn from_schema(schema: &Map<String, Value>) -> FieldType {
        let name = schema.get("name").and_then(Value::as_str).unwrap_or("");
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let parameter = |key: &str| {
            schema
                .get("parameters")
                .and_then(|p| p.get(key))
                .and_then(|v| match v {
                    Value::String(s) => s.parse::<u32>().ok(),
                    Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                    _ => None,
                })
        };
        match name {
            "org.apache.kafka.connect.data.Decimal" => FieldType::Decimal {
                scale: parameter("scale").unwrap_or(0),
                precision: parameter("connect.decimal.precision"),
            },
            "io.debezium.data.VariableScaleDecimal" => FieldType::VariableDecimal,
            "org.apache.kafka.connect.data.Date" | "io.debezium.time.Date" => FieldType::Date,
            "org.apache.kafka.connect.data.Time" | "io.debezium.time.Time" => {
                FieldType::Time(Unit::Millis)
            }
            "io.debezium.time.MicroTime" => FieldType::Time(Unit::Micros),
            "io.debezium.time.NanoTime" => FieldType::Time(Unit::Nanos),
            "org.apache.kafka.connect.data.Timestamp" | "io.debezium.time.Timestamp" => {
                FieldType::Timestamp(Unit::Millis)
            }
            "io.debezium.time.MicroTimestamp" => FieldType::Timestamp(Unit::Micros),
            "io.debezium.time.NanoTimestamp" => FieldType::Timestamp(Unit::Nanos),
            "io.debezium.time.ZonedTimestamp" => FieldType::ZonedTimestamp,
            "io.debezium.data.Json" => FieldType::Json,
            "io.debezium.data.Uuid" => FieldType::Uuid,
            _ => match ty {
                "int8" => FieldType::Int8,
                "int16" => FieldType::Int16,
                "int32" => FieldType::Int32,
                "int64" => FieldType::Int64,
                "float32" => FieldType::Float32,
                "float64" => FieldType::Float64,
                "boolean" => FieldType::Boolean,
                "bytes" => FieldType::Bytes,
                "struct" | "array" | "map" => FieldType::Json,
                _ => FieldType::Text,
            },
        }
    }

    /// The type inferred from a value without a schema (see the module doc).
    pub(crate) fn infer(value: &Value) -> FieldType {
        match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => FieldType::Int64,
            Value::Number(_) => FieldType::Float64,
            Value::Bool(_) => FieldType::Boolean,
            Value::Object(_) | Value::Array(_) => FieldType::Json,
            Value::String(_) | Value::Null => FieldType::Text,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            FieldType::Int8 => "int8",
            FieldType::Int16 => "int16",
            FieldType::Int32 => "int32",
            FieldType::Int64 => "int64",
            FieldType::Float32 => "float32",
            FieldType::Float64 => "float64",
            FieldType::Boolean => "boolean",
            FieldType::Text => "string",
            FieldType::Bytes => "bytes",
            FieldType::Decimal { .. } => "Decimal",
            FieldType::VariableDecimal => "VariableScaleDecimal",
            FieldType::Date => "Date",
            FieldType::Time(_) => "Time",
            FieldType::Timestamp(_) => "Timestamp",
            FieldType::ZonedTimestamp => "ZonedTimestamp",
            FieldType::Json => "Json",
            FieldType::Uuid => "Uuid",
        }
    }

    /// The value as a cell, or why it does not fit this type.
    pub(crate) fn cell(&self, value: &Value) -> Result<Cell, String> {
        if value.is_null() {
            return Ok(Cell::Null);
        }
        let wrong = || {
            format!(
                "expected {}, got {}",
                self.name(),
                value.to_string().chars().take(40).collect::<String>()
            )
        };
        let integer = || value.as_i64().ok_or_else(wrong);
        Ok(match self {
            FieldType::Int8 | FieldType::Int16 | FieldType::Int32 | FieldType::Int64 => match value
            {
                Value::Number(n) if n.is_i64() || n.is_u64() => Cell::Text(n.to_string()),
                _ => return Err(wrong()),
            },
            FieldType::Float32 | FieldType::Float64 => match value {
                Value::Number(n) => Cell::Text(n.to_string()),
                Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
                    Cell::Text(s.clone())
                }
                _ => return Err(wrong()),
            },
            FieldType::Boolean => Cell::Bool(value.as_bool().ok_or_else(wrong)?),
            FieldType::Text | FieldType::Uuid => match value {
                Value::String(s) => Cell::Text(s.clone()),
                _ => return Err(wrong()),
            },
            FieldType::Json => match value {
                Value::String(s) => Cell::Text(s.clone()),
                other => Cell::Text(other.to_string()),
            },
            FieldType::Bytes => {
                Cell::Bytes(base64_decode(value.as_str().ok_or_else(wrong)?).ok_or_else(wrong)?)
            }
            FieldType::Decimal { scale, .. } => match value {
                Value::String(s) => {
                    let unscaled = base64_decode(s).ok_or_else(wrong)?;
                    Cell::Text(decimal_text(&unscaled, *scale).ok_or_else(wrong)?)
                }
                Value::Number(n) => Cell::Text(n.to_string()),
                _ => return Err(wrong()),
            },
            FieldType::VariableDecimal => {
                let scale = value
                    .get("scale")
                    .and_then(Value::as_u64)
                    .ok_or_else(wrong)?;
                let unscaled = value
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(base64_decode)
                    .ok_or_else(wrong)?;
                let scale = u32::try_from(scale).map_err(|_| wrong())?;
                Cell::Text(decimal_text(&unscaled, scale).ok_or_else(wrong)?)
            }
            FieldType::Date => match value {
                Value::String(s) => Cell::Text(s.clone()),
                _ => match integer()? {
                    days if (-MAX_DAYS..=MAX_DAYS).contains(&days) => Cell::Text(date_text(days)),
                    _ => return Err(wrong()),
                },
            },
            FieldType::Time(unit) => {
                let ticks = integer()?;
                let per = unit.per_second();
                let (secs, frac) = (ticks.div_euclid(per), ticks.rem_euclid(per));
                Cell::Text(format!(
                    "{:02}:{:02}:{:02}.{:06}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60,
                    frac * 1_000_000 / per
                ))
            }
            FieldType::Timestamp(unit) => Cell::Text(timestamp_text(integer()?, *unit)),
            FieldType::ZonedTimestamp => {
                let text = value.as_str().ok_or_else(wrong)?;
                // Debezium writes UTC with a `Z`; sessions run in UTC, so the naive
                // text means the same instant in TIMESTAMPTZ and DATETIME columns.
                match text.strip_suffix('Z') {
                    Some(utc) => Cell::Text(utc.replacen('T', " ", 1)),
                    None => Cell::Text(text.to_string()),
                }
            }
        })
    }
}

/// One column's value as bound: text the database casts to the column's type, bytes,
/// or a boolean (spelled per dialect).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Cell {
    Null,
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// Days either side of the epoch a date may be: beyond any database's range (about
/// 270,000 years), and far from overflowing the calendar arithmetic.
const MAX_DAYS: i64 = 100_000_000;

/// `YYYY-MM-DD` of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn timestamp_text(ticks: i64, unit: Unit) -> String {
    let per = unit.per_second();
    let (secs, frac) = (ticks.div_euclid(per), ticks.rem_euclid(per));
    let (days, secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "{} {:02}:{:02}:{:02}.{:06}",
        date_text(days),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        frac * 1_000_000 / per
    )
}

/// Most bytes of an unscaled decimal (about 9,800 digits): the conversion below is
/// quadratic in them, and no database column holds more.
const MAX_DECIMAL_BYTES: usize = 4096;

/// Largest decimal scale: PostgreSQL's limit for `numeric`, above MySQL's.
const MAX_DECIMAL_SCALE: u32 = 16_383;

/// The decimal text of a two's complement big-endian integer divided by 10^scale, or
/// `None` beyond the limits above.
fn decimal_text(unscaled: &[u8], scale: u32) -> Option<String> {
    if unscaled.len() > MAX_DECIMAL_BYTES || scale > MAX_DECIMAL_SCALE {
        return None;
    }
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = unscaled.to_vec();
    if negative {
        // Two's complement negation: invert, add one.
        for b in &mut magnitude {
            *b = !*b;
        }
        for b in magnitude.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Repeated division by 10 of the base-256 digits.
    let mut digits = Vec::new();
    while magnitude.iter().any(|b| *b != 0) {
        let mut remainder = 0u32;
        for b in &mut magnitude {
            let current = (remainder << 8) | u32::from(*b);
            *b = (current / 10) as u8;
            remainder = current % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    let scale = scale as usize;
    while digits.len() <= scale {
        digits.push(b'0');
    }
    digits.reverse();
    let mut text = String::with_capacity(digits.len() + 2);
    if negative {
        text.push('-');
    }
    let point = digits.len() - scale;
    text.push_str(std::str::from_utf8(&digits[..point]).unwrap_or("0"));
    if scale > 0 {
        text.push('.');
        text.push_str(std::str::from_utf8(&digits[point..]).unwrap_or("0"));
    }
    Some(text)
}

/// Standard base64 with or without padding (Kafka's converter writes padded), or
/// `None` for anything else.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.trim_end_matches('=').as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &b in bytes {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_connect::converter::base64;

    use super::*;

    fn field(schema: Value) -> FieldType {
        FieldType::from_schema(schema.as_object().unwrap())
    }

    #[test]
    fn reads_connect_and_debezium_types() {
        assert_eq!(field(json!({"type": "int32"})), FieldType::Int32);
        assert_eq!(
            field(json!({"type": "int32", "name": "io.debezium.time.Date"})),
            FieldType::Date
        );
        assert_eq!(
            field(
                json!({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2", "connect.decimal.precision": "10"}})
            ),
            FieldType::Decimal {
                scale: 2,
                precision: Some(10)
            }
        );
        assert_eq!(
            field(json!({"type": "int64", "name": "io.debezium.time.MicroTimestamp"})),
            FieldType::Timestamp(Unit::Micros)
        );
        assert_eq!(field(json!({"type": "struct"})), FieldType::Json);
    }

    #[test]
    fn converts_debezium_encodings_to_sql_text() {
        let text = |ty: FieldType, v: Value| match ty.cell(&v).unwrap() {
            Cell::Text(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(FieldType::Date, json!(17109)), "2016-11-04");
        assert_eq!(text(FieldType::Date, json!(-1)), "1969-12-31");
        assert_eq!(
            text(
                FieldType::Timestamp(Unit::Micros),
                json!(1_704_157_445_600_000_i64)
            ),
            "2024-01-02 01:04:05.600000"
        );
        assert_eq!(
            text(FieldType::Time(Unit::Millis), json!(3_723_004)),
            "01:02:03.004000"
        );
        let cents = FieldType::Decimal {
            scale: 2,
            precision: None,
        };
        assert_eq!(text(cents.clone(), json!("nA==")), "-1.00");
        assert_eq!(text(cents.clone(), json!("AYag")), "1000.00");
        assert_eq!(text(cents, json!("AA==")), "0.00");
        assert_eq!(
            text(
                FieldType::VariableDecimal,
                json!({"scale": 1, "value": "Cw=="})
            ),
            "1.1"
        );
        assert_eq!(
            text(
                FieldType::ZonedTimestamp,
                json!("2024-01-02T01:04:05.600000Z")
            ),
            "2024-01-02 01:04:05.600000"
        );
        assert_eq!(text(FieldType::Json, json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(
            FieldType::Bytes.cell(&json!("AQID")).unwrap(),
            Cell::Bytes(vec![1, 2, 3])
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused() {
        assert!(FieldType::Int32
            .cell(&json!("7"))
            .unwrap_err()
            .contains("int32"));
        assert!(FieldType::Boolean.cell(&json!(1)).is_err());
        assert!(FieldType::Date.cell(&json!(i64::MAX)).is_err());
        assert!(FieldType::Date.cell(&json!(i64::MIN)).is_err());
        let huge_scale = json!({"scale": u32::MAX, "value": "AQ=="});
        assert!(FieldType::VariableDecimal.cell(&huge_scale).is_err());
        let long = json!(base64(&[1; MAX_DECIMAL_BYTES + 1]));
        assert!(FieldType::Decimal {
            scale: 0,
            precision: None
        }
        .cell(&long)
        .is_err());
        assert!(FieldType::Bytes.cell(&json!("not base64!")).is_err());
        assert_eq!(FieldType::Int32.cell(&Value::Null).unwrap(), Cell::Null);
    }

    #[test]
    fn infers_types_from_json_values() {
        assert_eq!(FieldType::infer(&json!(1)), FieldType::Int64);
        assert_eq!(FieldType::infer(&json!(1.5)), FieldType::Float64);
        assert_eq!(FieldType::infer(&json!("a")), FieldType::Text);
        assert_eq!(FieldType::infer(&json!([1])), FieldType::Json);
        assert_eq!(FieldType::infer(&json!(true)), FieldType::Boolean);
    }
}
