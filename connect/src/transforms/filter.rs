//! `Filter`: drops every record it sees. On its own it drops everything; with
//! `transforms.<alias>.predicate` it drops the records the predicate selects (or, with
//! `negate=true`, the ones it does not).

use crate::config::{ConfigDef, ConfigIssue};
use crate::{ConnectError, Record};

use super::field::Label;
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
}

#[derive(Debug)]
struct Filter;

pub(super) fn build(_: Label, _: &Settings) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    Ok(Box::new(Filter))
}

impl Transform for Filter {
    fn keeps_schemas(&self) -> bool {
        true
    }

    fn apply(&self, _record: Record) -> Result<Option<Record>, ConnectError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};

    #[test]
    fn drops_every_record() {
        let t = transform("org.apache.kafka.connect.transforms.Filter", &[]);
        assert_eq!(t.apply(json_record("t", json!(1))).unwrap(), None);
    }

    #[test]
    fn takes_no_keys() {
        let issues = try_transform("Filter", &[("condition", "x")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.condition");
        assert_eq!(issues[0].hint.as_deref(), Some("t takes no keys"));
    }
}
