//! `${env:NAME}` references in config values, Kafka's config-provider syntax with the
//! worker's environment as the one provider.
//!
//! References are resolved only when a config is parsed for running or validating;
//! the config that is stored and returned by the REST API keeps them as written, so a
//! secret taken from the environment never reaches the config topic or a response.
//!
//! - `${env:NAME}`: the variable's value; unset is an issue on that key.
//! - `${env:NAME:-default}`: the default when the variable is unset.
//! - `$${`: a literal `${`, for values that must contain one.
//! - Any other `${…}` (`${topic}` in a router's format) is left as it is.

use super::{ConfigIssue, ConfigMap};

const OPEN: &str = "${env:";

/// `props` with every `${env:…}` reference replaced from the process environment.
pub fn resolve_env(props: &ConfigMap) -> Result<ConfigMap, Vec<ConfigIssue>> {
    resolve_env_with(props, |name| std::env::var(name).ok())
}

/// As [`resolve_env`], looking variables up with `lookup`.
pub fn resolve_env_with(
    props: &ConfigMap,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ConfigMap, Vec<ConfigIssue>> {
    let mut resolved = ConfigMap::new();
    let mut issues = Vec::new();
    for (key, value) in props {
        match resolve_value(key, value, &lookup) {
            Ok(value) => {
                resolved.insert(key.clone(), value);
            }
            Err(issue) => issues.push(issue),
        }
    }
    if issues.is_empty() {
        Ok(resolved)
    } else {
        Err(issues)
    }
}

/// Whether `value` is exactly one reference without a default, so showing it reveals
/// nothing but a variable's name.
pub(crate) fn is_bare_reference(value: &str) -> bool {
    value
        .strip_prefix(OPEN)
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(valid_name)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn resolve_value(
    key: &str,
    value: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigIssue> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix(OPEN) {
            let Some(end) = after.find('}') else {
                return Err(ConfigIssue::new(
                    key,
                    "unterminated environment reference: '${env:' without a closing '}'",
                )
                .with_hint("write ${env:NAME}, or $${ for a literal ${"));
            };
            let body = &after[..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !valid_name(name) {
                return Err(ConfigIssue::new(
                    key,
                    format!("'{name}' is not an environment variable name"),
                )
                .with_hint("names are letters, digits and '_', as ${env:REDIS_PASSWORD}"));
            }
            match (lookup(name), default) {
                (Some(found), _) => out.push_str(&found),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(ConfigIssue::new(
                        key,
                        format!("environment variable {name} is not set"),
                    )
                    .with_hint(format!(
                        "set {name} in the worker's environment, or give a default: \
                         ${{env:{name}:-value}}"
                    )));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Result<String, ConfigIssue> {
        let props = ConfigMap::from([("k".to_string(), value.to_string())]);
        let lookup = |name: &str| match name {
            "HOST" => Some("redis.local".to_string()),
            "PASS" => Some("s3cr3t".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        resolve_env_with(&props, lookup)
            .map(|mut m| m.remove("k").unwrap())
            .map_err(|mut issues| issues.remove(0))
    }

    #[test]
    fn replaces_references_anywhere_in_a_value() {
        assert_eq!(
            one("redis://${env:HOST}:6379").unwrap(),
            "redis://redis.local:6379"
        );
        assert_eq!(
            one("${env:HOST}/${env:PASS}").unwrap(),
            "redis.local/s3cr3t"
        );
        assert_eq!(one("${env:EMPTY}").unwrap(), "");
        assert_eq!(one("no references").unwrap(), "no references");
    }

    #[test]
    fn uses_the_default_only_when_unset() {
        assert_eq!(one("${env:MISSING:-6379}").unwrap(), "6379");
        assert_eq!(one("${env:MISSING:-}").unwrap(), "");
        assert_eq!(one("${env:HOST:-other}").unwrap(), "redis.local");
    }

    #[test]
    fn escapes_and_other_placeholders_stay_literal() {
        assert_eq!(one("$${env:HOST}").unwrap(), "${env:HOST}");
        assert_eq!(
            one("${topic}-${timestamp}").unwrap(),
            "${topic}-${timestamp}"
        );
        assert_eq!(one("cost $5 $").unwrap(), "cost $5 $");
    }

    #[test]
    fn a_missing_variable_names_the_key_and_how_to_set_it() {
        let issue = one("${env:REDIS_PASSWORD}").unwrap_err();
        assert_eq!(issue.key, "k");
        assert_eq!(
            issue.message,
            "environment variable REDIS_PASSWORD is not set"
        );
        assert_eq!(
            issue.hint.as_deref(),
            Some(
                "set REDIS_PASSWORD in the worker's environment, or give a default: \
                 ${env:REDIS_PASSWORD:-value}"
            )
        );
    }

    #[test]
    fn malformed_references_are_issues() {
        assert!(one("${env:HOST")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(one("${env:}")
            .unwrap_err()
            .message
            .contains("not an environment"));
        assert!(one("${env:A B}")
            .unwrap_err()
            .message
            .contains("not an environment"));
    }

    #[test]
    fn reports_every_key_with_a_problem() {
        let props = ConfigMap::from([
            ("a".to_string(), "${env:NOPE_A}".to_string()),
            ("b".to_string(), "fine".to_string()),
            ("c".to_string(), "${env:NOPE_C}".to_string()),
        ]);
        let issues = resolve_env_with(&props, |_| None).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["a", "c"]);
    }

    #[test]
    fn bare_references_are_recognised() {
        assert!(is_bare_reference("${env:REDIS_PASSWORD}"));
        assert!(!is_bare_reference("${env:P:-fallback}"));
        assert!(!is_bare_reference("x${env:P}"));
        assert!(!is_bare_reference("hunter2"));
    }
}
