//! Kafka Connect's `SimpleHeaderConverter`, the default `header.converter`: a header
//! value as text, and text read back as the most specific value it spells.
//!
//! Writing: strings as they are, numbers and booleans as their text, objects and arrays
//! as JSON, bytes as base64 (as Kafka's `Values` renders them), null as a null header.
//! Reading ([`parse_string`], Kafka's `Values.parseString`): `true`/`false`, `null`,
//! numbers, JSON objects and arrays; anything else is the text itself. Kafka's parser
//! also reads dates and times into temporal values; Weir has none, and Kafka writes
//! them back as the same text, so they stay strings here.

use bytes::Bytes;
use serde_json::{Number, Value};

use crate::config::ConfigDef;
use crate::{ConnectError, Data};

use super::HeaderConverter;

/// Header values as UTF-8 text.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleHeaderConverter;

impl SimpleHeaderConverter {
    /// No settings (Kafka's `converter.encoding` is not offered: headers are UTF-8).
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
    }
}

impl HeaderConverter for SimpleHeaderConverter {
    fn from_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        value: &Data,
    ) -> Result<Option<Bytes>, ConnectError> {
        Ok(match value {
            Data::Bytes(bytes) => Some(Bytes::from(super::base64(bytes))),
            other => other.to_text().map(Bytes::from),
        })
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConnectError> {
        // Kafka decodes the bytes as UTF-8 with replacement rather than failing, so a
        // binary header reads as (mangled) text instead of failing the record.
        Ok(match bytes {
            None => Data::Null,
            Some(bytes) => parse_string(&String::from_utf8_lossy(bytes)),
        })
    }
}

/// The value `text` spells, as Kafka's `Values.parseString` reads it: `null`, a
/// boolean (any case), an integer that fits in 64 bits, a finite decimal number, a
/// JSON object or array, or else the text unchanged (surrounding spaces kept).
pub fn parse_string(text: &str) -> Data {
    let token = text.trim();
    if token.is_empty() {
        return Data::Json(Value::String(text.to_string()));
    }
    if token == "null" {
        return Data::Null;
    }
    if token.eq_ignore_ascii_case("true") {
        return Data::Json(Value::Bool(true));
    }
    if token.eq_ignore_ascii_case("false") {
        return Data::Json(Value::Bool(false));
    }
    if let Some(number) = parse_number(token) {
        return Data::Json(Value::Number(number));
    }
    if token.starts_with('{') || token.starts_with('[') {
        if let Ok(value) = serde_json::from_str::<Value>(token) {
            return Data::Json(value);
        }
    }
    Data::Json(Value::String(text.to_string()))
}

/// A decimal number: an optional sign, digits, an optional fraction and exponent.
/// Words Rust's float parser also takes (`inf`, `NaN`) are text here, as in Kafka.
fn parse_number(token: &str) -> Option<Number> {
    let unsigned = token.strip_prefix(['+', '-']).unwrap_or(token);
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || !unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    if unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // Too large for 64 bits: Kafka keeps a BigDecimal, which it writes back as the
        // same digits; keeping the text does the same.
        return token.parse::<i64>().ok().map(Number::from);
    }
    token.parse::<f64>().ok().and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn write(value: Data) -> Option<String> {
        SimpleHeaderConverter
            .from_connect_header("t", "h", &value)
            .unwrap()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
    }

    fn read(text: &str) -> Data {
        SimpleHeaderConverter
            .to_connect_header("t", "h", Some(text.as_bytes()))
            .unwrap()
    }

    #[test]
    fn writes_values_as_text() {
        assert_eq!(write(Data::Json(json!("plain"))).as_deref(), Some("plain"));
        assert_eq!(write(Data::Json(json!(42))).as_deref(), Some("42"));
        assert_eq!(write(Data::Json(json!(-1.5))).as_deref(), Some("-1.5"));
        assert_eq!(write(Data::Json(json!(true))).as_deref(), Some("true"));
        assert_eq!(
            write(Data::Json(json!({"a": [1, "x"]}))).as_deref(),
            Some(r#"{"a":[1,"x"]}"#)
        );
        assert_eq!(
            write(Data::Bytes(Bytes::from_static(b"foo"))).as_deref(),
            Some("Zm9v")
        );
        assert_eq!(write(Data::Null), None);
        assert_eq!(write(Data::Json(Value::Null)), None);
    }

    #[test]
    fn reads_the_most_specific_value() {
        assert_eq!(read("42"), Data::Json(json!(42)));
        assert_eq!(read("-7"), Data::Json(json!(-7)));
        assert_eq!(read("+7"), Data::Json(json!(7)));
        assert_eq!(read("1.5"), Data::Json(json!(1.5)));
        assert_eq!(read("1e3"), Data::Json(json!(1000.0)));
        assert_eq!(read("TRUE"), Data::Json(json!(true)));
        assert_eq!(read("false"), Data::Json(json!(false)));
        assert_eq!(read("null"), Data::Null);
        assert_eq!(read(r#"{"a": 1}"#), Data::Json(json!({"a": 1})));
        assert_eq!(read("[1, 2]"), Data::Json(json!([1, 2])));
        assert_eq!(
            SimpleHeaderConverter
                .to_connect_header("t", "h", None)
                .unwrap(),
            Data::Null
        );
    }

    #[test]
    fn anything_else_is_the_text_itself() {
        for text in [
            "",
            " ",
            "hello",
            " spaced ",
            "12abc",
            "1.2.3",
            "inf",
            "NaN",
            "-",
            "{not json",
            "2024-01-31",
            "99999999999999999999",
        ] {
            assert_eq!(read(text), Data::Json(json!(text)), "{text:?}");
        }
        assert_eq!(
            SimpleHeaderConverter
                .to_connect_header("t", "h", Some(b"ok\xff"))
                .unwrap(),
            Data::Json(json!("ok\u{fffd}"))
        );
    }

    #[test]
    fn text_round_trips_through_a_header() {
        for text in ["hello", "42", "true", "[1,2]", r#"{"a":"b"}"#, "a b"] {
            let value = parse_string(text);
            assert_eq!(write(value).as_deref(), Some(text));
        }
    }
}
