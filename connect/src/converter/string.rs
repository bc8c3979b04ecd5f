//! Kafka Connect's `StringConverter`: UTF-8 text ↔ `Data::Json(Value::String)`.

use bytes::Bytes;
use serde_json::Value;

use crate::config::{ConfigDef, ConfigKey, ConfigType, Validator};
use crate::{ConnectError, Data};

/// Text as it is. Serializing a non-string JSON value writes its JSON text (as Kafka's
/// converter writes `toString()`); bytes are written unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringConverter;

impl StringConverter {
    /// Kafka's `converter.encoding` is accepted; Weir reads and writes UTF-8 only.
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(
                "converter.encoding",
                ConfigType::String,
                "The character encoding; only UTF-8 is supported.",
            )
            .default_value("UTF-8")
            .validator(Validator::Custom(|value| match value {
                crate::config::ConfigValue::String(s)
                    if s.eq_ignore_ascii_case("utf-8") || s.eq_ignore_ascii_case("utf8") =>
                {
                    Ok(())
                }
                _ => Err("Weir's string converter supports only UTF-8".into()),
            })),
        )
    }
}

impl super::Converter for StringConverter {
    fn serialize(&self, _topic: &str, data: &Data) -> Result<Option<Bytes>, ConnectError> {
        Ok(match data {
            Data::Null | Data::Json(Value::Null) => None,
            Data::Bytes(bytes) | Data::JsonText(bytes) => Some(bytes.clone()),
            Data::Json(Value::String(text)) => Some(Bytes::from(text.clone())),
            Data::Json(value) => Some(Bytes::from(value.to_string())),
        })
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Data, ConnectError> {
        let Some(bytes) = bytes else {
            return Ok(Data::Null);
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Data::Json(Value::String(text.to_string()))),
            Err(e) => Err(ConnectError::user(format!(
                "Failed to deserialize string of topic {topic}: the data is not UTF-8 text \
                 (use the bytes converter for binary data)"
            ))
            .with_source(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converter::Converter;
    use crate::ErrorDomain;
    use serde_json::json;

    #[test]
    fn text_round_trips() {
        let c = StringConverter;
        let data = Data::Json(json!("héllo {not json"));
        let bytes = c.serialize("t", &data).unwrap().unwrap();
        assert_eq!(&bytes[..], "héllo {not json".as_bytes());
        assert_eq!(c.deserialize("t", Some(&bytes)).unwrap(), data);
        assert_eq!(c.serialize("t", &Data::Null).unwrap(), None);
        assert_eq!(c.deserialize("t", None).unwrap(), Data::Null);
    }

    #[test]
    fn structured_values_are_written_as_json_text() {
        let bytes = StringConverter
            .serialize("t", &Data::Json(json!({"a": 1})))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..], br#"{"a":1}"#);
    }

    #[test]
    fn invalid_utf8_is_a_user_error_naming_the_topic() {
        let err = StringConverter
            .deserialize("payments", Some(b"ok\xff"))
            .unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User);
        assert!(err.to_string().contains("topic payments"), "{err}");
    }
}
