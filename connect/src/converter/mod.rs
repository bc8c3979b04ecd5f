//! Converters between the bytes in the log and [`Data`]: `json`, `string`, `bytes`.
//!
//! A connector names one converter for keys and one for values (`key.converter`,
//! `value.converter`), by Weir's short name or by Kafka Connect's class name, and
//! configures it with sub-keys (`value.converter.schemas.enable`). The same names work
//! in YAML pipelines and through the REST API, so a Kafka Connect config carries over.
//!
//! Header values have their own converter (`header.converter`, a [`HeaderConverter`]),
//! used by the transforms that write headers from data (`HeaderFrom`, `InsertHeader`).

mod byte_array;
mod header;
mod json;
mod simple_header;
mod string;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::{closest, ConfigDef, ConfigIssue, ConfigMap, ParsedConfig, HEADER_CONVERTER};
use crate::{ConnectError, Data, Schema};

pub use self::byte_array::ByteArrayConverter;
pub use self::header::HeaderConverter;
pub use self::json::JsonConverter;
pub use self::json::{base64, base64_url_safe};
pub use self::simple_header::{parse_string, SimpleHeaderConverter};
pub use self::string::StringConverter;

/// Turns keys or values into bytes for the log and back.
pub trait Converter: Send + Sync + fmt::Debug {
    /// Bytes for the log; `None` for a null key or a tombstone.
    fn serialize(&self, topic: &str, data: &Data) -> Result<Option<Bytes>, ConnectError>;

    /// As `serialize`, for data whose source knows its Kafka Connect schema. Only a
    /// converter that writes schemas (JSON with `schemas.enable`) uses it.
    fn serialize_with_schema(
        &self,
        topic: &str,
        data: &Data,
        schema: Option<&Schema>,
    ) -> Result<Option<Bytes>, ConnectError> {
        let _ = schema;
        self.serialize(topic, data)
    }

    /// Data from the log; `bytes` is `None` for a null key or a tombstone.
    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Data, ConnectError>;

    /// As `deserialize`, with the Kafka Connect schema the bytes carry, if any. Only a
    /// converter that reads schemas (JSON with `schemas.enable`) has one; sinks that
    /// create and type tables read it from `Record::key_schema` / `value_schema`.
    fn deserialize_with_schema(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Data, Option<Schema>), ConnectError> {
        Ok((self.deserialize(topic, bytes)?, None))
    }
}

/// One converter Weir offers: its names and how to make it from its sub-keys. `T` is
/// `dyn Converter` for keys and values, `dyn HeaderConverter` for headers.
struct Kind<T: ?Sized> {
    short: &'static str,
    class: &'static str,
    def: fn() -> ConfigDef,
    make: fn(&ParsedConfig) -> Arc<T>,
}

/// A table of converter kinds: `extra` first, then the three converters that are key,
/// value and header converters alike (each table coerces them to its own trait).
macro_rules! kinds {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            Kind {
                short: "json",
                class: "org.apache.kafka.connect.json.JsonConverter",
                def: JsonConverter::config_def,
                make: |c| Arc::new(JsonConverter::from_config(c)),
            },
            Kind {
                short: "string",
                class: "org.apache.kafka.connect.storage.StringConverter",
                def: StringConverter::config_def,
                make: |_| Arc::new(StringConverter),
            },
            Kind {
                short: "bytes",
                class: "org.apache.kafka.connect.converters.ByteArrayConverter",
                def: ByteArrayConverter::config_def,
                make: |_| Arc::new(ByteArrayConverter),
            },
        ]
    };
}

const KINDS: &[Kind<dyn Converter>] = kinds!();

/// Kafka's header converters: its `SimpleHeaderConverter` and the three converters
/// that are header converters too.
const HEADER_KINDS: &[Kind<dyn HeaderConverter>] = kinds!(Kind {
    short: "simple",
    class: "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    def: SimpleHeaderConverter::config_def,
    make: |_| Arc::new(SimpleHeaderConverter),
});

fn kind<T: ?Sized>(kinds: &'static [Kind<T>], name: &str) -> Option<&'static Kind<T>> {
    kinds
        .iter()
        .find(|k| k.short == name || k.class == name || k.class.rsplit('.').next() == Some(name))
}

fn names<T: ?Sized>(kinds: &'static [Kind<T>]) -> impl Iterator<Item = &'static str> {
    kinds
        .iter()
        .map(|k| k.short)
        .chain(kinds.iter().map(|k| k.class))
}

/// Every name accepted for a converter, short names first.
pub fn converter_names() -> impl Iterator<Item = &'static str> {
    names(KINDS)
}

/// Every name accepted for a header converter, short names first.
pub fn header_converter_names() -> impl Iterator<Item = &'static str> {
    names(HEADER_KINDS)
}

/// The converter named by `props[prefix]` (or `default` when unset), configured with
/// the `<prefix>.*` sub-keys. `prefix` is `key.converter` or `value.converter`.
/// Unknown names and sub-keys are issues, all of them reported.
pub fn converter_from_config(
    props: &ConfigMap,
    prefix: &str,
    default: &str,
) -> Result<Arc<dyn Converter>, Vec<ConfigIssue>> {
    configure(KINDS, props, prefix, default)
}

/// The header converter named by `props["header.converter"]` (or `default` when
/// unset), configured with the `header.converter.*` sub-keys, as
/// [`converter_from_config`] does for keys and values.
pub fn header_converter_from_config(
    props: &ConfigMap,
    default: &str,
) -> Result<Arc<dyn HeaderConverter>, Vec<ConfigIssue>> {
    configure(HEADER_KINDS, props, HEADER_CONVERTER, default)
}

fn configure<T: ?Sized>(
    kinds: &'static [Kind<T>],
    props: &ConfigMap,
    prefix: &str,
    default: &str,
) -> Result<Arc<T>, Vec<ConfigIssue>> {
    let name = props.get(prefix).map(|s| s.trim()).unwrap_or(default);
    let Some(kind) = kind(kinds, name) else {
        let mut issue = ConfigIssue::new(prefix, format!("Unknown converter '{name}'"));
        // Simple class names too, so `JsonConvertor` is pointed at `JsonConverter`.
        let simple = kinds.iter().filter_map(|k| k.class.rsplit('.').next());
        issue = match closest(name, names(kinds).chain(simple)) {
            Some(near) => issue.with_hint(format!("did you mean '{near}'?")),
            None => {
                let shorts: Vec<&str> = kinds.iter().map(|k| k.short).collect();
                let (last, rest) = shorts.split_last().expect("a converter table is not empty");
                issue.with_hint(format!("use {} or {last}", rest.join(", ")))
            }
        };
        return Err(vec![issue]);
    };
    let sub_prefix = format!("{prefix}.");
    let sub: ConfigMap = props
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&sub_prefix)?.to_string(), v.clone())))
        .collect();
    let def = (kind.def)();
    let mut issues = Vec::new();
    for key in sub.keys().filter(|k| def.key(k).is_none()) {
        let mut issue = ConfigIssue::new(
            format!("{sub_prefix}{key}"),
            format!(
                "Unknown configuration '{key}' for the {} converter",
                kind.short
            ),
        );
        issue = match def.closest(key) {
            Some(near) => issue.with_hint(format!("did you mean '{sub_prefix}{near}'?")),
            None if def.keys().is_empty() => {
                issue.with_hint(format!("the {} converter takes no settings", kind.short))
            }
            None => issue.with_hint(format!(
                "the {} converter takes: {}",
                kind.short,
                def.keys()
                    .iter()
                    .map(|k| format!("{sub_prefix}{}", k.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        issues.push(issue);
    }
    let parsed = def.parse(&sub).map_err(|found| {
        found
            .into_iter()
            .map(|mut issue| {
                issue.key = format!("{sub_prefix}{}", issue.key);
                issue
            })
            .collect::<Vec<_>>()
    });
    match parsed {
        Ok(parsed) if issues.is_empty() => Ok((kind.make)(&parsed)),
        Ok(_) => Err(issues),
        Err(found) => {
            issues.extend(found);
            Err(issues)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::config_map as props;

    #[test]
    fn accepts_short_and_kafka_class_names() {
        for name in [
            "json",
            "JsonConverter",
            "org.apache.kafka.connect.json.JsonConverter",
        ] {
            let c = converter_from_config(
                &props(&[("value.converter", name)]),
                "value.converter",
                "string",
            )
            .unwrap();
            assert!(
                format!("{c:?}").starts_with("JsonConverter"),
                "{name}: {c:?}"
            );
        }
        let c = converter_from_config(&props(&[]), "key.converter", "string").unwrap();
        assert_eq!(format!("{c:?}"), "StringConverter");
        let c = converter_from_config(
            &props(&[(
                "key.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            )]),
            "key.converter",
            "string",
        )
        .unwrap();
        assert_eq!(format!("{c:?}"), "ByteArrayConverter");
    }

    #[test]
    fn configures_sub_keys_and_rejects_unknown_ones() {
        let c = converter_from_config(
            &props(&[
                ("value.converter", "json"),
                ("value.converter.schemas.enable", "true"),
            ]),
            "value.converter",
            "json",
        )
        .unwrap();
        let bytes = c
            .serialize("t", &Data::Json(serde_json::json!(1)))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..], br#"{"schema":null,"payload":1}"#);

        let issues = converter_from_config(
            &props(&[("value.converter.schemas.enabled", "true")]),
            "value.converter",
            "json",
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "value.converter.schemas.enabled");
        assert_eq!(
            issues[0].hint.as_deref(),
            Some("did you mean 'value.converter.schemas.enable'?")
        );

        let issues = converter_from_config(
            &props(&[("value.converter.schemas.enable", "yes")]),
            "value.converter",
            "json",
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "value.converter.schemas.enable");
        assert!(issues[0].message.contains("true or false"), "{issues:?}");
    }

    #[test]
    fn header_converters_by_short_and_kafka_class_names() {
        let write = |name: &str| {
            let c = header_converter_from_config(
                &props(&[("header.converter", name)]),
                "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            )
            .unwrap_or_else(|issues| panic!("{name}: {issues:?}"));
            let bytes = c
                .from_connect_header("t", "h", &Data::Json(serde_json::json!("x")))
                .unwrap()
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        for name in [
            "simple",
            "SimpleHeaderConverter",
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "string",
            "org.apache.kafka.connect.storage.StringConverter",
            "bytes",
            "ByteArrayConverter",
        ] {
            assert_eq!(write(name), "x", "{name}");
        }
        for name in ["json", "org.apache.kafka.connect.json.JsonConverter"] {
            assert_eq!(write(name), "\"x\"", "{name}");
        }
        let c = header_converter_from_config(&props(&[]), "simple").unwrap();
        assert_eq!(format!("{c:?}"), "SimpleHeaderConverter");
        assert!(header_converter_names().any(|n| n == "simple"));
        assert!(!converter_names().any(|n| n == "simple"));
    }

    #[test]
    fn header_converter_problems_name_the_header_keys() {
        let issues =
            header_converter_from_config(&props(&[("header.converter", "avro")]), "simple")
                .unwrap_err();
        assert_eq!(issues[0].key, "header.converter");
        assert_eq!(issues[0].message, "Unknown converter 'avro'");
        assert_eq!(
            issues[0].hint.as_deref(),
            Some("use simple, json, string or bytes")
        );
        let issues = header_converter_from_config(
            &props(&[
                ("header.converter", "json"),
                ("header.converter.schemas.enabled", "true"),
            ]),
            "simple",
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "header.converter.schemas.enabled");
        assert_eq!(
            issues[0].hint.as_deref(),
            Some("did you mean 'header.converter.schemas.enable'?")
        );
    }

    #[test]
    fn unknown_converter_names_the_nearest() {
        let issues = converter_from_config(
            &props(&[("key.converter", "jsn")]),
            "key.converter",
            "string",
        )
        .unwrap_err();
        assert_eq!(issues[0].message, "Unknown converter 'jsn'");
        assert_eq!(issues[0].hint.as_deref(), Some("did you mean 'json'?"));
    }
}
