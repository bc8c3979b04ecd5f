//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of
//! its fields.
//!
//! `field.syntax.version=V1` (the default) takes `field` literally; `V2` reads it as a
//! dotted path into nested objects (KIP-821): `a.b` is field `b` of field `a`, and a
//! name containing dots is wrapped in backticks, `` `a.b`.c ``. A missing field gives
//! null, which as a value is a tombstone.

use serde_json::Value;

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, ConfigValue, Validator};
use crate::{ConnectError, Data, Record};

use super::field::{Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("field", ConfigType::String, "Field name to extract.")
                .validator(Validator::NonEmpty),
        )
        .define(field_syntax_version())
}

/// KIP-821's `field.syntax.version`; Kafka accepts its values in any case.
fn field_syntax_version() -> ConfigKey {
    ConfigKey::new(
        "field.syntax.version",
        ConfigType::String,
        "How field names are read: V1 takes them literally, V2 reads dotted paths into \
         nested objects (backticks around names that contain dots).",
    )
    .default_value("V1")
    .validator(Validator::Custom(|value| match value {
        ConfigValue::String(v) if v.eq_ignore_ascii_case("V1") || v.eq_ignore_ascii_case("V2") => {
            Ok(())
        }
        _ => Err("String must be one of (case insensitive): V1, V2".into()),
    }))
}

#[derive(Debug)]
struct ExtractField {
    label: Label,
    side: Side,
    path: Vec<String>,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let field = settings.string("field").unwrap_or_default();
    let v2 = settings
        .string("field.syntax.version")
        .is_some_and(|v| v.eq_ignore_ascii_case("V2"));
    let path = if v2 {
        parse_path(field)
    } else {
        vec![field.to_string()]
    };
    Ok(Box::new(ExtractField { label, side, path }))
}

/// Splits a V2 path at dots, keeping dots inside backtick-wrapped names. A backtick
/// opens a name only at the start of a segment and closes it only before a dot or the
/// end; `` \` `` is a literal backtick inside one. Anything else is taken literally, as
/// KIP-821 asks, so no path is an error.
fn parse_path(path: &str) -> Vec<String> {
    let chars: Vec<char> = path.chars().collect();
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    let mut quoted = false;
    let mut segment_start = true;
    while i < chars.len() {
        let c = chars[i];
        let at_boundary = i + 1 == chars.len() || chars[i + 1] == '.';
        if quoted {
            if c == '\\' && chars.get(i + 1) == Some(&'`') {
                current.push('`');
                i += 1;
            } else if c == '`' && at_boundary {
                quoted = false;
            } else {
                current.push(c);
            }
        } else if c == '`' && segment_start && chars[i + 1..].contains(&'`') {
            quoted = true;
        } else if c == '.' {
            segments.push(std::mem::take(&mut current));
            segment_start = true;
            i += 1;
            continue;
        } else {
            current.push(c);
        }
        segment_start = false;
        i += 1;
    }
    segments.push(current);
    segments
}

impl Transform for ExtractField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let data = self.side.of_mut(&mut record);
        if data.is_null() {
            return Ok(Some(record));
        }
        let Data::Json(Value::Object(object)) = data else {
            return Err(self.label.not_an_object(self.side, data.kind()));
        };
        let mut current = object.remove(&self.path[0]).unwrap_or(Value::Null);
        for segment in &self.path[1..] {
            current = match current {
                Value::Object(mut inner) => inner.remove(segment).unwrap_or(Value::Null),
                _ => Value::Null,
            };
        }
        *data = match current {
            Value::Null => Data::Null,
            value => Data::Json(value),
        };
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};
    use super::parse_path;
    use crate::Data;

    #[test]
    fn kafkas_documented_example() {
        // Kafka's docs: field=id turns {"id": 42, "name": "x"} into 42.
        let t = transform("ExtractField$Key", &[("field", "id")]);
        let mut record = json_record("t", json!({"v": 1}));
        record.key = Data::Json(json!({"id": 42, "name": "x"}));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!(42)));
        assert_eq!(out.value, Data::Json(json!({"v": 1})));
    }

    #[test]
    fn v1_takes_dots_literally_and_v2_follows_them() {
        let value = json!({"a.b": "flat", "a": {"b": "nested"}});
        let v1 = transform("ExtractField$Value", &[("field", "a.b")]);
        let out = v1.apply(json_record("t", value.clone())).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!("flat")));
        let v2 = transform(
            "ExtractField$Value",
            &[("field", "a.b"), ("field.syntax.version", "v2")],
        );
        let out = v2.apply(json_record("t", value)).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!("nested")));
    }

    #[test]
    fn a_missing_field_is_a_tombstone() {
        let t = transform("ExtractField$Value", &[("field", "x")]);
        let out = t.apply(json_record("t", json!({"y": 1}))).unwrap().unwrap();
        assert_eq!(out.value, Data::Null);
    }

    #[test]
    fn v2_paths_follow_kip_821() {
        assert_eq!(parse_path("a.b.c"), ["a", "b", "c"]);
        assert_eq!(parse_path("`a.b`.c"), ["a.b", "c"]);
        assert_eq!(parse_path("a.`b.c`"), ["a", "b.c"]);
        assert_eq!(parse_path("`a\\`b`"), ["a`b"]);
        assert_eq!(parse_path("a`b.c"), ["a`b", "c"]);
        assert_eq!(parse_path("`open"), ["`open"]);
    }

    #[test]
    fn rejects_unknown_syntax_versions() {
        let issues = try_transform(
            "ExtractField$Value",
            &[("field", "a"), ("field.syntax.version", "V3")],
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.field.syntax.version");
    }
}
