//! `RegexRouter`: renames topics that match `regex` as a whole (Java's `matches()`)
//! to `replacement`, where `$1` or `${name}` stand for a capture group. Topics that do
//! not match keep their name.
//!
//! The replacement follows Java's `Matcher` rules, not the regex crate's: `$12` is
//! group 12 only when the pattern has that many groups (otherwise group 1 then `2`),
//! `\$` is a literal dollar, and a reference to a group that does not exist is rejected
//! when the transform is configured.

use regex::{Captures, Regex};

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType, Validator};
use crate::{ConnectError, Record};

use super::field::Label;
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "regex",
                ConfigType::String,
                "Regular expression to use for matching.",
            )
            .validator(Validator::NonEmpty),
        )
        .define(ConfigKey::new(
            "replacement",
            ConfigType::String,
            "Replacement string, with $1 or ${name} for capture groups.",
        ))
}

/// `pattern` compiled to match a whole string, as Java's `Matcher.matches()`.
pub(super) fn whole_match(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(|err| match err {
        regex::Error::Syntax(text) => format!(
            "not a valid regular expression (look-around and back-references are not \
             supported): {}",
            text.lines().last().unwrap_or_default()
        ),
        other => other.to_string(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// Parses a Java replacement string against the groups of `regex`.
fn parse_replacement(replacement: &str, regex: &Regex) -> Result<Vec<Piece>, String> {
    let groups = regex.captures_len() - 1;
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(
                chars
                    .next()
                    .ok_or("character to be escaped is missing at the end")?,
            ),
            '$' => {
                let piece = match chars.next() {
                    Some('{') => {
                        let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                        if regex.capture_names().flatten().all(|n| n != name) {
                            return Err(format!("no group with name {{{name}}}"));
                        }
                        Piece::Named(name)
                    }
                    Some(digit @ '0'..='9') => {
                        let mut group = digit as usize - '0' as usize;
                        // Java takes further digits only while they name an existing group.
                        while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                            let longer = group * 10 + next as usize;
                            if longer > groups {
                                break;
                            }
                            group = longer;
                            chars.next();
                        }
                        if group > groups {
                            return Err(format!("no group {group}: the regex has {groups}"));
                        }
                        Piece::Group(group)
                    }
                    _ => {
                        return Err(
                            "illegal group reference: write $1, ${name}, or \\$ for a dollar"
                                .into(),
                        )
                    }
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn expand(pieces: &[Piece], captures: &Captures<'_>) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Group(n) => out.push_str(captures.get(*n).map_or("", |m| m.as_str())),
            Piece::Named(name) => out.push_str(captures.name(name).map_or("", |m| m.as_str())),
        }
    }
    out
}

#[derive(Debug)]
struct RegexRouter {
    regex: Regex,
    replacement: Vec<Piece>,
}

pub(super) fn build(
    _label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let pattern = settings.string("regex").unwrap_or_default();
    let regex =
        whole_match(pattern).map_err(|why| vec![settings.invalid("regex", pattern, why)])?;
    let replacement = settings.string("replacement").unwrap_or_default();
    let replacement = parse_replacement(replacement, &regex)
        .map_err(|why| vec![settings.invalid("replacement", replacement, why)])?;
    Ok(Box::new(RegexRouter { regex, replacement }))
}

impl Transform for RegexRouter {
    fn keeps_schemas(&self) -> bool {
        true
    }

    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        if let Some(captures) = self.regex.captures(&record.topic) {
            record.topic = expand(&self.replacement, &captures);
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};

    fn route(pairs: &[(&str, &str)], topic: &str) -> String {
        let t = transform("RegexRouter", pairs);
        t.apply(json_record(topic, json!({})))
            .unwrap()
            .unwrap()
            .topic
    }

    #[test]
    fn kafkas_documented_example() {
        let pairs = [("regex", "(.*)-(.*)-(.*)"), ("replacement", "$3")];
        assert_eq!(route(&pairs, "app-orders-v1"), "v1");
    }

    #[test]
    fn only_whole_matches_are_renamed() {
        let pairs = [("regex", "orders"), ("replacement", "sales")];
        assert_eq!(route(&pairs, "orders"), "sales");
        assert_eq!(route(&pairs, "orders-eu"), "orders-eu");
    }

    #[test]
    fn replacement_follows_java_rules() {
        let one = [("regex", "db\\.(\\w+)"), ("replacement", "$10-\\$-${x}")];
        assert!(
            try_transform("RegexRouter", &one).is_err(),
            "no group named x"
        );
        let one = [("regex", "db\\.(\\w+)"), ("replacement", "$10-\\$")];
        assert_eq!(route(&one, "db.users"), "users0-$");
        let named = [
            ("regex", "db\\.(?<table>\\w+)"),
            ("replacement", "cdc.${table}"),
        ];
        assert_eq!(route(&named, "db.users"), "cdc.users");
    }

    #[test]
    fn bad_patterns_and_group_references_are_config_issues() {
        let issues =
            try_transform("RegexRouter", &[("regex", "(a"), ("replacement", "x")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.regex");
        let issues =
            try_transform("RegexRouter", &[("regex", "(a)"), ("replacement", "$2")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.replacement");
        assert!(
            issues[0].message.ends_with("no group 2: the regex has 1"),
            "{issues:?}"
        );
        let issues = try_transform("RegexRouter", &[("regex", "a")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.replacement");
    }
}
