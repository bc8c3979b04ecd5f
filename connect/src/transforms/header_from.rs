//! `HeaderFrom$Key` / `HeaderFrom$Value` (KIP-145): copies or moves fields of the key
//! or value into headers: `fields=id,source`, `headers=record-id,origin`,
//! `operation=copy`.
//!
//! The n-th field goes to the n-th header, its value written as header bytes by the
//! connector's `header.converter`. Headers are added, never replaced, since Kafka allows
//! repeated keys (and readers take the last one, as `Record::header` does). A field
//! the object lacks gives a header with a null value, as in Kafka. Tombstones and null
//! keys pass unchanged, as with Weir's other field transforms (Kafka's fails them).
//! Schemaless data has no defaults, so `replace.null.with.default` changes nothing.

use std::sync::Arc;

use serde_json::Value;

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, Validator};
use crate::converter::HeaderConverter;
use crate::{ConnectError, Data, Header, Record};

use super::field::{put_object, take_object, Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "fields",
                ConfigType::List,
                "Fields whose values become headers, in the order of headers.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "headers",
                ConfigType::List,
                "Header names, one for each of fields.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "operation",
                ConfigType::String,
                "copy leaves the fields in place; move removes them.",
            )
            .importance(Importance::High)
            .validator(Validator::OneOf(&["copy", "move"])),
        )
        .define(
            ConfigKey::new(
                "replace.null.with.default",
                ConfigType::Boolean,
                "Whether null fields take their schema's default; schemaless data has none, \
                 so nulls stay null.",
            )
            .default_value("true"),
        )
}

#[derive(Debug)]
struct HeaderFrom {
    label: Label,
    side: Side,
    /// (field, header) pairs.
    pairs: Vec<(String, String)>,
    remove_fields: bool,
    converter: Arc<dyn HeaderConverter>,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let fields = settings.list("fields");
    let headers = settings.list("headers");
    if fields.len() != headers.len() {
        return Err(vec![settings
            .issue(
                "headers",
                format!(
                    "'fields' config must have the same number of elements as 'headers' \
                     config: {} fields, {} headers",
                    fields.len(),
                    headers.len()
                ),
            )
            .with_hint(format!(
                "name one header in {} for each field in {}",
                settings.key("headers"),
                settings.key("fields")
            ))]);
    }
    Ok(Box::new(HeaderFrom {
        label,
        side,
        pairs: fields
            .iter()
            .cloned()
            .zip(headers.iter().cloned())
            .collect(),
        remove_fields: settings.string("operation") == Some("move"),
        converter: settings.header_converter(),
    }))
}

impl Transform for HeaderFrom {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let Some(mut object) = take_object(&self.label, self.side, &mut record)? else {
            return Ok(Some(record));
        };
        // Every header is converted before anything changes, so a converter failure
        // leaves the record as it was.
        let mut added = Vec::with_capacity(self.pairs.len());
        for (field, header) in &self.pairs {
            let value = object.get(field).cloned().unwrap_or(Value::Null);
            match self
                .converter
                .from_connect_header(&record.topic, header, &Data::Json(value))
            {
                Ok(bytes) => added.push(Header {
                    key: header.clone(),
                    value: bytes,
                }),
                Err(err) => {
                    put_object(self.side, &mut record, object);
                    return Err(self.label.error(format_args!(
                        "cannot write field '{field}' as header '{header}': {err}"
                    )));
                }
            }
        }
        if self.remove_fields {
            for (field, _) in &self.pairs {
                object.remove(field);
            }
        }
        put_object(self.side, &mut record, object);
        record.headers.extend(added);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform, try_transform_with};
    use super::*;
    use crate::converter::JsonConverter;

    fn header(key: &str, value: Option<&str>) -> Header {
        Header {
            key: key.into(),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        }
    }

    #[test]
    fn copy_keeps_the_fields_and_adds_text_headers() {
        let t = transform(
            "HeaderFrom$Value",
            &[
                ("fields", "id,meta,ok,name"),
                ("headers", "record-id,meta,ok,name"),
                ("operation", "copy"),
            ],
        );
        let value = json!({"id": 7, "meta": {"a": [1]}, "ok": true, "name": "x y"});
        let out = t.apply(json_record("t", value.clone())).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(value));
        assert_eq!(
            out.headers,
            [
                header("record-id", Some("7")),
                header("meta", Some(r#"{"a":[1]}"#)),
                header("ok", Some("true")),
                header("name", Some("x y")),
            ]
        );
    }

    #[test]
    fn move_removes_the_fields_and_keeps_existing_headers() {
        let t = transform(
            "HeaderFrom$Key",
            &[("fields", "id"), ("headers", "id"), ("operation", "move")],
        );
        let mut record = json_record("t", json!({"id": 1}));
        record.key = Data::Json(json!({"id": "k1", "rest": 2}));
        record.headers.push(header("id", Some("older")));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!({"rest": 2})));
        assert_eq!(out.value, Data::Json(json!({"id": 1})));
        // Repeated keys are kept; the new header is the last one.
        assert_eq!(
            out.headers,
            [header("id", Some("older")), header("id", Some("k1"))]
        );
        assert_eq!(out.header("id"), Some(&header("id", Some("k1"))));
    }

    #[test]
    fn missing_and_null_fields_give_null_headers() {
        let t = transform(
            "HeaderFrom$Value",
            &[
                ("fields", "gone,nil"),
                ("headers", "a,b"),
                ("operation", "move"),
            ],
        );
        let out = t
            .apply(json_record("t", json!({"nil": null, "kept": 1})))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Json(json!({"kept": 1})));
        assert_eq!(out.headers, [header("a", None), header("b", None)]);
    }

    #[test]
    fn one_field_may_feed_two_headers() {
        let t = transform(
            "HeaderFrom$Value",
            &[
                ("fields", "id,id"),
                ("headers", "a,b"),
                ("operation", "move"),
            ],
        );
        let out = t
            .apply(json_record("t", json!({"id": 3})))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Json(json!({})));
        assert_eq!(
            out.headers,
            [header("a", Some("3")), header("b", Some("3"))]
        );
    }

    #[test]
    fn uses_the_connectors_header_converter() {
        let t = try_transform_with(
            "HeaderFrom$Value",
            &[
                ("fields", "name,n"),
                ("headers", "name,n"),
                ("operation", "copy"),
            ],
            Arc::new(JsonConverter::default()),
        )
        .unwrap();
        let out = t
            .apply(json_record("t", json!({"name": "x", "n": 1})))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.headers,
            [header("name", Some("\"x\"")), header("n", Some("1"))]
        );
    }

    #[test]
    fn tombstones_pass_and_non_objects_fail() {
        let t = transform(
            "HeaderFrom$Value",
            &[("fields", "a"), ("headers", "a"), ("operation", "copy")],
        );
        let tombstone = Record::new("t", Data::Null);
        assert_eq!(t.apply(tombstone.clone()).unwrap(), Some(tombstone));
        let err = t.apply(json_record("t", json!("text"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t (HeaderFrom$Value): needs a JSON object value, got string; set value.converter=json"
        );
    }

    #[test]
    fn config_problems_name_their_keys() {
        let issues = try_transform(
            "HeaderFrom$Value",
            &[("fields", "a,b"), ("headers", "a"), ("operation", "copy")],
        )
        .unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "transforms.t.headers");
        assert_eq!(
            issues[0].to_string(),
            "transforms.t.headers: 'fields' config must have the same number of elements as \
             'headers' config: 2 fields, 1 headers (hint: name one header in \
             transforms.t.headers for each field in transforms.t.fields)"
        );
        let issues = try_transform(
            "HeaderFrom$Value",
            &[("fields", "a"), ("headers", "a"), ("operation", "cut")],
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.operation");
        let issues = try_transform("HeaderFrom$Value", &[("operation", "copy")]).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["transforms.t.fields", "transforms.t.headers"]);
    }
}
