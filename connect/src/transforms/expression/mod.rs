//! Weir's expression filter, `io.weir.connect.transforms.ExpressionFilter`: keeps (or,
//! with `action=exclude`, drops) the records for which a condition holds.
//!
//! The condition is a small language, parsed once when the connector is configured
//! and never run as code:
//!
//! - **Operands.** `value` and `key` with dotted paths (`value.level`,
//!   `value.user.id`, `value.items.0`, `value."a.b"` for a name with a dot), `topic`,
//!   `header.<name>` (the last header of that name, as text), `timestamp` and
//!   `partition` (numbers), and literals: strings in double or single quotes (with
//!   `\"`, `\'`, `\\`, `\n`, `\t`), numbers, `true`, `false`, `null`.
//! - **Comparisons.** `==`, `!=`, `<`, `<=`, `>`, `>=` (numbers by value, strings by
//!   their characters); `a contains b` (substring, or an array item);
//!   `a startsWith b` and `a endsWith b` (also `starts_with`, `ends_with`);
//!   `a matches "regex"` (the whole string must match, as Java's `matches()`).
//! - **Logic.** `!`, `&&`, `||` (in that order of precedence) and parentheses. An
//!   operand on its own holds when it is `true`: `value.active`.
//! - **Nulls.** A missing field, or a path into something that is not an object, is
//!   null. Any comparison with a null operand is false, except `== null` and
//!   `!= null`, which test for it: `value.user != null && value.user.age >= 18`.
//!
//! ```text
//! value.level == "error" || value.status >= 500
//! topic startsWith "orders-" && !(header.source == "replay")
//! value.email matches ".*@example\\.com" && value.tags contains "vip"
//! ```
//!
//! A mistake is reported with the column where it was found and what was expected,
//! e.g. `at column 13: expected `==`, found `=``.

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Validator};
use crate::{ConnectError, Record};

use super::field::Label;
use super::registry::Settings;
use super::Transform;

mod eval;
mod lexer;
mod parser;

/// A parsed condition on a record.
#[derive(Debug, Clone)]
pub struct Condition {
    expr: parser::Expr,
}

impl Condition {
    /// Parses `source`; see the module documentation for the language.
    pub fn parse(source: &str) -> Result<Condition, ConditionError> {
        let tokens = lexer::tokenize(source)?;
        Ok(Condition {
            expr: parser::parse(&tokens)?,
        })
    }

    /// Whether the condition holds for `record`.
    pub fn test(&self, record: &Record) -> bool {
        self.expr.eval(record)
    }
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct ConditionError {
    /// 1-based, in characters.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl ConditionError {
    fn new(column: usize, message: impl Into<String>) -> ConditionError {
        ConditionError {
            column,
            message: message.into(),
        }
    }
}

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "condition",
                ConfigType::String,
                "The condition records are kept (or dropped) by, e.g. value.level == \"error\".",
            )
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(
                "action",
                ConfigType::String,
                "include keeps the records the condition holds for; exclude drops them.",
            )
            .default_value("include")
            .validator(Validator::OneOf(&["include", "exclude"])),
        )
}

#[derive(Debug)]
struct ExpressionFilter {
    condition: Condition,
    keep_when: bool,
}

pub(super) fn build(_: Label, settings: &Settings) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let source = settings.string("condition").unwrap_or_default();
    let condition = Condition::parse(source).map_err(|err| {
        vec![settings
            .invalid("condition", source, err.to_string())
            .with_hint(
                r#"a condition looks like value.level == "error" && topic startsWith "app-""#,
            )]
    })?;
    Ok(Box::new(ExpressionFilter {
        condition,
        keep_when: settings.string("action") != Some("exclude"),
    }))
}

impl Transform for ExpressionFilter {
    fn keeps_schemas(&self) -> bool {
        true
    }

    fn apply(&self, record: Record) -> Result<Option<Record>, ConnectError> {
        Ok((self.condition.test(&record) == self.keep_when).then_some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Condition;
    use crate::transforms::field::test_support::json_record;
    use crate::transforms::registry::{transform, try_transform};
    use crate::{Data, Header, Record};

    fn record() -> Record {
        let mut record = json_record(
            "orders-eu",
            json!({"level": "error", "status": 503, "ratio": 0.5, "active": true,
                   "user": {"id": 7, "email": "ann@example.com", "tags": ["vip", 3]},
                   "a.b": "dotted"}),
        );
        record.key = Data::Json(json!({"id": "k1"}));
        record.headers.push(Header::new("source", "replay"));
        record.timestamp = Some(1000);
        record.partition = Some(2);
        record
    }

    fn holds(source: &str) -> bool {
        Condition::parse(source)
            .unwrap_or_else(|err| panic!("{source}: {err}"))
            .test(&record())
    }

    fn error(source: &str) -> String {
        Condition::parse(source).unwrap_err().to_string()
    }

    #[test]
    fn reads_every_kind_of_operand() {
        assert!(holds(r#"value.level == "error""#));
        assert!(holds("value.user.id == 7 && value.user.id == 7.0"));
        assert!(holds("value.user.tags.0 == 'vip'"));
        assert!(holds(r#"value."a.b" == "dotted""#));
        assert!(holds(r#"key.id == "k1" && topic == "orders-eu""#));
        assert!(holds(
            r#"header.source == "replay" && header.missing == null"#
        ));
        assert!(holds("timestamp == 1000 && partition == 2"));
        assert!(holds("value.active && !value.missing"));
    }

    #[test]
    fn compares_numbers_strings_and_collections() {
        assert!(holds(
            "value.status >= 500 && value.status < 600 && value.ratio <= 0.5"
        ));
        assert!(holds(r#"value.level > "debug" && value.level != "info""#));
        assert!(holds(
            r#"value.user.email contains "@example" && value.user.tags contains 3"#
        ));
        assert!(holds(
            r#"topic startsWith "orders-" && topic ends_with "-eu""#
        ));
        assert!(holds(r#"value.user.email matches ".*@example\\.com""#));
        assert!(
            !holds(r#"value.user.email matches "example""#),
            "whole string"
        );
        assert!(
            !holds(r#"value.status > "500""#),
            "mixed types are unordered"
        );
    }

    #[test]
    fn nulls_only_satisfy_null_checks() {
        assert!(holds(
            "value.missing == null && null == value.nested.missing"
        ));
        assert!(holds("value.user != null"));
        assert!(!holds("value.missing != 3"));
        assert!(!holds("value.missing == value.other"));
        assert!(!holds("value.missing < 3 || value.level.deeper == \"x\""));
        assert!(!Condition::parse("value.x == 1")
            .unwrap()
            .test(&Record::new("t", Data::Null)));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert!(holds("value.status == 1 && value.active || value.active"));
        assert!(!holds(
            "value.status == 1 && (value.active || value.active)"
        ));
        assert!(holds("!value.status == 1"), "! binds to the comparison");
        assert!(holds("!(value.active && value.status == 1)"));
    }

    #[test]
    fn parse_errors_name_the_column_and_what_was_expected() {
        assert_eq!(
            error("value.level = 1"),
            "at column 13: expected `==`, found `=`"
        );
        assert_eq!(
            error("value.level == "),
            "at column 16: expected value, key, topic, header.<name>, timestamp, partition, \
             a string, a number, true, false, null, `!` or `(`, found the end of the condition"
        );
        assert_eq!(
            error(r#"value.level "error""#),
            "at column 13: expected an operator (==, !=, <, <=, >, >=, contains, startsWith, \
             endsWith, matches), `&&`, `||` or the end, found `\"error\"`"
        );
        assert_eq!(
            error("(value.a == 1 && value.b"),
            "at column 25: expected `&&`, `||` or `)` to close the `(` at column 1, \
             found the end of the condition"
        );
        assert_eq!(
            error("value.a == 1)"),
            "at column 13: expected `&&`, `||` or the end of the condition, found `)`"
        );
        assert_eq!(
            error("value.a < null"),
            "at column 9: expected `==` or `!=` before or after null, found `<`"
        );
        assert_eq!(
            error("value.a matches 3"),
            "at column 17: expected a quoted regular expression after `matches`, found `3`"
        );
        assert!(error(r#"value.a matches "(""#).starts_with("at column 17: not a valid regular"));
        assert_eq!(
            error("topic.name == 1"),
            "at column 1: expected `topic` alone, found `topic.name`"
        );
        assert_eq!(
            error("header == 1"),
            "at column 1: expected header.<name>, found `header`"
        );
        assert!(error("level == 1").starts_with("at column 1: expected value, key, topic"));
        let deep = format!("{}true{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(
            error(&deep),
            "at column 65: expected at most 64 nested `(` and `!`"
        );
        let fine = format!("{}true{}", "(".repeat(64), ")".repeat(64));
        assert!(Condition::parse(&fine).is_ok());
        let long = vec!["value.status == 503"; 10_000].join(" || ");
        assert!(holds(&long));
    }

    #[test]
    fn filter_keeps_or_drops_by_action() {
        let include = transform("ExpressionFilter", &[("condition", "value.status >= 500")]);
        assert!(include.apply(record()).unwrap().is_some());
        let exclude = transform(
            "io.weir.connect.transforms.ExpressionFilter",
            &[("condition", "value.status >= 500"), ("action", "exclude")],
        );
        assert!(exclude.apply(record()).unwrap().is_none());
    }

    #[test]
    fn bad_conditions_are_config_issues() {
        let issues =
            try_transform("ExpressionFilter", &[("condition", "value.a = 1")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.condition");
        assert_eq!(
            issues[0].message,
            "Invalid value value.a = 1 for configuration transforms.t.condition: \
             at column 9: expected `==`, found `=`"
        );
        let issues = try_transform(
            "ExpressionFilter",
            &[("condition", "true"), ("action", "drop")],
        )
        .unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.action");
    }
}
