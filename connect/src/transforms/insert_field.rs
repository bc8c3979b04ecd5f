//! `InsertField$Key` / `InsertField$Value`: adds the record's topic, partition,
//! offset, timestamp or a fixed value as fields of the key or value object.
//!
//! Field names may end in `!` (required) or `?` (optional), as in Kafka; the suffix
//! only matters for Kafka's schemas, so it is accepted and dropped. `offset.field` is for
//! sink connectors, as in Kafka: a source's record has no offset until the log appends
//! it, so on a source every record fails with an error saying so. (The transform cannot
//! know at configuration time which kind of connector it serves.)

use serde_json::Value;

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType};
use crate::{ConnectError, Record};

use super::field::{put_object, take_object, Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    let field = |name: &str, what: &str| {
        ConfigKey::new(
            name,
            ConfigType::String,
            format!("Field name for {what}; unset to leave it out."),
        )
        .optional()
    };
    ConfigDef::new()
        .define(field("topic.field", "the record's topic"))
        .define(field("partition.field", "the record's partition"))
        .define(field(
            "offset.field",
            "the record's Kafka offset (sink connectors only)",
        ))
        .define(field(
            "timestamp.field",
            "the record's timestamp in milliseconds",
        ))
        .define(field(
            "static.field",
            "a fixed value, set with static.value",
        ))
        .define(
            ConfigKey::new(
                "static.value",
                ConfigType::String,
                "The fixed value inserted as static.field.",
            )
            .optional(),
        )
}

#[derive(Debug)]
struct InsertField {
    label: Label,
    side: Side,
    topic: Option<String>,
    partition: Option<String>,
    offset: Option<String>,
    timestamp: Option<String>,
    fixed: Option<(String, Value)>,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let field = |name: &str| {
        settings
            .string(name)
            .map(|spec| spec.trim_end_matches(['!', '?']))
            .filter(|spec| !spec.is_empty())
            .map(str::to_string)
    };
    let static_value = settings.string("static.value");
    let fixed = match (field("static.field"), static_value) {
        (Some(name), value) => Some((name, value.map_or(Value::Null, Value::from))),
        (None, Some(_)) => {
            return Err(vec![settings
                .issue(
                    "static.value",
                    "static.value is set but static.field is not",
                )
                .with_hint(format!(
                    "set {} to the field to put the value in",
                    settings.key("static.field")
                ))])
        }
        (None, None) => None,
    };
    Ok(Box::new(InsertField {
        label,
        side,
        topic: field("topic.field"),
        partition: field("partition.field"),
        offset: field("offset.field"),
        timestamp: field("timestamp.field"),
        fixed,
    }))
}

impl Transform for InsertField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        if self.offset.is_some() && record.offset.is_none() && !self.side.of(&record).is_null() {
            return Err(self.label.error(
                "offset.field needs the record's Kafka offset, which only a sink \
                 connector's records have; a source's records get theirs when written",
            ));
        }
        let Some(mut object) = take_object(&self.label, self.side, &mut record)? else {
            return Ok(Some(record));
        };
        if let Some(name) = &self.topic {
            object.insert(name.clone(), Value::from(record.topic.as_str()));
        }
        if let Some(name) = &self.partition {
            object.insert(
                name.clone(),
                record.partition.map_or(Value::Null, Value::from),
            );
        }
        if let (Some(name), Some(offset)) = (&self.offset, record.offset) {
            object.insert(name.clone(), Value::from(offset));
        }
        if let Some(name) = &self.timestamp {
            object.insert(
                name.clone(),
                record.timestamp.map_or(Value::Null, Value::from),
            );
        }
        if let Some((name, value)) = &self.fixed {
            object.insert(name.clone(), value.clone());
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
    fn inserts_kafkas_documented_fields() {
        let t = transform(
            "InsertField$Value",
            &[
                ("static.field", "MessageSource"),
                ("static.value", "Kafka Connect framework"),
                ("topic.field", "topic!"),
                ("partition.field", "partition?"),
                ("timestamp.field", "ts"),
            ],
        );
        let mut record = json_record("orders", json!({"id": 1}));
        record.partition = Some(3);
        record.timestamp = Some(1_700_000_000_000);
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({
                "id": 1,
                "MessageSource": "Kafka Connect framework",
                "topic": "orders",
                "partition": 3,
                "ts": 1_700_000_000_000_i64,
            }))
        );
    }

    #[test]
    fn key_variant_edits_the_key_and_unknown_coordinates_are_null() {
        let t = transform("InsertField$Key", &[("partition.field", "p")]);
        let mut record = json_record("t", json!("v"));
        record.key = Data::Json(json!({"id": 7}));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!({"id": 7, "p": null})));
        assert_eq!(out.value, Data::Json(json!("v")));
    }

    #[test]
    fn tombstones_pass_and_non_objects_fail() {
        let t = transform("InsertField$Value", &[("topic.field", "topic")]);
        let tombstone = crate::Record::new("t", Data::Null);
        assert_eq!(t.apply(tombstone.clone()).unwrap(), Some(tombstone));
        let err = t.apply(json_record("t", json!([1]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t (InsertField$Value): needs a JSON object value, got array; set value.converter=json"
        );
    }

    #[test]
    fn offset_field_inserts_a_sink_records_offset() {
        let t = transform("InsertField$Value", &[("offset.field", "offset!")]);
        let mut record = json_record("orders", json!({"id": 1}));
        record.offset = Some(42);
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!({"id": 1, "offset": 42})));
        let mut record = json_record("orders", json!({}));
        record.offset = Some(i64::MAX);
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!({"offset": i64::MAX})));
    }

    #[test]
    fn offset_field_fails_a_source_record_but_passes_its_tombstone() {
        let t = transform("InsertField$Key", &[("offset.field", "o")]);
        let mut record = json_record("orders", json!({"id": 1}));
        record.key = Data::Json(json!({"id": 1}));
        let err = t.apply(record.clone()).unwrap_err();
        assert_eq!(err.domain(), crate::ErrorDomain::User);
        assert_eq!(
            err.to_string(),
            "t (InsertField$Key): offset.field needs the record's Kafka offset, which only a \
             sink connector's records have; a source's records get theirs when written"
        );
        // A null key has no field to insert into, with or without an offset.
        record.key = Data::Null;
        assert_eq!(t.apply(record.clone()).unwrap(), Some(record));
    }

    #[test]
    fn static_value_needs_a_field() {
        let issues = try_transform("InsertField$Value", &[("static.value", "x")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.static.value");
    }
}
