//! `DropHeaders` (KIP-145): removes every header whose key is one of `headers`,
//! repeated keys and null values included; the other headers keep their order.

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, Validator};
use crate::{ConnectError, Record};

use super::field::Label;
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            "headers",
            ConfigType::List,
            "The keys of the headers to remove.",
        )
        .importance(Importance::High)
        .validator(Validator::NonEmpty),
    )
}

#[derive(Debug)]
struct DropHeaders {
    keys: Vec<String>,
}

pub(super) fn build(
    _label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    Ok(Box::new(DropHeaders {
        keys: settings.list("headers").to_vec(),
    }))
}

impl Transform for DropHeaders {
    fn keeps_schemas(&self) -> bool {
        true
    }

    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        record.headers.retain(|h| !self.keys.contains(&h.key));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};
    use crate::{Data, Header, Record};

    #[test]
    fn removes_every_header_with_a_listed_key() {
        let t = transform("DropHeaders", &[("headers", "trace, tmp")]);
        let mut record = json_record("t", json!({"a": 1}));
        record.headers = vec![
            Header::new("trace", "1"),
            Header::new("keep", "a"),
            Header {
                key: "tmp".into(),
                value: None,
            },
            Header::new("trace", "2"),
            Header::new("Trace", "case matters"),
            Header::new("keep", "b"),
        ];
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(
            out.headers,
            [
                Header::new("keep", "a"),
                Header::new("Trace", "case matters"),
                Header::new("keep", "b"),
            ]
        );
        assert_eq!(out.value, Data::Json(json!({"a": 1})));
    }

    #[test]
    fn records_without_those_headers_and_tombstones_pass_unchanged() {
        let t = transform("DropHeaders", &[("headers", "x")]);
        let mut tombstone = Record::new("t", Data::Null);
        tombstone.headers.push(Header::new("y", "1"));
        assert_eq!(t.apply(tombstone.clone()).unwrap(), Some(tombstone));
    }

    #[test]
    fn needs_at_least_one_key() {
        let issues = try_transform("DropHeaders", &[("headers", "")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.headers");
        assert!(
            issues[0].message.contains("List must be non-empty"),
            "{issues:?}"
        );
        assert!(try_transform("DropHeaders", &[]).is_err());
    }
}
