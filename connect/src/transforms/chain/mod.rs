//! A connector's transforms, parsed from Kafka Connect's keys and applied in order.
//!
//! ```text
//! transforms=route,dropTombstones
//! transforms.route.type=RegexRouter
//! transforms.route.regex=(.*)-raw
//! transforms.route.replacement=$1
//! transforms.dropTombstones.type=Filter
//! transforms.dropTombstones.predicate=isTombstone
//! predicates=isTombstone
//! predicates.isTombstone.type=RecordIsTombstone
//! ```
//!
//! A transform with a predicate runs only on the records the predicate holds for (or,
//! with `negate=true`, does not hold for); the others pass it unchanged. Every problem
//! in these keys is collected, not just the first, and each names its full key.

use std::sync::Arc;

use crate::{ConnectError, Data, Record};

use super::{Predicate, Transform};

mod config;

#[derive(Debug)]
struct Stage {
    alias: String,
    transform: Box<dyn Transform>,
    predicate: Option<Arc<dyn Predicate>>,
    negate: bool,
}

/// The transforms of one connector, in order, each with its optional predicate.
#[derive(Debug, Default)]
pub struct TransformChain {
    stages: Vec<Stage>,
}

/// Whether `key` is one the chain owns (starts with `transforms.` or `predicates.`,
/// or equals `transforms`/`predicates`) — the runtime uses this for its unknown-key check.
pub fn owns_key(key: &str) -> bool {
    key == "transforms"
        || key == "predicates"
        || key.starts_with("transforms.")
        || key.starts_with("predicates.")
}

impl TransformChain {
    /// Applies every transform in order; `Ok(None)` when one dropped the record.
    /// Errors name the alias of the transform that failed.
    pub fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        if self.stages.is_empty() {
            return Ok(Some(record));
        }
        record.key = structured(record.key, "key")?;
        record.value = structured(record.value, "value")?;
        for stage in &self.stages {
            if let Some(predicate) = &stage.predicate {
                if predicate.test(&record) == stage.negate {
                    continue;
                }
            }
            match stage.transform.apply(record)? {
                Some(next) => record = next,
                None => return Ok(None),
            }
            if !stage.transform.keeps_schemas() {
                record.key_schema = None;
                record.value_schema = None;
            }
        }
        Ok(Some(record))
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The aliases of the transforms, in the order they run.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|s| s.alias.as_str())
    }
}

/// What transforms address fields in: a source's JSON text as a tree.
fn structured(data: Data, what: &str) -> Result<Data, ConnectError> {
    data.into_structured().map_err(|e| {
        ConnectError::internal(format!("the source wrote a {what} that is not JSON")).with_source(e)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::transforms::field::test_support::json_record;
    use crate::{Data, Header};

    use crate::config::config_map as props;

    fn chain(pairs: &[(&str, &str)]) -> TransformChain {
        TransformChain::from_config(&props(pairs)).unwrap_or_else(|issues| panic!("{issues:#?}"))
    }

    #[test]
    fn no_transforms_is_an_empty_chain_that_passes_records() {
        let chain = chain(&[("connector.class", "x"), ("topics", "t")]);
        assert!(chain.is_empty());
        let record = json_record("t", json!(1));
        assert_eq!(chain.apply(record.clone()).unwrap(), Some(record));
    }

    #[test]
    fn applies_transforms_in_order() {
        let chain = chain(&[
            ("transforms", "route, addTopic"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "(.*)-raw"),
            ("transforms.route.replacement", "$1"),
            ("transforms.addTopic.type", "InsertField$Value"),
            ("transforms.addTopic.topic.field", "from"),
        ]);
        assert_eq!(chain.aliases().collect::<Vec<_>>(), ["route", "addTopic"]);
        let out = chain
            .apply(json_record("logs-raw", json!({})))
            .unwrap()
            .unwrap();
        assert_eq!(out.topic, "logs");
        assert_eq!(out.value, Data::Json(json!({"from": "logs"})));
    }

    #[test]
    fn schemas_survive_routing_and_go_with_a_changed_value() {
        let schema = crate::Schema::new(json!({"type": "struct", "fields": []}));
        let mut record = json_record("logs-raw", json!({}));
        record.key_schema = Some(schema.clone());
        record.value_schema = Some(schema.clone());
        let route = [
            ("transforms", "route"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "(.*)-raw"),
            ("transforms.route.replacement", "$1"),
        ];
        let routed = chain(&route).apply(record.clone()).unwrap().unwrap();
        assert_eq!(routed.value_schema, Some(schema.clone()));
        let insert = [
            ("transforms", "add"),
            ("transforms.add.type", "InsertField$Value"),
            ("transforms.add.topic.field", "from"),
        ];
        let changed = chain(&insert).apply(record).unwrap().unwrap();
        assert_eq!(changed.value_schema, None);
        assert_eq!(changed.key_schema, None);
    }

    #[test]
    fn predicates_gate_transforms_and_negate_inverts_them() {
        let base = [
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "isFoo"),
            ("predicates", "isFoo"),
            (
                "predicates.isFoo.type",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
            ("predicates.isFoo.pattern", "foo.*"),
        ];
        let plain = chain(&base);
        assert_eq!(plain.apply(json_record("foo-1", json!(1))).unwrap(), None);
        assert!(plain.apply(json_record("bar", json!(1))).unwrap().is_some());

        let mut negated = base.to_vec();
        negated.push(("transforms.drop.negate", "true"));
        let negated = chain(&negated);
        assert!(negated
            .apply(json_record("foo-1", json!(1)))
            .unwrap()
            .is_some());
        assert_eq!(negated.apply(json_record("bar", json!(1))).unwrap(), None);
    }

    #[test]
    fn one_predicate_serves_several_transforms() {
        let chain = chain(&[
            ("transforms", "mark,dropTombstones"),
            ("transforms.mark.type", "InsertField$Value"),
            ("transforms.mark.static.field", "traced"),
            ("transforms.mark.static.value", "yes"),
            ("transforms.mark.predicate", "traced"),
            ("transforms.dropTombstones.type", "Filter"),
            ("transforms.dropTombstones.predicate", "tombstone"),
            ("predicates", "traced,tombstone"),
            ("predicates.traced.type", "HasHeaderKey"),
            ("predicates.traced.name", "trace"),
            ("predicates.tombstone.type", "RecordIsTombstone"),
        ]);
        let mut traced = json_record("t", json!({}));
        traced.headers.push(Header::new("trace", "1"));
        let out = chain.apply(traced).unwrap().unwrap();
        assert_eq!(out.value, Data::Json(json!({"traced": "yes"})));
        let plain = chain.apply(json_record("t", json!({}))).unwrap().unwrap();
        assert_eq!(plain.value, Data::Json(json!({})));
        assert_eq!(chain.apply(Record::new("t", Data::Null)).unwrap(), None);
    }

    #[test]
    fn errors_name_the_failing_alias() {
        let chain = chain(&[
            ("transforms", "mask"),
            ("transforms.mask.type", "MaskField$Value"),
            ("transforms.mask.fields", "ssn"),
        ]);
        let err = chain.apply(json_record("t", json!("text"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mask (MaskField$Value): needs a JSON object value, got string; set value.converter=json"
        );
    }

    #[test]
    fn header_transforms_use_the_header_converter_of_the_config() {
        let pairs = [
            ("transforms", "copyId,tag,dropTrace"),
            ("transforms.copyId.type", "HeaderFrom$Value"),
            ("transforms.copyId.fields", "id"),
            ("transforms.copyId.headers", "id"),
            ("transforms.copyId.operation", "move"),
            ("transforms.tag.type", "InsertHeader"),
            ("transforms.tag.header", "tag"),
            ("transforms.tag.value.literal", "blue"),
            ("transforms.dropTrace.type", "DropHeaders"),
            ("transforms.dropTrace.headers", "trace"),
        ];
        let headers = |chain: &TransformChain| {
            let mut record = json_record("t", json!({"id": "a-1", "n": 2}));
            record.headers.push(Header::new("trace", "x"));
            let out = chain.apply(record).unwrap().unwrap();
            assert_eq!(out.value, Data::Json(json!({"n": 2})));
            out.headers
        };
        assert_eq!(
            headers(&chain(&pairs)),
            [Header::new("id", "a-1"), Header::new("tag", "blue")]
        );
        let json = [&pairs[..], &[("header.converter", "json")]].concat();
        assert_eq!(
            headers(&chain(&json)),
            [Header::new("id", "\"a-1\""), Header::new("tag", "\"blue\"")]
        );
        let bad = [&pairs[..], &[("header.converter", "jsn")]].concat();
        let issues = TransformChain::from_config(&props(&bad)).unwrap_err();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].key, "header.converter");
    }

    #[test]
    fn owns_only_its_keys() {
        assert!(owns_key("transforms"));
        assert!(owns_key("predicates.p.type"));
        assert!(owns_key("transforms.a.type"));
        assert!(!owns_key("transformsx"));
        assert!(!owns_key("topics"));
    }
}
