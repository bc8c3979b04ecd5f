//! Kafka Connect's `ByteArrayConverter`: the log's bytes ↔ `Data::Bytes`, untouched.

use bytes::Bytes;

use crate::config::ConfigDef;
use crate::{ConnectError, Data};

/// Bytes as they are. Unlike Kafka's converter, which rejects anything but `byte[]`,
/// a JSON value is written as its text (a string without quotes), so a pipeline can
/// end in `bytes` after transforms that produce JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    /// No settings.
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
    }
}

impl super::Converter for ByteArrayConverter {
    fn serialize(&self, _topic: &str, data: &Data) -> Result<Option<Bytes>, ConnectError> {
        Ok(match data {
            Data::Bytes(bytes) | Data::JsonText(bytes) => Some(bytes.clone()),
            other => other.to_text().map(Bytes::from),
        })
    }

    fn deserialize(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<Data, ConnectError> {
        Ok(match bytes {
            None => Data::Null,
            Some(bytes) => Data::Bytes(Bytes::copy_from_slice(bytes)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converter::Converter;
    use serde_json::json;

    #[test]
    fn bytes_pass_through_unchanged() {
        let c = ByteArrayConverter;
        let raw = b"\x00\xffbinary";
        let data = c.deserialize("t", Some(raw)).unwrap();
        assert_eq!(data, Data::Bytes(Bytes::from_static(raw)));
        assert_eq!(c.serialize("t", &data).unwrap().unwrap(), &raw[..]);
        assert_eq!(c.deserialize("t", None).unwrap(), Data::Null);
        assert_eq!(c.serialize("t", &Data::Null).unwrap(), None);
    }

    #[test]
    fn json_values_serialize_as_their_text() {
        let c = ByteArrayConverter;
        let text = c
            .serialize("t", &Data::Json(json!("plain")))
            .unwrap()
            .unwrap();
        assert_eq!(&text[..], b"plain");
        let object = c
            .serialize("t", &Data::Json(json!({"a": true})))
            .unwrap()
            .unwrap();
        assert_eq!(&object[..], br#"{"a":true}"#);
        assert_eq!(c.serialize("t", &Data::Json(json!(null))).unwrap(), None);
    }
}
