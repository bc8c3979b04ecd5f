//! `ReplaceField$Key` / `ReplaceField$Value`: keeps, drops and renames top-level
//! fields. `exclude` wins over `include`; an empty `include` keeps every field.

use std::collections::BTreeMap;

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType};
use crate::{ConnectError, Record};

use super::field::{put_object, take_object, Label, Side};
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new("exclude", ConfigType::List, "Fields to drop.").default_value(""))
        .define(
            ConfigKey::new(
                "include",
                ConfigType::List,
                "Fields to keep; when set, every other field is dropped.",
            )
            .default_value(""),
        )
        .define(
            ConfigKey::new(
                "renames",
                ConfigType::List,
                "Field renames, as old:new pairs separated by commas.",
            )
            .default_value(""),
        )
}

#[derive(Debug)]
struct ReplaceField {
    label: Label,
    side: Side,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: BTreeMap<String, String>,
}

pub(super) fn build(
    label: Label,
    side: Side,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let mut renames = BTreeMap::new();
    let mut issues = Vec::new();
    for mapping in settings.list("renames") {
        match mapping.split_once(':') {
            Some((old, new)) if !old.is_empty() && !new.is_empty() && !new.contains(':') => {
                renames.insert(old.to_string(), new.to_string());
            }
            _ => issues.push(
                settings
                    .invalid(
                        "renames",
                        &settings.list("renames").join(","),
                        format!("Invalid rename mapping: {mapping}"),
                    )
                    .with_hint("write each rename as old:new, e.g. renames=foo:c1,bar:c2"),
            ),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Box::new(ReplaceField {
        label,
        side,
        exclude: settings.list("exclude").to_vec(),
        include: settings.list("include").to_vec(),
        renames,
    }))
}

impl ReplaceField {
    fn keeps(&self, name: &str) -> bool {
        !self.exclude.iter().any(|f| f == name)
            && (self.include.is_empty() || self.include.iter().any(|f| f == name))
    }
}

impl Transform for ReplaceField {
    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let Some(object) = take_object(&self.label, self.side, &mut record)? else {
            return Ok(Some(record));
        };
        let replaced = object
            .into_iter()
            .filter(|(name, _)| self.keeps(name))
            .map(|(name, value)| match self.renames.get(&name) {
                Some(new) => (new.clone(), value),
                None => (name, value),
            })
            .collect();
        put_object(self.side, &mut record, replaced);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};
    use crate::Data;

    #[test]
    fn kafkas_documented_example() {
        // Kafka's docs: exclude=c3, renames=foo:c1,bar:c2.
        let t = transform(
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
            &[("exclude", "c3"), ("renames", "foo:c1,bar:c2")],
        );
        let record = json_record("t", json!({"foo": 1, "bar": "x", "c3": true, "other": 0}));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(
            out.value,
            Data::Json(json!({"c1": 1, "c2": "x", "other": 0}))
        );
    }

    #[test]
    fn include_keeps_only_listed_fields_and_exclude_wins() {
        let t = transform("ReplaceField$Key", &[("include", "a,b"), ("exclude", "b")]);
        let mut record = json_record("t", json!(null));
        record.key = Data::Json(json!({"a": 1, "b": 2, "c": 3}));
        let out = t.apply(record).unwrap().unwrap();
        assert_eq!(out.key, Data::Json(json!({"a": 1})));
    }

    #[test]
    fn bad_rename_mappings_are_config_issues() {
        let issues = try_transform("ReplaceField$Value", &[("renames", "a:b,c")]).unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "transforms.t.renames");
        assert!(
            issues[0].message.ends_with("Invalid rename mapping: c"),
            "{issues:?}"
        );
    }
}
