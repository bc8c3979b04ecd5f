//! Kafka's predicates: `TopicNameMatches` (the whole topic matches `pattern`),
//! `HasHeaderKey` (a header called `name` is present) and `RecordIsTombstone` (the
//! value is null).

use std::sync::Arc;

use regex::Regex;

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Validator};
use crate::Record;

use super::regex_router::whole_match;
use super::registry::Settings;
use super::Predicate;

pub(super) fn topic_name_matches_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            "pattern",
            ConfigType::String,
            "A regular expression for matching the name of a record's topic.",
        )
        .validator(Validator::NonEmpty),
    )
}

#[derive(Debug)]
struct TopicNameMatches {
    pattern: Regex,
}

pub(super) fn topic_name_matches(
    settings: &Settings,
) -> Result<Arc<dyn Predicate>, Vec<ConfigIssue>> {
    let pattern = settings.string("pattern").unwrap_or_default();
    let pattern =
        whole_match(pattern).map_err(|why| vec![settings.invalid("pattern", pattern, why)])?;
    Ok(Arc::new(TopicNameMatches { pattern }))
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &Record) -> bool {
        self.pattern.is_match(&record.topic)
    }
}

pub(super) fn has_header_key_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("name", ConfigType::String, "The header name.")
            .validator(Validator::NonEmpty),
    )
}

#[derive(Debug)]
struct HasHeaderKey {
    name: String,
}

pub(super) fn has_header_key(settings: &Settings) -> Result<Arc<dyn Predicate>, Vec<ConfigIssue>> {
    Ok(Arc::new(HasHeaderKey {
        name: settings.string("name").unwrap_or_default().to_string(),
    }))
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &Record) -> bool {
        record.header(&self.name).is_some()
    }
}

pub(super) fn record_is_tombstone_def() -> ConfigDef {
    ConfigDef::new()
}

#[derive(Debug)]
struct RecordIsTombstone;

pub(super) fn record_is_tombstone(_: &Settings) -> Result<Arc<dyn Predicate>, Vec<ConfigIssue>> {
    Ok(Arc::new(RecordIsTombstone))
}

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &Record) -> bool {
        record.value.is_null()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use crate::config::ConfigMap;
    use crate::{Data, Header, Record};

    use super::super::registry::{find_predicate, settings};
    use super::super::Predicate;
    use std::sync::Arc;

    fn predicate(name: &str, pairs: &[(&str, &str)]) -> Arc<dyn Predicate> {
        let ty = find_predicate(name).unwrap();
        let props: ConfigMap = pairs
            .iter()
            .map(|(k, v)| (format!("predicates.p.{k}"), v.to_string()))
            .collect();
        let keys: Vec<&String> = props.keys().collect();
        let s = settings(&(ty.config_def)(), "predicates.p.", &keys, &props, &[], "p").unwrap();
        (ty.build)(&s).unwrap()
    }

    #[test]
    fn topic_name_matches_the_whole_name() {
        let p = predicate("TopicNameMatches", &[("pattern", "orders-.*")]);
        assert!(p.test(&json_record("orders-eu", json!(1))));
        assert!(!p.test(&json_record("old-orders-eu", json!(1))));
    }

    #[test]
    fn has_header_key_looks_for_the_name() {
        let p = predicate(
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            &[("name", "trace")],
        );
        let mut record = json_record("t", json!(1));
        assert!(!p.test(&record));
        record.headers.push(Header::new("trace", "abc"));
        assert!(p.test(&record));
    }

    #[test]
    fn record_is_tombstone_when_the_value_is_null() {
        let p = predicate("RecordIsTombstone", &[]);
        assert!(p.test(&Record::new("t", Data::Null)));
        assert!(!p.test(&json_record("t", json!({}))));
    }
}
