//! Kafka Connect's `HeaderConverter`: header values ↔ header bytes.
//!
//! Weir keeps a record's headers as the bytes in the log ([`Header`](crate::Header)), so
//! nothing converts them on the way in or out; the converter is used where data becomes
//! a header, by the transforms that write headers (`HeaderFrom`, `InsertHeader`), and
//! where a header is read back as data. The JSON, string and byte-array converters are
//! header converters too, as in Kafka, so `header.converter=json` works.

use std::fmt;

use bytes::Bytes;

use crate::{ConnectError, Data};

use super::{ByteArrayConverter, Converter, JsonConverter, StringConverter};

/// Turns a header's value into its bytes and back. `topic` and `key` say where the
/// header is, for error messages.
pub trait HeaderConverter: Send + Sync + fmt::Debug {
    /// The header's bytes; `None` for a header with a null value.
    // Kafka's name for it, kept so the trait reads as Kafka's `HeaderConverter`.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        value: &Data,
    ) -> Result<Option<Bytes>, ConnectError>;

    /// The header's value; `bytes` is `None` for a header with a null value.
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConnectError>;
}

/// A key/value converter used for headers: the header's bytes are what the converter
/// would write for a value with that data.
macro_rules! converter_for_headers {
    ($converter:ty) => {
        impl HeaderConverter for $converter {
            fn from_connect_header(
                &self,
                topic: &str,
                _key: &str,
                value: &Data,
            ) -> Result<Option<Bytes>, ConnectError> {
                self.serialize(topic, value)
            }

            fn to_connect_header(
                &self,
                topic: &str,
                _key: &str,
                bytes: Option<&[u8]>,
            ) -> Result<Data, ConnectError> {
                self.deserialize(topic, bytes)
            }
        }
    };
}

converter_for_headers!(JsonConverter);
converter_for_headers!(StringConverter);
converter_for_headers!(ByteArrayConverter);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_and_value_converters_write_headers_as_they_write_values() {
        let value = Data::Json(json!({"a": "x"}));
        let json = JsonConverter::default()
            .from_connect_header("t", "h", &Data::Json(json!("x")))
            .unwrap();
        assert_eq!(json.as_deref(), Some(&b"\"x\""[..]));
        let string = StringConverter
            .from_connect_header("t", "h", &Data::Json(json!("x")))
            .unwrap();
        assert_eq!(string.as_deref(), Some(&b"x"[..]));
        let bytes = ByteArrayConverter
            .from_connect_header("t", "h", &value)
            .unwrap();
        assert_eq!(bytes.as_deref(), Some(&br#"{"a":"x"}"#[..]));
        assert_eq!(
            JsonConverter::new(true)
                .from_connect_header("t", "h", &Data::Json(json!(1)))
                .unwrap()
                .as_deref(),
            Some(&br#"{"schema":null,"payload":1}"#[..])
        );
        for converter in [
            &JsonConverter::default() as &dyn HeaderConverter,
            &StringConverter,
            &ByteArrayConverter,
        ] {
            assert_eq!(
                converter
                    .from_connect_header("t", "h", &Data::Null)
                    .unwrap(),
                None
            );
            assert_eq!(
                converter.to_connect_header("t", "h", None).unwrap(),
                Data::Null
            );
        }
    }

    #[test]
    fn reading_a_header_back_uses_the_converters_reading() {
        assert_eq!(
            JsonConverter::default()
                .to_connect_header("t", "h", Some(b"[1,2]"))
                .unwrap(),
            Data::Json(json!([1, 2]))
        );
        assert_eq!(
            StringConverter
                .to_connect_header("t", "h", Some(b"[1,2]"))
                .unwrap(),
            Data::Json(json!("[1,2]"))
        );
        let err = JsonConverter::default()
            .to_connect_header("orders", "h", Some(b"{"))
            .unwrap_err();
        assert!(err.to_string().contains("topic orders"), "{err}");
    }
}
