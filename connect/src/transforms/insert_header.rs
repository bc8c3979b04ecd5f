//! `InsertHeader` (KIP-145): adds a header with a fixed value to every record:
//! `header=origin`, `value.literal=weir`.
//!
//! As in Kafka, the literal is read as the value it spells (a number, a boolean,
//! `null`, a JSON object or array, else the text) and that value is written with the
//! connector's `header.converter`. With the default `SimpleHeaderConverter` the header
//! holds the literal's text; with `json`, the text of a word is quoted. The header is
//! added even when one with the same key is there: Kafka allows repeated keys.

use std::sync::Arc;

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, Validator};
use crate::converter::{parse_string, HeaderConverter};
use crate::{ConnectError, Data, Header, Record};

use super::field::Label;
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("header", ConfigType::String, "The header's name.")
                .importance(Importance::High)
                .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "value.literal",
                ConfigType::String,
                "The header's value, read as the number, boolean, object or text it spells.",
            )
            .importance(Importance::High),
        )
}

#[derive(Debug)]
struct InsertHeader {
    label: Label,
    header: String,
    /// The literal as parsed once; converted per record because a header converter
    /// may depend on the topic.
    value: Data,
    converter: Arc<dyn HeaderConverter>,
}

pub(super) fn build(
    label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    Ok(Box::new(InsertHeader {
        label,
        header: settings.string("header").unwrap_or_default().to_string(),
        value: parse_string(settings.string("value.literal").unwrap_or_default()),
        converter: settings.header_converter(),
    }))
}

impl Transform for InsertHeader {
    fn keeps_schemas(&self) -> bool {
        true
    }

    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let value = self
            .converter
            .from_connect_header(&record.topic, &self.header, &self.value)
            .map_err(|err| {
                self.label
                    .error(format_args!("cannot write header '{}': {err}", self.header))
            })?;
        record.headers.push(Header {
            key: self.header.clone(),
            value,
        });
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

    fn header_text(t: &dyn Transform, record: Record) -> Vec<(String, Option<String>)> {
        t.apply(record)
            .unwrap()
            .unwrap()
            .headers
            .into_iter()
            .map(|h| {
                let text = h.value.map(|v| String::from_utf8(v.to_vec()).unwrap());
                (h.key, text)
            })
            .collect()
    }

    fn pair(key: &str, value: Option<&str>) -> (String, Option<String>) {
        (key.into(), value.map(str::to_string))
    }

    #[test]
    fn the_simple_converter_writes_the_literals_text() {
        for literal in ["weir", "42", "true", "a b", "[1,2]", r#"{"k":"v"}"#, ""] {
            let t = transform(
                "InsertHeader",
                &[("header", "origin"), ("value.literal", literal)],
            );
            assert_eq!(
                header_text(t.as_ref(), json_record("t", json!(1))),
                [pair("origin", Some(literal))],
                "{literal:?}"
            );
        }
        // The literal null is a null value, as Kafka reads it.
        let t = transform(
            "InsertHeader",
            &[("header", "h"), ("value.literal", "null")],
        );
        assert_eq!(
            header_text(t.as_ref(), json_record("t", json!(1))),
            [pair("h", None)]
        );
    }

    #[test]
    fn the_json_converter_writes_the_literals_value_as_json() {
        let t = try_transform_with(
            "InsertHeader",
            &[("header", "h"), ("value.literal", "weir")],
            Arc::new(JsonConverter::default()),
        )
        .unwrap();
        assert_eq!(
            header_text(t.as_ref(), json_record("t", json!(1))),
            [pair("h", Some("\"weir\""))]
        );
        let t = try_transform_with(
            "InsertHeader",
            &[("header", "h"), ("value.literal", "7")],
            Arc::new(JsonConverter::default()),
        )
        .unwrap();
        assert_eq!(
            header_text(t.as_ref(), json_record("t", json!(1))),
            [pair("h", Some("7"))]
        );
    }

    #[test]
    fn adds_to_tombstones_and_beside_headers_of_the_same_key() {
        let t = transform("InsertHeader", &[("header", "h"), ("value.literal", "new")]);
        let mut tombstone = Record::new("t", Data::Null);
        tombstone.headers.push(Header {
            key: "h".into(),
            value: None,
        });
        tombstone
            .headers
            .push(Header::new("h", Bytes::from_static(b"old")));
        let out = t.apply(tombstone).unwrap().unwrap();
        assert_eq!(out.value, Data::Null);
        assert_eq!(out.headers.len(), 3);
        assert_eq!(out.header("h").unwrap().value.as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn both_keys_are_required() {
        let issues = try_transform("InsertHeader", &[]).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["transforms.t.header", "transforms.t.value.literal"]);
        let issues =
            try_transform("InsertHeader", &[("header", ""), ("value.literal", "x")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.header");
    }
}
