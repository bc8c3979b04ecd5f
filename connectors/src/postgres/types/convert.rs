//! Converters: a value's text to its Connect JSON, one per shape of output, chosen
//! once per column by [`super::mapping`].

use serde_json::{json, Value};
use weir_connect::converter::{base64, base64_url_safe};

use super::numeric::{self, Decimal, Numeric};
use super::temporal::{self, Infinite};
use super::{array, Bad, BinaryHandling, DecimalHandling};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Millis,
    Micros,
}

/// One converter per shape of output. The type was looked at once, to pick this;
/// applying it to a value never looks at a type name again.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Convert {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Text,
    /// `bit(1)` / `varbit(1)` → boolean.
    Bit,
    /// `bit(n>1)` / `varbit` → Debezium's `Bits` bytes.
    Bits,
    Bytea(BinaryHandling),
    Decimal {
        scale: i32,
    },
    VariableScaleDecimal,
    DecimalDouble,
    DecimalString,
    Money {
        mode: DecimalHandling,
        scale: i32,
    },
    Date,
    Time(Unit),
    Timestamp(Unit),
    ZonedTimestamp {
        fraction_digits: i32,
    },
    ZonedTime,
    IntervalMicros,
    IntervalString,
    HstoreJson,
    HstoreMap,
}

/// Debezium's (pgoutput path) epoch days for `date 'infinity'` and `'-infinity'`:
/// `LocalDate.parse("-5877611-06-21")` and `"-5877611-06-22"`, the dates pgjdbc's
/// infinity sentinels decode to. Odd (+infinity sorts before -infinity), but it is
/// what Debezium consumers have seen.
const DATE_INFINITY_DAYS: i32 = -2_147_472_693;
const DATE_NEG_INFINITY_DAYS: i32 = -2_147_472_692;
/// pgjdbc's `PGStatement.DATE_POSITIVE_INFINITY` / `DATE_NEGATIVE_INFINITY`, which
/// Debezium's docs give for `timestamp` `±infinity` as microseconds.
const TIMESTAMP_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
const TIMESTAMP_NEG_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;

impl Convert {
    /// Writes the JSON of the types that need no `Value` on the way (the same JSON
    /// `apply` gives); false for the others, with nothing written.
    pub(super) fn write_direct(&self, text: &str, out: &mut Vec<u8>) -> Result<bool, Bad> {
        let mut itoa = itoa::Buffer::new();
        let json: &[u8] = match self {
            Convert::Bool => match text {
                "t" => b"true",
                "f" => b"false",
                _ => return Err(Bad::Malformed("not t or f")),
            },
            Convert::Int16 => itoa.format(parse_int::<i16>(text)?).as_bytes(),
            Convert::Int32 => itoa.format(parse_int::<i32>(text)?).as_bytes(),
            Convert::Int64 => itoa.format(parse_int::<i64>(text)?).as_bytes(),
            Convert::Text => {
                serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
                return Ok(true);
            }
            _ => return Ok(false),
        };
        out.extend_from_slice(json);
        Ok(true)
    }

    pub(super) fn apply(&self, text: &str) -> Result<Value, Bad> {
        Ok(match self {
            Convert::Bool => match text {
                "t" => Value::Bool(true),
                "f" => Value::Bool(false),
                _ => return Err(Bad::Malformed("not t or f")),
            },
            Convert::Int16 => json!(parse_int::<i16>(text)?),
            Convert::Int32 => json!(parse_int::<i32>(text)?),
            Convert::Int64 => json!(parse_int::<i64>(text)?),
            Convert::Float32 => {
                let v: f32 = text.parse().map_err(|_| BAD_FLOAT)?;
                // Through the f32's shortest text, so 3.3 stays 3.3 in JSON rather than
                // 3.299999952316284, as Jackson writes a Java float.
                float_json(v.to_string().parse().unwrap_or(f64::from(v)))
            }
            Convert::Float64 => float_json(text.parse().map_err(|_| BAD_FLOAT)?),
            Convert::Text => Value::String(text.to_owned()),
            Convert::Bit => Value::Bool(bits_le(text)?.iter().any(|b| *b != 0)),
            Convert::Bits => Value::String(base64(&bits_le(text)?)),
            Convert::Bytea(mode) => {
                let bytes = parse_bytea(text)?;
                Value::String(match mode {
                    BinaryHandling::Bytes | BinaryHandling::Base64 => base64(&bytes),
                    BinaryHandling::Base64UrlSafe => base64_url_safe(&bytes),
                    BinaryHandling::Hex => hex(&bytes),
                })
            }
            Convert::Decimal { scale } => match numeric::parse_numeric(text)? {
                Numeric::Finite(d) => {
                    let d = d.with_scale(*scale).ok_or(Bad::Malformed(
                        "more fraction digits than the column's scale",
                    ))?;
                    decimal_json(&d)
                }
                _ => return Err(SPECIAL_DECIMAL),
            },
            Convert::VariableScaleDecimal => match numeric::parse_numeric(text)? {
                Numeric::Finite(d) => {
                    let d = d.strip_fraction_zeros();
                    json!({ "scale": d.scale(), "value": decimal_json(&d) })
                }
                _ => return Err(SPECIAL_DECIMAL),
            },
            Convert::DecimalDouble => float_json(match numeric::parse_numeric(text)? {
                Numeric::Finite(d) => d.to_f64(),
                Numeric::NaN => f64::NAN,
                Numeric::Infinity => f64::INFINITY,
                Numeric::NegInfinity => f64::NEG_INFINITY,
            }),
            // Debezium's `SpecialValueDecimal.toString()`: the enum's names.
            Convert::DecimalString => Value::String(match numeric::parse_numeric(text)? {
                Numeric::Finite(d) => d.to_plain_string(),
                Numeric::NaN => "NAN".to_owned(),
                Numeric::Infinity => "POSITIVE_INFINITY".to_owned(),
                Numeric::NegInfinity => "NEGATIVE_INFINITY".to_owned(),
            }),
            Convert::Money { mode, scale } => {
                let amount = numeric::parse_money(text)?;
                match mode {
                    DecimalHandling::Precise => decimal_json(&amount.round_half_up(*scale)),
                    DecimalHandling::Double => float_json(amount.to_f64()),
                    DecimalHandling::String => Value::String(amount.to_plain_string()),
                }
            }
            Convert::Date => json!(match temporal::parse_date(text)? {
                Infinite::Finite(days) => i32::try_from(days).map_err(|_| DATE_RANGE)?,
                Infinite::Infinity => DATE_INFINITY_DAYS,
                Infinite::NegInfinity => DATE_NEG_INFINITY_DAYS,
            }),
            Convert::Time(unit) => {
                let micros = temporal::parse_time(text)?;
                match unit {
                    // Debezium's `Duration.toMillis()`: truncated; 24:00:00 fits an i32.
                    Unit::Millis => json!((micros / 1000) as i32),
                    Unit::Micros => json!(micros),
                }
            }
            Convert::Timestamp(unit) => {
                let micros = match temporal::parse_timestamp(text)? {
                    Infinite::Finite(micros) => micros,
                    Infinite::Infinity => TIMESTAMP_INFINITY_MICROS,
                    Infinite::NegInfinity => TIMESTAMP_NEG_INFINITY_MICROS,
                };
                match unit {
                    // `Instant.toEpochMilli()` floors: -0.5 ms is -1.
                    Unit::Millis => json!(micros.div_euclid(1000)),
                    Unit::Micros => json!(micros),
                }
            }
            Convert::ZonedTimestamp { fraction_digits } => {
                Value::String(match temporal::parse_timestamptz(text)? {
                    Infinite::Finite(micros) => {
                        temporal::format_zoned_timestamp(micros, *fraction_digits)
                    }
                    Infinite::Infinity => "infinity".to_owned(),
                    Infinite::NegInfinity => "-infinity".to_owned(),
                })
            }
            Convert::ZonedTime => Value::String(temporal::parse_timetz(text)?),
            // PostgreSQL 17's infinite intervals have no Debezium form; Weir writes the
            // i64 extremes, or the words themselves as strings.
            Convert::IntervalMicros => json!(match temporal::parse_interval(text)? {
                Infinite::Finite(interval) => interval.micro_duration(),
                Infinite::Infinity => i64::MAX,
                Infinite::NegInfinity => i64::MIN,
            }),
            Convert::IntervalString => Value::String(match temporal::parse_interval(text)? {
                Infinite::Finite(interval) => interval.iso_string(),
                Infinite::Infinity => "infinity".to_owned(),
                Infinite::NegInfinity => "-infinity".to_owned(),
            }),
            Convert::HstoreJson => {
                // Debezium writes the map with Jackson, compact; written by hand here to
                // keep PostgreSQL's key order (serde_json's map would sort the keys).
                let mut out = String::with_capacity(text.len() + 2);
                out.push('{');
                for (i, (key, value)) in array::parse_hstore(text)?.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.to_string()).to_string());
                    out.push(':');
                    match value {
                        Some(value) => out.push_str(&Value::String(value.to_string()).to_string()),
                        None => out.push_str("null"),
                    }
                }
                out.push('}');
                Value::String(out)
            }
            Convert::HstoreMap => Value::Object(
                array::parse_hstore(text)?
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.into_owned(),
                            v.map_or(Value::Null, |v| v.into_owned().into()),
                        )
                    })
                    .collect(),
            ),
        })
    }
}

const BAD_INT: Bad = Bad::Malformed("not an integer of that width");
const BAD_FLOAT: Bad = Bad::Malformed("not a floating-point number");
const DATE_RANGE: Bad = Bad::Unrepresentable("out of range for int32 days");
/// Debezium throws here too, with the same advice.
const SPECIAL_DECIMAL: Bad = Bad::Unrepresentable(
    "NaN and Infinity have no Decimal form; set decimal.handling.mode to string or double",
);

fn parse_int<T: std::str::FromStr>(text: &str) -> Result<T, Bad> {
    text.parse().map_err(|_| BAD_INT)
}

/// A finite float as a JSON number; NaN and the infinities as Jackson writes them
/// (quoted), since JSON numbers cannot hold them.
fn float_json(v: f64) -> Value {
    match serde_json::Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".to_owned()),
        None if v > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

fn decimal_json(d: &Decimal) -> Value {
    Value::String(base64(&d.unscaled_twos_complement()))
}

/// Debezium's `Bits` value: the bit string read as an unsigned binary number (its
/// last character the least significant bit), little-endian, in as few bytes as
/// that number needs (`java.util.BitSet.toByteArray()`; all zeros is no bytes).
fn bits_le(text: &str) -> Result<Vec<u8>, Bad> {
    let mut bytes = vec![0u8; text.len().div_ceil(8)];
    for (i, c) in text.bytes().rev().enumerate() {
        match c {
            b'1' => bytes[i / 8] |= 1 << (i % 8),
            b'0' => {}
            _ => return Err(Bad::Malformed("not a bit string")),
        }
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    Ok(bytes)
}

/// `bytea_output=hex`: `\x` then two hex digits a byte.
fn parse_bytea(text: &str) -> Result<Vec<u8>, Bad> {
    const BAD: Bad = Bad::Malformed("not hex bytea (bytea_output=hex)");
    let hex = text.strip_prefix("\\x").ok_or(BAD)?.as_bytes();
    if hex.len() % 2 != 0 {
        return Err(BAD);
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8).ok_or(BAD);
    hex.chunks(2)
        .map(|pair| Ok(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Lower-case hex, as Debezium's `HexConverter`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
