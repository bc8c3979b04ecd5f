//! Debezium's `ExtractNewRecordState` (`io.debezium.transforms.ExtractNewRecordState`):
//! replaces a change event's envelope with the row it describes, so sinks that write
//! rows or documents (Elasticsearch, a database) index the row by its key.
//!
//! - Inserts, updates and snapshot reads (`op` c, u, r) become their `after` row.
//! - Deletes follow `delete.handling.mode`: `drop` (the default) drops them, `none`
//!   makes them a tombstone (null value), `rewrite` keeps the `before` row and adds
//!   `__deleted: "true"` (and `__deleted: "false"` to every other row).
//! - Tombstones (the null-valued record a CDC source writes after a delete, for log
//!   compaction) are dropped while `drop.tombstones` is true, the default.
//! - `add.fields` copies envelope fields into the row, `add.headers` into headers:
//!   `op`, `ts_ms`, … from the envelope, other names from its `source` block (`table`,
//!   `lsn`), or `struct.field` for either (`source.ts_ms`). They are named with the
//!   prefix (`__` by default) and the name's dots turned into underscores:
//!   `__op`, `__table`, `__source_ts_ms`.
//! - Debezium 2.5's `delete.tombstone.handling.mode` (`drop`, `tombstone`, `rewrite`,
//!   `rewrite-with-tombstone`) is read too, and wins over the two keys it replaces.
//! - Anything that is not a change envelope (heartbeats, schema changes, records of
//!   other topics) passes unchanged; truncate events (`op` t, which name no row) are
//!   dropped.
//!
//! The key is left as it is: with a CDC source it is the row's primary key.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, Validator};
use crate::converter::HeaderConverter;
use crate::{ConnectError, Data, Header, Record};

use super::field::Label;
use super::registry::Settings;
use super::Transform;

const DELETE_MODES: &[&str] = &["drop", "none", "rewrite"];
const TOMBSTONE_MODES: &[&str] = &["drop", "tombstone", "rewrite", "rewrite-with-tombstone"];

/// Fields of the envelope itself; any other plain name is looked up in `source`.
const ENVELOPE_FIELDS: &[&str] = &[
    "op",
    "ts_ms",
    "ts_us",
    "ts_ns",
    "before",
    "after",
    "source",
    "transaction",
];

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "drop.tombstones",
                ConfigType::Boolean,
                "Whether tombstones (null values) are dropped.",
            )
            .default_value("true"),
        )
        .define(
            ConfigKey::new(
                "delete.handling.mode",
                ConfigType::String,
                "Delete events: drop them, make them tombstones (none), or keep the \
                 before row with __deleted=true (rewrite).",
            )
            .default_value("drop")
            .importance(Importance::Medium)
            .validator(Validator::OneOf(DELETE_MODES)),
        )
        .define(
            ConfigKey::new(
                "delete.tombstone.handling.mode",
                ConfigType::String,
                "Debezium 2.5's single key for deletes and tombstones: drop, tombstone, \
                 rewrite or rewrite-with-tombstone. Overrides the two older keys.",
            )
            .optional()
            .validator(Validator::OneOf(TOMBSTONE_MODES)),
        )
        .define(
            ConfigKey::new(
                "add.fields",
                ConfigType::List,
                "Envelope fields to add to the row, e.g. op,table,lsn,source.ts_ms.",
            )
            .default_value(""),
        )
        .define(
            ConfigKey::new(
                "add.fields.prefix",
                ConfigType::String,
                "The prefix of added fields' names.",
            )
            .default_value("__"),
        )
        .define(
            ConfigKey::new(
                "add.headers",
                ConfigType::List,
                "Envelope fields to add as headers, e.g. op,source.ts_ms.",
            )
            .default_value(""),
        )
        .define(
            ConfigKey::new(
                "add.headers.prefix",
                ConfigType::String,
                "The prefix of added headers' keys.",
            )
            .default_value("__"),
        )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeleteMode {
    Drop,
    Tombstone,
    Rewrite,
}

/// An envelope field to copy: where it is and what it is called once copied.
#[derive(Debug, Clone)]
struct Added {
    /// `None`: the envelope itself; `Some(s)`: its `s` block.
    within: Option<String>,
    field: String,
    name: String,
}

impl Added {
    fn parse(spec: &str, prefix: &str) -> Added {
        let (within, field) = match spec.split_once('.') {
            Some((within, field)) => (Some(within.to_string()), field.to_string()),
            None if ENVELOPE_FIELDS.contains(&spec) => (None, spec.to_string()),
            None => (Some("source".to_string()), spec.to_string()),
        };
        Added {
            within,
            field,
            name: format!("{prefix}{}", spec.replace('.', "_")),
        }
    }

    fn value(&self, envelope: &Map<String, Value>) -> Value {
        let holder = match &self.within {
            None => Some(envelope),
            Some(block) => envelope.get(block).and_then(Value::as_object),
        };
        holder
            .and_then(|h| h.get(&self.field))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

#[derive(Debug)]
struct ExtractNewRecordState {
    label: Label,
    drop_tombstones: bool,
    deletes: DeleteMode,
    fields: Vec<Added>,
    headers: Vec<Added>,
    converter: Arc<dyn HeaderConverter>,
}

pub(super) fn build(
    label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let mut drop_tombstones = settings.boolean("drop.tombstones").unwrap_or(true);
    let mut deletes = match settings.string("delete.handling.mode").unwrap_or("drop") {
        "none" => DeleteMode::Tombstone,
        "rewrite" => DeleteMode::Rewrite,
        _ => DeleteMode::Drop,
    };
    if let Some(mode) = settings.string("delete.tombstone.handling.mode") {
        (deletes, drop_tombstones) = match mode {
            "tombstone" => (DeleteMode::Tombstone, true),
            "rewrite" => (DeleteMode::Rewrite, true),
            "rewrite-with-tombstone" => (DeleteMode::Rewrite, false),
            _ => (DeleteMode::Drop, true),
        };
    }
    let field_prefix = settings.string("add.fields.prefix").unwrap_or("__");
    let header_prefix = settings.string("add.headers.prefix").unwrap_or("__");
    let added = |specs: &[String], prefix: &str| -> Vec<Added> {
        specs
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| Added::parse(s, prefix))
            .collect()
    };
    Ok(Box::new(ExtractNewRecordState {
        label,
        drop_tombstones,
        deletes,
        fields: added(settings.list("add.fields"), field_prefix),
        headers: added(settings.list("add.headers"), header_prefix),
        converter: settings.header_converter(),
    }))
}

/// The envelope in `value`, if it is one: an object with an `op` and a row slot.
fn envelope(value: &Data) -> Option<&Map<String, Value>> {
    let map = value.as_object()?;
    let is_envelope = map.get("op").is_some_and(Value::is_string)
        && (map.contains_key("after") || map.contains_key("before"));
    is_envelope.then_some(map)
}

impl Transform for ExtractNewRecordState {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        if record.value.is_null() {
            return Ok((!self.drop_tombstones).then_some(record));
        }
        let Some(envelope) = envelope(&record.value) else {
            return Ok(Some(record));
        };
        let op = envelope
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let row = |slot: &str| match envelope.get(slot) {
            Some(Value::Object(row)) => Ok(Some(row.clone())),
            None | Some(Value::Null) => Ok(None),
            Some(other) => Err(self.label.error(format_args!(
                "the change event's {slot} is {}, not a row object",
                Data::Json(other.clone()).kind()
            ))),
        };
        let mut new_value = match op {
            "t" => return Ok(None),
            "d" => match self.deletes {
                DeleteMode::Drop => return Ok(None),
                DeleteMode::Tombstone => None,
                DeleteMode::Rewrite => row("before")?.map(|mut before| {
                    before.insert("__deleted".into(), Value::String("true".into()));
                    before
                }),
            },
            _ => row("after")?.map(|mut after| {
                if self.deletes == DeleteMode::Rewrite {
                    after.insert("__deleted".into(), Value::String("false".into()));
                }
                after
            }),
        };
        if let Some(row) = new_value.as_mut() {
            for field in &self.fields {
                row.insert(field.name.clone(), field.value(envelope));
            }
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for header in &self.headers {
            let value = Data::Json(header.value(envelope));
            let bytes = self
                .converter
                .from_connect_header(&record.topic, &header.name, &value)?;
            headers.push(Header {
                key: header.name.clone(),
                value: bytes,
            });
        }
        record.headers.extend(headers);
        record.value = new_value.map_or(Data::Null, |row| Data::Json(Value::Object(row)));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};
    use crate::{Data, Record};

    const NAME: &str = "io.debezium.transforms.ExtractNewRecordState";

    fn event(op: &str, before: serde_json::Value, after: serde_json::Value) -> Record {
        json_record(
            "shop.public.orders",
            json!({
                "before": before,
                "after": after,
                "source": {"table": "orders", "schema": "public", "lsn": 1234, "ts_ms": 1700},
                "op": op,
                "ts_ms": 1800,
            }),
        )
    }

    #[test]
    fn inserts_updates_and_reads_become_the_after_row_and_deletes_are_dropped() {
        let t = transform(NAME, &[]);
        for op in ["c", "u", "r"] {
            let out = t.apply(event(
                op,
                json!({"id": 1, "v": "old"}),
                json!({"id": 1, "v": "new"}),
            ));
            assert_eq!(
                out.unwrap().unwrap().value,
                Data::Json(json!({"id": 1, "v": "new"}))
            );
        }
        assert_eq!(
            t.apply(event("d", json!({"id": 1}), json!(null))).unwrap(),
            None
        );
        assert_eq!(
            t.apply(Record::new("t", Data::Null)).unwrap(),
            None,
            "tombstones dropped"
        );
        assert_eq!(t.apply(event("t", json!(null), json!(null))).unwrap(), None);
    }

    #[test]
    fn the_short_name_works_and_the_key_is_kept() {
        let t = transform("ExtractNewRecordState", &[]);
        let mut record = event("c", json!(null), json!({"id": 7}));
        record.key = Data::Json(json!({"id": 7}));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!({"id": 7})));
    }

    #[test]
    fn delete_handling_none_makes_a_tombstone_and_rewrite_keeps_the_before_row() {
        let none = transform(
            NAME,
            &[
                ("delete.handling.mode", "none"),
                ("drop.tombstones", "false"),
            ],
        );
        let out = none
            .apply(event("d", json!({"id": 1}), json!(null)))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Null);
        let tombstone = Record::new("t", Data::Null);
        assert_eq!(none.apply(tombstone.clone()).unwrap(), Some(tombstone));

        let rewrite = transform(NAME, &[("delete.handling.mode", "rewrite")]);
        let out = rewrite
            .apply(event("d", json!({"id": 1, "v": "x"}), json!(null)))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({"id": 1, "v": "x", "__deleted": "true"}))
        );
        let out = rewrite
            .apply(event("u", json!(null), json!({"id": 2})))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({"id": 2, "__deleted": "false"}))
        );
    }

    #[test]
    fn the_newer_single_key_overrides_the_older_two() {
        let t = transform(
            NAME,
            &[
                ("delete.handling.mode", "drop"),
                ("delete.tombstone.handling.mode", "rewrite-with-tombstone"),
            ],
        );
        let out = t
            .apply(event("d", json!({"id": 1}), json!(null)))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Json(json!({"id": 1, "__deleted": "true"})));
        assert!(t.apply(Record::new("t", Data::Null)).unwrap().is_some());
        let t = transform(NAME, &[("delete.tombstone.handling.mode", "tombstone")]);
        let out = t
            .apply(event("d", json!({"id": 1}), json!(null)))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Data::Null);
    }

    #[test]
    fn add_fields_and_headers_copy_envelope_and_source_fields() {
        let t = transform(
            NAME,
            &[
                ("add.fields", "op,table,lsn,source.ts_ms"),
                ("add.headers", "op,ts_ms"),
                ("add.headers.prefix", "cdc_"),
            ],
        );
        let out = t
            .apply(event("u", json!(null), json!({"id": 3})))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({
                "id": 3, "__op": "u", "__table": "orders", "__lsn": 1234, "__source_ts_ms": 1700
            }))
        );
        let headers: Vec<(&str, Option<&[u8]>)> = out
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        assert_eq!(
            headers,
            [
                ("cdc_op", Some(&b"u"[..])),
                ("cdc_ts_ms", Some(&b"1800"[..]))
            ]
        );
    }

    #[test]
    fn records_that_are_not_change_events_pass_unchanged() {
        let t = transform(NAME, &[]);
        let plain = json_record("t", json!({"id": 1, "after": "not an op"}));
        assert_eq!(t.apply(plain.clone()).unwrap(), Some(plain));
        let text = Record::new("t", Data::Json(json!("a line")));
        assert_eq!(t.apply(text.clone()).unwrap(), Some(text));
        let err = t.apply(event("c", json!(null), json!("oops"))).unwrap_err();
        assert!(err.to_string().contains("not a row object"), "{err}");
    }

    #[test]
    fn refuses_an_unknown_mode_and_unknown_keys() {
        let issues = try_transform(NAME, &[("delete.handling.mode", "keep")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.delete.handling.mode");
        let issues = try_transform(NAME, &[("drop.tombstone", "false")]).unwrap_err();
        assert!(
            issues[0]
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains("drop.tombstones"),
            "{issues:?}"
        );
    }
}
