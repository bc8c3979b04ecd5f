//! Kafka Connect's `JsonConverter`.
//!
//! One difference from Kafka: `schemas.enable` defaults to **false** in Weir. Weir's
//! records carry no Connect schemas, and plain JSON is what other tools read and write;
//! set `schemas.enable=true` to exchange data with Kafka Connect workers that use the
//! `{"schema": …, "payload": …}` envelope. With it on, deserialize unwraps the envelope
//! and keeps its schema with the data (`deserialize_with_schema`, which the sink
//! runtime calls, so a sink can type the columns it creates), and serialize writes
//! `{"schema":null,"payload":…}`, which Kafka's converter reads as schemaless data —
//! or, for a record whose source gave its schema (the PostgreSQL CDC source does, as
//! Debezium), that schema.

use bytes::Bytes;
use serde_json::Value;

use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, ParsedConfig};
use crate::{ConnectError, Data, Schema};

/// JSON text ↔ `Data::Json`; a null (or JSON `null`) ↔ no bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonConverter {
    schemas_enable: bool,
}

impl JsonConverter {
    pub fn new(schemas_enable: bool) -> JsonConverter {
        JsonConverter { schemas_enable }
    }

    /// The converter's sub-keys (after `key.converter.` / `value.converter.`).
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(
                "schemas.enable",
                ConfigType::Boolean,
                "Whether records are wrapped in Kafka Connect's {\"schema\", \"payload\"} \
                 envelope. Weir's default is false (Kafka's is true).",
            )
            .default_value("false")
            .importance(Importance::High),
        )
    }

    pub(super) fn from_config(config: &ParsedConfig) -> JsonConverter {
        JsonConverter::new(config.boolean("schemas.enable").unwrap_or(false))
    }
}

impl super::Converter for JsonConverter {
    fn serialize(&self, topic: &str, data: &Data) -> Result<Option<Bytes>, ConnectError> {
        self.serialize_with_schema(topic, data, None)
    }

    fn serialize_with_schema(
        &self,
        topic: &str,
        data: &Data,
        schema: Option<&Schema>,
    ) -> Result<Option<Bytes>, ConnectError> {
        let encoded;
        let payload = match data {
            Data::Null | Data::Json(Value::Null) => return Ok(None),
            Data::JsonText(text) if !self.schemas_enable => return Ok(Some(text.clone())),
            Data::JsonText(text) => {
                return Ok(Some(with_schema(schema, |out| {
                    out.extend_from_slice(text);
                    Ok(())
                })?))
            }
            Data::Json(value) => value,
            // As Kafka's converter writes a BYTES field: a base64 string.
            Data::Bytes(bytes) => {
                encoded = Value::String(base64(bytes));
                &encoded
            }
        };
        let write = |out: &mut Vec<u8>| {
            serde_json::to_writer(out, payload).map_err(|e| {
                ConnectError::internal(format!(
                    "Converting Kafka Connect data to byte[] failed for topic {topic}"
                ))
                .with_source(e)
            })
        };
        if self.schemas_enable {
            return Ok(Some(with_schema(schema, write)?));
        }
        let mut out = Vec::with_capacity(256);
        write(&mut out)?;
        Ok(Some(Bytes::from(out)))
    }

    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Data, ConnectError> {
        Ok(self.deserialize_with_schema(topic, bytes)?.0)
    }

    fn deserialize_with_schema(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Data, Option<Schema>), ConnectError> {
        let Some(bytes) = bytes else {
            return Ok((Data::Null, None));
        };
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ConnectError::user(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error \
                 of topic {topic}: the data is not JSON"
            ))
            .with_source(e)
        })?;
        let (payload, schema) = if self.schemas_enable {
            unwrap_envelope(topic, value)?
        } else {
            (value, None)
        };
        let data = match payload {
            Value::Null => Data::Null,
            value => Data::Json(value),
        };
        Ok((data, schema))
    }
}

/// `{"schema": …, "payload": …}`, written by hand so `schema` comes first, as Kafka
/// writes it.
fn with_schema(
    schema: Option<&Schema>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), ConnectError>,
) -> Result<Bytes, ConnectError> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(br#"{"schema":"#);
    match schema {
        Some(schema) => out.extend_from_slice(schema.text()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","payload":"#);
    payload(&mut out)?;
    out.push(b'}');
    Ok(Bytes::from(out))
}

/// The payload and, unless it is `null`, the schema of an envelope.
fn unwrap_envelope(topic: &str, value: Value) -> Result<(Value, Option<Schema>), ConnectError> {
    match value {
        Value::Null => Ok((Value::Null, None)),
        Value::Object(mut map)
            if map.len() == 2 && map.contains_key("schema") && map.contains_key("payload") =>
        {
            let schema = match map.remove("schema") {
                None | Some(Value::Null) => None,
                Some(schema) => Some(Schema::new(schema)),
            };
            Ok((map.remove("payload").unwrap_or(Value::Null), schema))
        }
        _ => Err(ConnectError::user(format!(
            "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and \
             may not contain additional fields (topic {topic}). If you are trying to \
             deserialize plain JSON data, set schemas.enable=false in your converter \
             configuration."
        ))),
    }
}

/// Standard base64 with padding, as Jackson writes `byte[]` (and Kafka's `Cast` and
/// `Values` render bytes as text).
pub fn base64(bytes: &[u8]) -> String {
    base64_in(
        bytes,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    )
}

/// URL-safe base64 with padding, as Java's `Base64.getUrlEncoder()` writes it.
pub fn base64_url_safe(bytes: &[u8]) -> String {
    base64_in(
        bytes,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    )
}

fn base64_in(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converter::Converter;
    use crate::ErrorDomain;
    use serde_json::json;

    #[test]
    fn plain_json_round_trips_by_default() {
        let c = JsonConverter::default();
        let data = Data::Json(json!({"level": "warn", "n": [1, 2.5, null]}));
        let bytes = c.serialize("logs", &data).unwrap().unwrap();
        assert_eq!(&bytes[..], br#"{"level":"warn","n":[1,2.5,null]}"#);
        assert_eq!(c.deserialize("logs", Some(&bytes)).unwrap(), data);
        assert_eq!(
            c.deserialize("logs", Some(b"\"text\"")).unwrap(),
            Data::Json(json!("text"))
        );
    }

    #[test]
    fn null_is_a_tombstone_both_ways() {
        for c in [JsonConverter::new(false), JsonConverter::new(true)] {
            assert_eq!(c.serialize("t", &Data::Null).unwrap(), None);
            assert_eq!(c.serialize("t", &Data::Json(Value::Null)).unwrap(), None);
            assert_eq!(c.deserialize("t", None).unwrap(), Data::Null);
            assert_eq!(c.deserialize("t", Some(b"null")).unwrap(), Data::Null);
        }
    }

    #[test]
    fn envelope_is_unwrapped_and_written_with_schemas_enabled() {
        let c = JsonConverter::new(true);
        let kafka = br#"{"schema":{"type":"struct","fields":[]},"payload":{"id":7}}"#;
        assert_eq!(
            c.deserialize("t", Some(kafka)).unwrap(),
            Data::Json(json!({"id": 7}))
        );
        let bytes = c
            .serialize("t", &Data::Json(json!({"id": 7})))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..], br#"{"schema":null,"payload":{"id":7}}"#);
        assert_eq!(
            c.deserialize("t", Some(br#"{"schema":null,"payload":null}"#))
                .unwrap(),
            Data::Null
        );
    }

    #[test]
    fn the_envelope_schema_is_kept_with_the_data_read() {
        let c = JsonConverter::new(true);
        let schema = json!({"type": "struct", "optional": false,
            "fields": [{"type": "int32", "optional": false, "field": "id"}]});
        let bytes = json!({"schema": schema, "payload": {"id": 7}}).to_string();
        let (data, read) = c
            .deserialize_with_schema("t", Some(bytes.as_bytes()))
            .unwrap();
        assert_eq!(data, Data::Json(json!({"id": 7})));
        assert_eq!(read, Some(Schema::new(schema)));
        let (_, none) = c
            .deserialize_with_schema("t", Some(br#"{"schema":null,"payload":{"id":7}}"#))
            .unwrap();
        assert_eq!(none, None);
        let (_, plain) = JsonConverter::new(false)
            .deserialize_with_schema("t", Some(bytes.as_bytes()))
            .unwrap();
        assert_eq!(
            plain, None,
            "without schemas.enable the envelope is plain data"
        );
        assert_eq!(
            c.deserialize_with_schema("t", None).unwrap(),
            (Data::Null, None)
        );
    }

    #[test]
    fn a_schema_the_source_gave_is_written_into_the_envelope() {
        let schema = Schema::new(
            json!({"type": "struct", "fields": [{"type": "int32", "optional": false, "field": "id"}], "optional": false}),
        );
        // A tree and the same data as text, written by the source.
        for data in [
            Data::Json(json!({"id": 7})),
            Data::JsonText(Bytes::from_static(br#"{"id":7}"#)),
        ] {
            let with = JsonConverter::new(true)
                .serialize_with_schema("t", &data, Some(&schema))
                .unwrap()
                .unwrap();
            assert_eq!(
                serde_json::from_slice::<Value>(&with).unwrap(),
                json!({"schema": *schema, "payload": {"id": 7}})
            );
            assert!(
                with.starts_with(br#"{"schema":{"#),
                "schema comes first, as Kafka writes it"
            );
            let without = JsonConverter::new(false)
                .serialize_with_schema("t", &data, Some(&schema))
                .unwrap()
                .unwrap();
            assert_eq!(&without[..], br#"{"id":7}"#);
        }
    }

    #[test]
    fn plain_json_with_schemas_enabled_says_how_to_fix_it() {
        let err = JsonConverter::new(true)
            .deserialize("orders", Some(br#"{"id":7}"#))
            .unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User);
        assert!(err.to_string().contains("topic orders"), "{err}");
        assert!(
            err.to_string().contains("set schemas.enable=false"),
            "{err}"
        );
    }

    #[test]
    fn bad_json_is_a_user_error_naming_the_topic() {
        let err = JsonConverter::default()
            .deserialize("orders", Some(b"{not json"))
            .unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("of topic orders"), "{err}");
    }

    #[test]
    fn bytes_serialize_as_base64_strings() {
        let c = JsonConverter::default();
        for (raw, text) in [
            (&b""[..], "\"\""),
            (b"f", "\"Zg==\""),
            (b"fo", "\"Zm8=\""),
            (b"foo", "\"Zm9v\""),
            (b"\xff\x00\x10\x80", "\"/wAQgA==\""),
        ] {
            let bytes = c
                .serialize("t", &Data::Bytes(Bytes::copy_from_slice(raw)))
                .unwrap()
                .unwrap();
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), text);
        }
    }
}
