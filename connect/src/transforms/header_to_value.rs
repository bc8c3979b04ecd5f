//! Debezium's `HeaderToValue`: copies or moves headers into fields of the value, the
//! inverse of `HeaderFrom`: `headers=file.name,file.line`, `fields=file,line`,
//! `operation=copy`. Log shipping uses it to put the file source's `file.name` and
//! `file.line` headers into the indexed document.
//!
//! The n-th header goes to the n-th field, read with the connector's
//! `header.converter` (the default `SimpleHeaderConverter` reads `12` as a number and
//! other text as a string). A dotted field (`source.file`) is a nested path; missing
//! objects on the way are created. A repeated header gives its last value, as
//! `Record::header` reads it; `move` removes every header with the key. A header the
//! record lacks leaves its field out, so an absent header and a null one stay
//! distinguishable downstream. Tombstones pass unchanged, as with the other field
//! transforms.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, Validator};
use crate::converter::HeaderConverter;
use crate::{ConnectError, Data, Record};

use super::field::{put_object, take_object, Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "headers",
                ConfigType::List,
                "Headers whose values become fields, in the order of fields.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "fields",
                ConfigType::List,
                "Value fields, one for each of headers; a dotted name is a nested path.",
            )
            .importance(Importance::High)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "operation",
                ConfigType::String,
                "copy leaves the headers in place; move removes them.",
            )
            .importance(Importance::High)
            .validator(Validator::OneOf(&["copy", "move"])),
        )
}

#[derive(Debug)]
struct HeaderToValue {
    label: Label,
    /// (header, field path) pairs.
    pairs: Vec<(String, Vec<String>)>,
    remove_headers: bool,
    converter: Arc<dyn HeaderConverter>,
}

pub(super) fn build(
    label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let headers = settings.list("headers");
    let fields = settings.list("fields");
    if fields.len() != headers.len() {
        return Err(vec![settings
            .issue(
                "fields",
                format!(
                    "'headers' and 'fields' must have the same number of elements: {} \
                     headers, {} fields",
                    headers.len(),
                    fields.len()
                ),
            )
            .with_hint(format!(
                "name one field in {} for each header in {}",
                settings.key("fields"),
                settings.key("headers")
            ))]);
    }
    if let Some(field) = fields
        .iter()
        .find(|f| f.split('.').any(|part| part.is_empty()))
    {
        return Err(vec![settings.invalid(
            "fields",
            field,
            "a field path has an empty part",
        )]);
    }
    Ok(Box::new(HeaderToValue {
        label,
        pairs: headers
            .iter()
            .cloned()
            .zip(
                fields
                    .iter()
                    .map(|f| f.split('.').map(str::to_string).collect()),
            )
            .collect(),
        remove_headers: settings.string("operation") == Some("move"),
        converter: settings.header_converter(),
    }))
}

impl Transform for HeaderToValue {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let Some(mut object) = take_object(&self.label, Side::Value, &mut record)? else {
            return Ok(Some(record));
        };
        // Every header is read before anything changes, so a converter failure leaves
        // the record as it was.
        let mut values = Vec::with_capacity(self.pairs.len());
        for (header, path) in &self.pairs {
            let Some(found) = record.header(header) else {
                continue;
            };
            let data = self
                .converter
                .to_connect_header(&record.topic, header, found.value.as_deref())
                .and_then(|data| json(data, header));
            match data {
                Ok(value) => values.push((path, value)),
                Err(err) => {
                    put_object(Side::Value, &mut record, object);
                    return Err(self
                        .label
                        .error(format_args!("cannot read header '{header}': {err}")));
                }
            }
        }
        for (path, value) in values {
            if let Err(blocked) = insert(&mut object, path, value) {
                put_object(Side::Value, &mut record, object);
                return Err(self.label.error(format_args!(
                    "cannot set '{}': '{blocked}' is not an object",
                    path.join(".")
                )));
            }
        }
        if self.remove_headers {
            record
                .headers
                .retain(|h| !self.pairs.iter().any(|(header, _)| *header == h.key));
        }
        put_object(Side::Value, &mut record, object);
        Ok(Some(record))
    }
}

/// A header's data as a JSON value; bytes only when they are UTF-8 text.
fn json(data: Data, header: &str) -> Result<Value, ConnectError> {
    match data.into_structured() {
        Ok(Data::Null) => Ok(Value::Null),
        Ok(Data::Json(value)) => Ok(value),
        Ok(Data::Bytes(bytes)) => String::from_utf8(bytes.to_vec())
            .map(Value::String)
            .map_err(|_| ConnectError::user(format!("header '{header}' is not UTF-8 text"))),
        Ok(Data::JsonText(_)) => unreachable!("into_structured parses JSON text"),
        Err(err) => Err(ConnectError::user(format!(
            "header '{header}' is not JSON: {err}"
        ))),
    }
}

/// Sets `path` in `object`, creating objects on the way; `Err` names the part of the
/// path that holds something other than an object.
fn insert(object: &mut Map<String, Value>, path: &[String], value: Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("field paths are not empty");
    let mut here = object;
    for (i, part) in parents.iter().enumerate() {
        let next = here
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        here = match next {
            Value::Object(map) => map,
            _ => return Err(path[..=i].join(".")),
        };
    }
    here.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform, try_transform_with};
    use super::*;
    use crate::converter::StringConverter;
    use crate::Header;

    fn with_headers(value: Value, headers: &[(&str, &str)]) -> Record {
        let mut record = json_record("logs", value);
        for (key, value) in headers {
            record.headers.push(Header::new(*key, value.to_string()));
        }
        record
    }

    #[test]
    fn copy_puts_file_name_and_line_into_the_document_and_keeps_the_headers() {
        let t = transform(
            "io.debezium.transforms.HeaderToValue",
            &[
                ("headers", "file.name,file.line"),
                ("fields", "file,line"),
                ("operation", "copy"),
            ],
        );
        let record = with_headers(
            json!({"message": "ERROR disk full"}),
            &[("file.name", "/var/log/app.log"), ("file.line", "12")],
        );
        let out = t.apply(record.clone()).unwrap().unwrap();
        assert_eq!(
            out.value,
            Data::Json(
                json!({"message": "ERROR disk full", "file": "/var/log/app.log", "line": 12})
            )
        );
        assert_eq!(out.headers, record.headers);
    }

    #[test]
    fn move_removes_every_header_with_the_key_and_takes_the_last_value() {
        let t = transform(
            "HeaderToValue",
            &[("headers", "h"), ("fields", "f"), ("operation", "move")],
        );
        let record = with_headers(json!({}), &[("h", "old"), ("other", "x"), ("h", "new")]);
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!({"f": "new"})));
        assert_eq!(out.headers, [Header::new("other", "x")]);
    }

    #[test]
    fn dotted_fields_are_nested_paths_and_absent_headers_leave_fields_out() {
        let t = transform(
            "HeaderToValue",
            &[
                ("headers", "a,b,gone"),
                ("fields", "log.file.path,log.offset,missing"),
                ("operation", "copy"),
            ],
        );
        let record = with_headers(json!({"log": {"level": "info"}}), &[("a", "x"), ("b", "3")]);
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({"log": {"level": "info", "file": {"path": "x"}, "offset": 3}}))
        );
    }

    #[test]
    fn a_path_through_a_non_object_fails_and_leaves_the_record() {
        let t = transform(
            "HeaderToValue",
            &[
                ("headers", "a"),
                ("fields", "log.file"),
                ("operation", "move"),
            ],
        );
        let record = with_headers(json!({"log": "text"}), &[("a", "x")]);
        let err = t.apply(record).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t (HeaderToValue): cannot set 'log.file': 'log' is not an object"
        );
    }

    #[test]
    fn uses_the_connectors_header_converter() {
        let t = try_transform_with(
            "HeaderToValue",
            &[("headers", "n"), ("fields", "n"), ("operation", "copy")],
            Arc::new(StringConverter),
        )
        .unwrap();
        let out = t
            .apply(with_headers(json!({}), &[("n", "12")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({"n": "12"})),
            "text, not a number"
        );
    }

    #[test]
    fn tombstones_pass_and_non_objects_fail() {
        let t = transform(
            "HeaderToValue",
            &[("headers", "a"), ("fields", "a"), ("operation", "copy")],
        );
        let tombstone = Record::new("t", Data::Null);
        assert_eq!(t.apply(tombstone.clone()).unwrap(), Some(tombstone));
        let err = t.apply(json_record("t", json!("a line"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t (HeaderToValue): needs a JSON object value, got string; set value.converter=json"
        );
    }

    #[test]
    fn config_problems_name_their_keys() {
        let issues = try_transform(
            "HeaderToValue",
            &[("headers", "a,b"), ("fields", "a"), ("operation", "copy")],
        )
        .unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "transforms.t.fields");
        let issues = try_transform(
            "HeaderToValue",
            &[("headers", "a"), ("fields", "x..y"), ("operation", "copy")],
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.fields");
        let issues = try_transform(
            "HeaderToValue",
            &[("headers", "a"), ("fields", "a"), ("operation", "cut")],
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.operation");
    }
}
