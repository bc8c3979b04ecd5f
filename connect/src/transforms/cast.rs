//! `Cast$Key` / `Cast$Value`: casts the whole key or value, or some of its fields, to
//! a primitive type: `spec=string` or `spec=id:int32,score:float64`.
//!
//! Casts behave as Kafka's do on schemaless data, which are Java's conversions:
//! numbers narrow to the target integer width by dropping high bits (a fraction is cut
//! toward zero first, saturating at the 32-bit range for `int8`/`int16`/`int32` and the
//! 64-bit range for `int64`), booleans are 1 or 0, a number is `true` when its integer
//! part is not 0, and a string is `true` only when it says `true` in any case. Strings
//! are parsed strictly: an integer out of the target's range or text that is no number
//! fails the record, naming the field and the value. `string` renders a value as text;
//! `bytes` data (the `bytes` converter) can only be cast to `string`, as base64, as in
//! Kafka. Objects and arrays are not cast. Nulls stay null: schemaless data has no
//! defaults, so `replace.null.with.default` is accepted and changes nothing.

use serde_json::{Map, Number, Value};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, Validator};
use crate::converter::base64;
use crate::{ConnectError, Data, Record};

use super::field::{put_object, take_object, Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "spec",
                ConfigType::List,
                "One type to cast the whole key or value to, or field:type pairs \
                 (e.g. id:int32,score:float64). Types: int8, int16, int32, int64, \
                 float32, float64, boolean, string.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "replace.null.with.default",
                ConfigType::Boolean,
                "Whether nulls take their schema's default; schemaless data has none, so \
                 nulls stay null.",
            )
            .default_value("true"),
        )
}

/// A target type: Kafka's schema type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CastType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

const TYPES: [(&str, CastType); 8] = [
    ("int8", CastType::Int8),
    ("int16", CastType::Int16),
    ("int32", CastType::Int32),
    ("int64", CastType::Int64),
    ("float32", CastType::Float32),
    ("float64", CastType::Float64),
    ("boolean", CastType::Boolean),
    ("string", CastType::String),
];

impl CastType {
    /// Kafka reads type names in any case.
    fn parse(name: &str) -> Option<CastType> {
        TYPES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| *t)
    }

    fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("", |(n, _)| n)
    }
}

#[derive(Debug, PartialEq)]
enum Spec {
    Whole(CastType),
    /// In spec order; a field named twice takes its last type, as in Kafka.
    Fields(Vec<(String, CastType)>),
}

#[derive(Debug)]
struct Cast {
    label: Label,
    side: Side,
    spec: Spec,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let spec = parse_spec(settings.list("spec")).map_err(|why| {
        let written = settings.list("spec").join(",");
        vec![settings.invalid("spec", &written, why).with_hint(
            "write one type (spec=string) or field:type pairs (spec=id:int32,ok:boolean)",
        )]
    })?;
    Ok(Box::new(Cast { label, side, spec }))
}

fn parse_spec(entries: &[String]) -> Result<Spec, String> {
    let type_of = |name: &str| {
        CastType::parse(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = TYPES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown type '{}' in the cast spec; Cast supports {}",
                name.trim(),
                known.join(", ")
            )
        })
    };
    let mut fields: Vec<(String, CastType)> = Vec::new();
    for entry in entries {
        let parts: Vec<&str> = entry.split(':').collect();
        match parts[..] {
            [whole] if entries.len() == 1 => return Ok(Spec::Whole(type_of(whole)?)),
            [_] => {
                return Err(format!(
                    "'{entry}' casts the whole value, which must be the only entry of the spec"
                ))
            }
            [field, ty] if !field.trim().is_empty() => {
                let ty = type_of(ty)?;
                let field = field.trim();
                fields.retain(|(f, _)| f != field);
                fields.push((field.to_string(), ty));
            }
            _ => return Err(format!("invalid cast mapping '{entry}'; write field:type")),
        }
    }
    Ok(Spec::Fields(fields))
}

impl Transform for Cast {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let fields = match &self.spec {
            Spec::Whole(to) => {
                let data = self.side.of_mut(&mut record);
                let parsed;
                let data_ref = match &*data {
                    // Only reached outside a chain, which parses JSON text first.
                    Data::JsonText(text) => {
                        parsed = Data::Json(serde_json::from_slice(text).map_err(|e| {
                            self.label.error(format_args!(
                                "the {} is not valid JSON: {e}",
                                self.side.name()
                            ))
                        })?);
                        &parsed
                    }
                    other => other,
                };
                let cast = match data_ref {
                    // A null key or a tombstone passes, as in Kafka.
                    Data::Null => return Ok(Some(record)),
                    Data::Bytes(bytes) if *to == CastType::String => Value::String(base64(bytes)),
                    Data::Bytes(_) => {
                        return Err(self.label.error(format_args!(
                            "cannot cast the {} to {}: bytes can only be cast to string",
                            self.side.name(),
                            to.name()
                        )))
                    }
                    Data::Json(value) => cast(value, *to).map_err(|why| {
                        self.label.error(format_args!(
                            "cannot cast the {} {} to {}: {why}",
                            self.side.name(),
                            shown(value),
                            to.name()
                        ))
                    })?,
                    Data::JsonText(_) => unreachable!("parsed above"),
                };
                *data = Data::Json(cast);
                return Ok(Some(record));
            }
            Spec::Fields(fields) => fields,
        };
        let Some(mut object) = take_object(&self.label, self.side, &mut record)? else {
            return Ok(Some(record));
        };
        if let Err(err) = self.cast_fields(fields, &mut object) {
            put_object(self.side, &mut record, object);
            return Err(err);
        }
        put_object(self.side, &mut record, object);
        Ok(Some(record))
    }
}

impl Cast {
    /// Casts every field first and writes them after, so a failure leaves the object
    /// as it was. A field the object lacks stays absent.
    fn cast_fields(
        &self,
        fields: &[(String, CastType)],
        object: &mut Map<String, Value>,
    ) -> Result<(), ConnectError> {
        let mut cast_values = Vec::with_capacity(fields.len());
        for (field, to) in fields {
            let Some(value) = object.get(field) else {
                continue;
            };
            let value = cast(value, *to).map_err(|why| {
                self.label.error(format_args!(
                    "cannot cast field '{field}' value {} to {}: {why}",
                    shown(value),
                    to.name()
                ))
            })?;
            cast_values.push((field, value));
        }
        for (field, value) in cast_values {
            object.insert(field.clone(), value);
        }
        Ok(())
    }
}

/// A value for an error message, cut short so a large value does not flood the log.
fn shown(value: &Value) -> String {
    const MAX: usize = 64;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// A JSON number as the Java value Kafka's converter would have made of it.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    /// Above `i64::MAX`; narrowing keeps its low bits, as Java's `BigInteger` does.
    Big(u64),
    Float(f64),
}

impl Num {
    fn of(number: &Number) -> Num {
        if let Some(i) = number.as_i64() {
            Num::Int(i)
        } else if let Some(u) = number.as_u64() {
            Num::Big(u)
        } else {
            Num::Float(number.as_f64().unwrap_or(0.0))
        }
    }

    /// Java's `intValue()` then a narrowing cast, as `byteValue()`/`shortValue()` do.
    fn narrow32(self) -> i32 {
        match self {
            Num::Int(i) => i as i32,
            Num::Big(u) => u as i32,
            // Rust's float-to-int `as` saturates like Java's, with NaN at 0.
            Num::Float(f) => f as i32,
        }
    }

    fn long(self) -> i64 {
        match self {
            Num::Int(i) => i,
            Num::Big(u) => u as i64,
            Num::Float(f) => f as i64,
        }
    }

    fn double(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Big(u) => u as f64,
            Num::Float(f) => f,
        }
    }
}

/// `value` cast to `to`, or why it cannot be.
fn cast(value: &Value, to: CastType) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::Object(_) => Err("objects cannot be cast".into()),
        Value::Array(_) => Err("arrays cannot be cast".into()),
        Value::Number(number) => from_number(Num::of(number), to, number),
        Value::Bool(b) => match to {
            CastType::Boolean => Ok(Value::Bool(*b)),
            CastType::String => Ok(Value::String(b.to_string())),
            _ => {
                let one_or_zero = i64::from(*b);
                from_number(Num::Int(one_or_zero), to, &Number::from(one_or_zero))
            }
        },
        Value::String(text) => from_string(text, to),
    }
}

fn from_number(num: Num, to: CastType, written: &Number) -> Result<Value, String> {
    Ok(match to {
        CastType::Int8 => Value::from(num.narrow32() as i8),
        CastType::Int16 => Value::from(num.narrow32() as i16),
        CastType::Int32 => Value::from(num.narrow32()),
        CastType::Int64 => Value::from(num.long()),
        CastType::Float32 => float32(num.double() as f32)?,
        CastType::Float64 => float64(num.double())?,
        CastType::Boolean => Value::Bool(num.long() != 0),
        CastType::String => Value::String(written.to_string()),
    })
}

fn from_string(text: &str, to: CastType) -> Result<Value, String> {
    fn int<T: std::str::FromStr<Err = std::num::ParseIntError> + Into<Value>>(
        text: &str,
        name: &str,
    ) -> Result<Value, String> {
        use std::num::IntErrorKind::{NegOverflow, PosOverflow};
        text.parse::<T>()
            .map(Into::into)
            .map_err(|e| match e.kind() {
                PosOverflow | NegOverflow => format!("out of range for {name}"),
                _ => "not an integer".to_string(),
            })
    }
    // Java's float parsing ignores surrounding spaces; its integer parsing does not.
    let float = || {
        text.trim()
            .parse::<f64>()
            .map_err(|_| "not a number".to_string())
    };
    match to {
        CastType::Int8 => int::<i8>(text, "int8"),
        CastType::Int16 => int::<i16>(text, "int16"),
        CastType::Int32 => int::<i32>(text, "int32"),
        CastType::Int64 => int::<i64>(text, "int64"),
        CastType::Float32 => float32(
            text.trim()
                .parse::<f32>()
                .map_err(|_| "not a number".to_string())?,
        ),
        CastType::Float64 => float64(float()?),
        CastType::Boolean => Ok(Value::Bool(text.eq_ignore_ascii_case("true"))),
        CastType::String => Ok(Value::String(text.to_string())),
    }
}

/// A `float32` as JSON: written with the digits a 32-bit float needs (0.1, not
/// 0.10000000149011612), as Kafka's converter writes a Java `float`.
fn float32(f: f32) -> Result<Value, String> {
    let shortest: f64 = f.to_string().parse().unwrap_or(f64::NAN);
    Number::from_f64(shortest)
        .map(Value::Number)
        .ok_or_else(|| "out of range for float32".to_string())
}

fn float64(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "not a finite number".to_string())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};
    use super::*;

    fn cast_value(spec: &str, value: Value) -> Result<Value, String> {
        let t = transform("Cast$Value", &[("spec", spec)]);
        match t.apply(json_record("t", value)) {
            Ok(out) => match out.unwrap().value {
                Data::Json(v) => Ok(v),
                other => panic!("{other:?}"),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    fn whole(spec: &str, value: Value) -> Value {
        cast_value(spec, value).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn casts_fields_as_kafkas_documented_example() {
        let out = whole(
            "ID:string,score:float64",
            json!({"ID": 46290, "score": 4761}),
        );
        assert_eq!(out, json!({"ID": "46290", "score": 4761.0}));
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"ID":"46290","score":4761.0}"#
        );
    }

    #[test]
    fn numbers_narrow_as_java_casts_do() {
        assert_eq!(whole("int8", json!(300)), json!(44));
        assert_eq!(whole("int8", json!(-129)), json!(127));
        assert_eq!(whole("int16", json!(70000)), json!(4464));
        assert_eq!(whole("int32", json!(4_294_967_297_i64)), json!(1));
        assert_eq!(whole("int64", json!(u64::MAX)), json!(-1));
        assert_eq!(whole("int32", json!(-2.9)), json!(-2));
        assert_eq!(whole("int32", json!(1e20)), json!(i32::MAX));
        assert_eq!(whole("int64", json!(-1e30)), json!(i64::MIN));
        // A double narrows to int first, then to the byte.
        assert_eq!(whole("int8", json!(1e10)), json!(-1));
        assert_eq!(whole("int16", json!(40000.7)), json!(-25536));
        assert_eq!(whole("float32", json!(0.1)), json!(0.1));
        assert_eq!(whole("float32", json!(16_777_217)), json!(16_777_216.0));
        assert_eq!(whole("float64", json!(7)), json!(7.0));
        assert_eq!(whole("string", json!(63521704.02)), json!("63521704.02"));
        assert_eq!(whole("string", json!(-5)), json!("-5"));
    }

    #[test]
    fn booleans_and_numbers_convert_both_ways() {
        assert_eq!(whole("boolean", json!(2)), json!(true));
        assert_eq!(whole("boolean", json!(0)), json!(false));
        // Kafka compares the integer part with 0.
        assert_eq!(whole("boolean", json!(0.5)), json!(false));
        assert_eq!(whole("boolean", json!(-1.5)), json!(true));
        assert_eq!(whole("int32", json!(true)), json!(1));
        assert_eq!(whole("int8", json!(false)), json!(0));
        assert_eq!(whole("float64", json!(true)), json!(1.0));
        assert_eq!(whole("string", json!(false)), json!("false"));
        assert_eq!(whole("boolean", json!(true)), json!(true));
    }

    #[test]
    fn strings_parse_strictly() {
        assert_eq!(whole("int8", json!("-128")), json!(-128));
        assert_eq!(whole("int64", json!("+42")), json!(42));
        assert_eq!(whole("float64", json!(" 2.5 ")), json!(2.5));
        assert_eq!(whole("float32", json!("0.1")), json!(0.1));
        assert_eq!(whole("boolean", json!("TRUE")), json!(true));
        assert_eq!(whole("boolean", json!("yes")), json!(false));
        assert_eq!(whole("string", json!("as is")), json!("as is"));
        assert_eq!(
            cast_value("int8", json!("128")).unwrap_err(),
            r#"t (Cast$Value): cannot cast the value "128" to int8: out of range for int8"#
        );
        assert_eq!(
            cast_value("id:int32", json!({"id": "1.5"})).unwrap_err(),
            r#"t (Cast$Value): cannot cast field 'id' value "1.5" to int32: not an integer"#
        );
        assert_eq!(
            cast_value("int32", json!(" 1")).unwrap_err(),
            r#"t (Cast$Value): cannot cast the value " 1" to int32: not an integer"#
        );
        assert!(cast_value("float64", json!("abc"))
            .unwrap_err()
            .ends_with("not a number"));
        assert!(cast_value("float64", json!("NaN"))
            .unwrap_err()
            .ends_with("not a finite number"));
        assert!(cast_value("float32", json!("1e39"))
            .unwrap_err()
            .ends_with("out of range for float32"));
    }

    #[test]
    fn failures_leave_the_record_whole_and_cut_long_values() {
        let t = transform("Cast$Value", &[("spec", "a:int32,b:int32")]);
        let err = t
            .apply(json_record("t", json!({"a": "1", "b": "x".repeat(200)})))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t (Cast$Value): cannot cast field 'b' value \"xxx"),
            "{err}"
        );
        assert!(err.contains("…"), "{err}");
        assert!(err.len() < 160, "{err}");
        let err = cast_value("a:string", json!({"a": {"nested": 1}})).unwrap_err();
        assert_eq!(
            err,
            r#"t (Cast$Value): cannot cast field 'a' value {"nested":1} to string: objects cannot be cast"#
        );
        assert!(cast_value("string", json!([1]))
            .unwrap_err()
            .ends_with("arrays cannot be cast"));
    }

    #[test]
    fn nulls_tombstones_and_missing_fields_pass() {
        let t = transform(
            "Cast$Value",
            &[("spec", "a:int8"), ("replace.null.with.default", "false")],
        );
        let tombstone = Record::new("t", Data::Null);
        assert_eq!(t.apply(tombstone.clone()).unwrap(), Some(tombstone));
        assert_eq!(
            cast_value("a:int8,b:string", json!({"a": null, "c": 1})).unwrap(),
            json!({"a": null, "c": 1})
        );
        let t = transform("Cast$Value", &[("spec", "int64")]);
        let tombstone = Record::new("t", Data::Json(Value::Null));
        assert_eq!(t.apply(tombstone.clone()).unwrap(), Some(tombstone));
        let err = cast_value("a:int8", json!(5)).unwrap_err();
        assert!(
            err.contains("needs a JSON object value, got number"),
            "{err}"
        );
    }

    #[test]
    fn key_variant_casts_the_key_only() {
        let t = transform("Cast$Key", &[("spec", "int32")]);
        let mut record = json_record("t", json!("7"));
        record.key = Data::Json(json!("7"));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!(7)));
        assert_eq!(out.value, Data::Json(json!("7")));
        let null_key = json_record("t", json!(1));
        assert_eq!(t.apply(null_key.clone()).unwrap(), Some(null_key));
    }

    #[test]
    fn bytes_cast_to_base64_strings_only() {
        let t = transform("Cast$Value", &[("spec", "STRING")]);
        let record = Record::new("t", Data::Bytes(Bytes::from_static(b"\xff\x00")));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!("/wA=")));
        let t = transform("Cast$Value", &[("spec", "int32")]);
        let err = t
            .apply(Record::new("t", Data::Bytes(Bytes::from_static(b"1"))))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t (Cast$Value): cannot cast the value to int32: bytes can only be cast to string"
        );
    }

    #[test]
    fn spec_problems_are_issues_on_the_spec_key() {
        let issue = |spec: &str| {
            let issues = try_transform("Cast$Value", &[("spec", spec)]).unwrap_err();
            assert_eq!(issues.len(), 1, "{issues:?}");
            assert_eq!(issues[0].key, "transforms.t.spec");
            issues[0].message.clone()
        };
        assert_eq!(
            issue("a:int9"),
            "Invalid value a:int9 for configuration transforms.t.spec: unknown type 'int9' in \
             the cast spec; Cast supports int8, int16, int32, int64, float32, float64, boolean, \
             string"
        );
        assert!(issue("bytes").contains("unknown type 'bytes'"));
        assert!(issue("string,a:int8").contains("'string' casts the whole value"));
        assert!(issue("a:b:c").contains("invalid cast mapping 'a:b:c'"));
        assert!(issue(":int8").contains("invalid cast mapping ':int8'"));
        assert_eq!(
            issue(""),
            "Invalid value  for configuration transforms.t.spec: List must be non-empty"
        );
        let issues = try_transform("Cast$Value", &[]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.spec");
    }

    #[test]
    fn a_field_named_twice_takes_its_last_type() {
        assert_eq!(
            parse_spec(&["a:int8".into(), " b : String ".into(), "a:string".into()]),
            Ok(Spec::Fields(vec![
                ("b".into(), CastType::String),
                ("a".into(), CastType::String)
            ]))
        );
        assert_eq!(
            whole("a:int8,a:string", json!({"a": 300})),
            json!({"a": "300"})
        );
    }
}
