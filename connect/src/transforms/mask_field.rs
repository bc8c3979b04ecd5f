//! `MaskField$Key` / `MaskField$Value`: replaces fields with an empty value of their
//! type (`""`, `0`, `false`, `[]`, `{}`), or with `replacement` for strings and numbers.
//!
//! As in Kafka, null fields stay null, a listed field missing from the object is set to
//! null, and a custom replacement that does not fit the field's type (text for a number,
//! anything for a boolean or a structure) is an error on the record.

use serde_json::{Map, Number, Value};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Validator};
use crate::{ConnectError, Record};

use super::field::{put_object, take_object, Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("fields", ConfigType::List, "Names of the fields to mask.")
                .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "replacement",
                ConfigType::String,
                "Custom replacement for string and number fields; unset masks with an \
                 empty value of the field's type.",
            )
            .optional()
            .validator(Validator::NonEmpty),
        )
}

#[derive(Debug)]
struct MaskField {
    label: Label,
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    Ok(Box::new(MaskField {
        label,
        side,
        fields: settings.list("fields").to_vec(),
        replacement: settings.string("replacement").map(str::to_string),
    }))
}

impl MaskField {
    fn masked(&self, field: &str, value: &Value) -> Result<Value, ConnectError> {
        let Some(replacement) = &self.replacement else {
            return Ok(empty_like(value));
        };
        let fits = match value {
            Value::Null => return Ok(Value::Null),
            Value::String(_) => Some(Value::from(replacement.as_str())),
            Value::Number(n) if n.is_f64() => replacement
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number),
            Value::Number(_) => replacement.parse::<i64>().ok().map(Value::from),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
        };
        fits.ok_or_else(|| {
            let kind = crate::Data::Json(value.clone()).kind();
            self.label.error(format_args!(
                "cannot mask the {kind} field {field} with replacement {replacement:?}"
            ))
        })
    }
}

/// The empty value of `value`'s type, as Kafka's `MaskField` without a replacement.
fn empty_like(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Bool(_) => Value::Bool(false),
        Value::Number(n) if n.is_f64() => Value::from(0.0),
        Value::Number(_) => Value::from(0),
        Value::String(_) => Value::from(""),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(Map::new()),
    }
}

impl Transform for MaskField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let Some(mut object) = take_object(&self.label, self.side, &mut record)? else {
            return Ok(Some(record));
        };
        for field in &self.fields {
            let masked = self.masked(field, object.get(field).unwrap_or(&Value::Null));
            match masked {
                Ok(masked) => {
                    object.insert(field.clone(), masked);
                }
                Err(err) => {
                    put_object(self.side, &mut record, object);
                    return Err(err);
                }
            }
        }
        put_object(self.side, &mut record, object);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};
    use crate::Data;

    #[test]
    fn masks_with_empty_values_of_each_type() {
        let t = transform("MaskField$Value", &[("fields", "s,i,f,b,a,o,n,missing")]);
        let record = json_record(
            "t",
            json!({"s": "secret", "i": 42, "f": 1.5, "b": true, "a": [1], "o": {"x": 1},
                   "n": null, "keep": "x"}),
        );
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(
            out.value,
            Data::Json(
                json!({"s": "", "i": 0, "f": 0.0, "b": false, "a": [], "o": {},
                              "n": null, "missing": null, "keep": "x"})
            )
        );
    }

    #[test]
    fn kafkas_documented_replacement_example() {
        // Kafka's docs: fields=string_field, replacement=<redacted>.
        let t = transform(
            "MaskField$Value",
            &[
                ("fields", "string_field,count"),
                ("replacement", "<redacted>"),
            ],
        );
        let out = t
            .apply(json_record("t", json!({"string_field": "ssn", "count": 1})))
            .unwrap_err();
        assert_eq!(
            out.to_string(),
            "t (MaskField$Value): cannot mask the number field count with replacement \"<redacted>\""
        );
        let t = transform(
            "MaskField$Value",
            &[("fields", "string_field"), ("replacement", "<redacted>")],
        );
        let out = t
            .apply(json_record("t", json!({"string_field": "ssn"})))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Json(json!({"string_field": "<redacted>"})));
        let t = transform(
            "MaskField$Value",
            &[("fields", "n,f"), ("replacement", "9")],
        );
        let out = t
            .apply(json_record("t", json!({"n": 1, "f": 0.5})))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Json(json!({"n": 9, "f": 9.0})));
    }

    #[test]
    fn fields_are_required() {
        let issues = try_transform("MaskField$Key", &[]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.fields");
        assert_eq!(
            issues[0].message,
            "Missing required configuration \"transforms.t.fields\" which has no default value."
        );
    }
}
