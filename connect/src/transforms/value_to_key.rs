//! `ValueToKey`: replaces the key with an object of some of the value's fields, so a
//! sink or a compacted topic can key by them. Missing fields are null, as in Kafka.

use serde_json::{Map, Value};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Validator};
use crate::{ConnectError, Data, Record};

use super::field::{Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            "fields",
            ConfigType::List,
            "Field names on the value to extract as the key.",
        )
        .validator(Validator::NonEmpty),
    )
}

#[derive(Debug)]
struct ValueToKey {
    label: Label,
    fields: Vec<String>,
}

pub(super) fn build(
    label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    Ok(Box::new(ValueToKey {
        label,
        fields: settings.list("fields").to_vec(),
    }))
}

impl Transform for ValueToKey {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        if record.value.is_null() {
            return Ok(Some(record));
        }
        let Some(value) = record.value.as_object() else {
            return Err(self.label.not_an_object(Side::Value, record.value.kind()));
        };
        let key: Map<String, Value> = self
            .fields
            .iter()
            .map(|f| (f.clone(), value.get(f).cloned().unwrap_or(Value::Null)))
            .collect();
        record.key = Data::Json(Value::Object(key));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::transform;
    use crate::Data;

    #[test]
    fn key_becomes_the_listed_fields() {
        let t = transform(
            "org.apache.kafka.connect.transforms.ValueToKey",
            &[("fields", "userId,city")],
        );
        let mut record = json_record("t", json!({"userId": 1, "state": "x", "name": "n"}));
        record.key = Data::Json(json!("old"));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!({"userId": 1, "city": null})));
        assert_eq!(
            out.value,
            Data::Json(json!({"userId": 1, "state": "x", "name": "n"}))
        );
    }

    #[test]
    fn needs_an_object_value() {
        let t = transform("ValueToKey", &[("fields", "a")]);
        let err = t
            .apply(crate::Record::new("t", Data::Bytes("raw".into())))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t (ValueToKey): needs a JSON object value, got bytes; set value.converter=json"
        );
    }
}
