//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in an object with one
//! field, `{"<field>": <data>}`. As in Kafka, a null is wrapped too.

use serde_json::{Map, Value};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Validator};
use crate::{ConnectError, Data, Record};

use super::field::{Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            "field",
            ConfigType::String,
            "Field name for the single field that will hold the original data.",
        )
        .validator(Validator::NonEmpty),
    )
}

#[derive(Debug)]
struct HoistField {
    label: Label,
    side: Side,
    field: String,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    Ok(Box::new(HoistField {
        label,
        side,
        field: settings.string("field").unwrap_or_default().to_string(),
    }))
}

impl Transform for HoistField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let data = self.side.of_mut(&mut record);
        let inner = match std::mem::replace(data, Data::Null) {
            Data::Null => Value::Null,
            Data::Json(value) => value,
            // Only reached outside a chain, which parses JSON text first.
            Data::JsonText(text) => serde_json::from_slice(&text).map_err(|e| {
                self.label.error(format_args!(
                    "the {} is not valid JSON: {e}",
                    self.side.name()
                ))
            })?,
            bytes @ Data::Bytes(_) => {
                *data = bytes;
                let side = self.side.name();
                return Err(self.label.error(format_args!(
                    "cannot put bytes in a JSON object; set {side}.converter=json or string"
                )));
            }
        };
        let mut object = Map::new();
        object.insert(self.field.clone(), inner);
        *data = Data::Json(Value::Object(object));
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
    fn kafkas_documented_example() {
        // Kafka's docs: field=line turns "hello" into {"line": "hello"}.
        let t = transform("HoistField$Value", &[("field", "line")]);
        let out = t.apply(json_record("t", json!("hello"))).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!({"line": "hello"})));
    }

    #[test]
    fn bytes_cannot_be_hoisted() {
        let t = transform("HoistField$Key", &[("field", "k")]);
        let mut record = json_record("t", json!(1));
        record.key = Data::Bytes("raw".into());
        let err = t.apply(record).unwrap_err();
        assert!(err.to_string().contains("set key.converter=json"), "{err}");
    }
}
