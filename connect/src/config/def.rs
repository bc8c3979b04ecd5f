//! Declared configuration keys, as Kafka's `ConfigDef`: a type, a default (or none:
//! required), importance, documentation and a validator per key.
//!
//! Every config reaches a connector as a flat string map, whether it came from YAML or
//! from the REST API, so one declaration drives parsing, the `config/validate`
//! endpoint, and masking of secrets.

use std::collections::BTreeMap;
use std::fmt;

/// A connector's configuration as given: Kafka Connect's flat string map.
pub type ConfigMap = BTreeMap<String, String>;

/// A config map from `key, value` pairs, e.g. `config_map(&[("topic", "logs")])`.
pub fn config_map(pairs: &[(&str, &str)]) -> ConfigMap {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The type of a key; names as Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Long,
    Double,
    /// Comma-separated values.
    List,
    /// A secret: never logged, never returned by the REST API.
    Password,
    /// A plugin or transform name.
    Class,
}

impl ConfigType {
    /// Kafka's name for the type, as the REST API reports it.
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Password => "PASSWORD",
            ConfigType::Class => "CLASS",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// A check on a key's parsed value beyond its type.
#[derive(Debug, Clone)]
pub enum Validator {
    /// One of these strings (case-sensitive, as Kafka's `ValidString`).
    OneOf(&'static [&'static str]),
    /// A number within bounds, inclusive.
    Range { min: Option<f64>, max: Option<f64> },
    /// A string or list that is not empty.
    NonEmpty,
    /// Anything else; returns the message to show.
    Custom(fn(&ConfigValue) -> Result<(), String>),
}

/// One declared key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub ty: ConfigType,
    /// `None` with `required` true: the user must set it. `None` otherwise: null.
    pub default: Option<String>,
    pub required: bool,
    pub importance: Importance,
    pub doc: String,
    pub group: Option<String>,
    pub validator: Option<Validator>,
}

impl ConfigKey {
    /// A required key of type `ty`.
    pub fn new(name: impl Into<String>, ty: ConfigType, doc: impl Into<String>) -> ConfigKey {
        ConfigKey {
            name: name.into(),
            ty,
            default: None,
            required: true,
            importance: Importance::Medium,
            doc: doc.into(),
            group: None,
            validator: None,
        }
    }

    /// Not required, with this default (as the user would write it).
    pub fn default_value(mut self, default: impl Into<String>) -> ConfigKey {
        self.default = Some(default.into());
        self.required = false;
        self
    }

    /// Not required, null when unset.
    pub fn optional(mut self) -> ConfigKey {
        self.default = None;
        self.required = false;
        self
    }

    pub fn importance(mut self, importance: Importance) -> ConfigKey {
        self.importance = importance;
        self
    }

    pub fn group(mut self, group: impl Into<String>) -> ConfigKey {
        self.group = Some(group.into());
        self
    }

    pub fn validator(mut self, validator: Validator) -> ConfigKey {
        self.validator = Some(validator);
        self
    }
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Null,
    Boolean(bool),
    String(String),
    /// `Int` and `Long` keys both parse to `i64` (`Int` is range-checked to `i32`).
    Long(i64),
    Double(f64),
    List(Vec<String>),
    Password(Secret),
}

/// A secret value. Its `Debug` and `Display` print `[hidden]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for handing to the external system.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::HIDDEN)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::HIDDEN)
    }
}

impl Secret {
    /// What Kafka Connect prints in place of a password.
    pub const HIDDEN: &'static str = "[hidden]";
}

/// A problem with one key of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
    /// How to fix it, when there is something better to say than the message.
    pub hint: Option<String>,
}

impl ConfigIssue {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigIssue {
        ConfigIssue {
            key: key.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> ConfigIssue {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// The declared keys of a connector, a transform or the runtime.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    pub fn new() -> ConfigDef {
        ConfigDef::default()
    }

    pub fn define(mut self, key: ConfigKey) -> ConfigDef {
        debug_assert!(self.key(&key.name).is_none(), "{} declared twice", key.name);
        self.keys.push(key);
        self
    }

    /// Every declared key, in declaration order.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Both definitions' keys; `other`'s come after this one's.
    pub fn merge(mut self, other: &ConfigDef) -> ConfigDef {
        for key in &other.keys {
            if self.key(&key.name).is_none() {
                self.keys.push(key.clone());
            }
        }
        self
    }

    /// Parses the declared keys of `props`, ignoring keys it does not declare (the
    /// runtime checks for unknown keys across all definitions that apply).
    pub fn parse(&self, props: &ConfigMap) -> Result<ParsedConfig, Vec<ConfigIssue>> {
        let mut values = BTreeMap::new();
        let mut issues = Vec::new();
        for key in &self.keys {
            match parse_key(key, props.get(&key.name).map(String::as_str)) {
                Ok(value) => {
                    values.insert(key.name.clone(), value);
                }
                Err(issue) => issues.push(issue),
            }
        }
        if issues.is_empty() {
            Ok(ParsedConfig { values })
        } else {
            Err(issues)
        }
    }

    /// The problems with each declared key of `props`, by key (empty when valid), for
    /// the REST API's `config/validate`.
    pub fn validate(&self, props: &ConfigMap) -> BTreeMap<String, Vec<String>> {
        self.keys
            .iter()
            .map(|key| {
                let errors = match parse_key(key, props.get(&key.name).map(String::as_str)) {
                    Ok(_) => Vec::new(),
                    Err(issue) => vec![issue.message],
                };
                (key.name.clone(), errors)
            })
            .collect()
    }

    /// The declared key closest to a misspelt `name`, for "did you mean" hints.
    pub fn closest(&self, name: &str) -> Option<&str> {
        closest(name, self.keys.iter().map(|k| k.name.as_str()))
    }

    /// `props` with the values of `Password` keys replaced by `[hidden]`.
    pub fn mask(&self, props: &ConfigMap) -> ConfigMap {
        props
            .iter()
            .map(|(name, value)| {
                let secret = self.key(name).is_some_and(|k| k.ty == ConfigType::Password);
                let value = if secret {
                    Secret::HIDDEN.to_string()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect()
    }
}

/// Of `candidates`, the one nearest to `name` by edit distance, if it is near enough
/// to be a likely typo (at most a third of the name's length, and at least 1).
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

fn parse_key(key: &ConfigKey, given: Option<&str>) -> Result<ConfigValue, ConfigIssue> {
    let raw = match given.or(key.default.as_deref()) {
        Some(raw) => raw,
        None if key.required => {
            return Err(ConfigIssue::new(
                &key.name,
                "Missing required configuration \"".to_string()
                    + &key.name
                    + "\" which has no default value.",
            )
            .with_hint(format!("set {}: {}", key.name, key.doc)));
        }
        None => return Ok(ConfigValue::Null),
    };
    let value = parse_value(key, raw).map_err(|expected| {
        ConfigIssue::new(
            &key.name,
            format!(
                "Invalid value {} for configuration {}: {expected}",
                shown(key, raw),
                key.name
            ),
        )
    })?;
    if let Some(validator) = &key.validator {
        check(validator, &value).map_err(|message| {
            ConfigIssue::new(
                &key.name,
                format!(
                    "Invalid value {} for configuration {}: {message}",
                    shown(key, raw),
                    key.name
                ),
            )
        })?;
    }
    Ok(value)
}

fn shown(key: &ConfigKey, raw: &str) -> String {
    if key.ty == ConfigType::Password {
        Secret::HIDDEN.to_string()
    } else {
        raw.to_string()
    }
}

fn parse_value(key: &ConfigKey, raw: &str) -> Result<ConfigValue, String> {
    let trimmed = raw.trim();
    Ok(match key.ty {
        ConfigType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" => ConfigValue::Boolean(true),
            "false" => ConfigValue::Boolean(false),
            _ => return Err("Expected value to be either true or false".into()),
        },
        ConfigType::String | ConfigType::Class => ConfigValue::String(trimmed.to_string()),
        ConfigType::Int => {
            let n: i32 = trimmed
                .parse()
                .map_err(|_| "Not a number of type INT".to_string())?;
            ConfigValue::Long(n.into())
        }
        ConfigType::Long => ConfigValue::Long(
            trimmed
                .parse()
                .map_err(|_| "Not a number of type LONG".to_string())?,
        ),
        ConfigType::Double => ConfigValue::Double(
            trimmed
                .parse()
                .map_err(|_| "Not a number of type DOUBLE".to_string())?,
        ),
        ConfigType::List => ConfigValue::List(if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split(',').map(|s| s.trim().to_string()).collect()
        }),
        ConfigType::Password => ConfigValue::Password(Secret::new(raw)),
    })
}

fn check(validator: &Validator, value: &ConfigValue) -> Result<(), String> {
    match (validator, value) {
        (Validator::OneOf(allowed), ConfigValue::String(s)) => {
            if allowed.contains(&s.as_str()) {
                Ok(())
            } else {
                Err(format!("String must be one of: {}", allowed.join(", ")))
            }
        }
        (Validator::Range { min, max }, ConfigValue::Long(_) | ConfigValue::Double(_)) => {
            let n = match value {
                ConfigValue::Long(n) => *n as f64,
                ConfigValue::Double(n) => *n,
                _ => unreachable!("matched above"),
            };
            match (min, max) {
                (Some(min), _) if n < *min => Err(format!("Value must be at least {min}")),
                (_, Some(max)) if n > *max => Err(format!("Value must be no more than {max}")),
                _ => Ok(()),
            }
        }
        (Validator::NonEmpty, ConfigValue::String(s)) if s.is_empty() => {
            Err("String must be non-empty".into())
        }
        (Validator::NonEmpty, ConfigValue::List(l)) if l.is_empty() => {
            Err("List must be non-empty".into())
        }
        (Validator::Custom(check), value) => check(value),
        _ => Ok(()),
    }
}

/// The parsed values of a [`ConfigDef`]'s keys.
#[derive(Debug, Clone, Default)]
pub struct ParsedConfig {
    values: BTreeMap<String, ConfigValue>,
}

impl ParsedConfig {
    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.values.get(name)
    }

    /// A string or class key; `None` when null or not declared.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(ConfigValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// An int or long key.
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(ConfigValue::Long(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn double(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(ConfigValue::Double(n)) => Some(*n),
            Some(ConfigValue::Long(n)) => Some(*n as f64),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(ConfigValue::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    /// A list key; empty when null or not declared.
    pub fn list(&self, name: &str) -> &[String] {
        match self.values.get(name) {
            Some(ConfigValue::List(l)) => l,
            _ => &[],
        }
    }

    pub fn password(&self, name: &str) -> Option<&Secret> {
        match self.values.get(name) {
            Some(ConfigValue::Password(s)) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("topic", ConfigType::String, "the topic")
                    .validator(Validator::NonEmpty),
            )
            .define(
                ConfigKey::new("batch.size", ConfigType::Int, "records per batch")
                    .default_value("100")
                    .validator(Validator::Range {
                        min: Some(1.0),
                        max: None,
                    }),
            )
            .define(
                ConfigKey::new("mode", ConfigType::String, "how")
                    .default_value("set")
                    .validator(Validator::OneOf(&["set", "hset"])),
            )
            .define(ConfigKey::new("password", ConfigType::Password, "auth").optional())
            .define(ConfigKey::new("paths", ConfigType::List, "globs").default_value(""))
    }

    use crate::config::config_map as props;

    #[test]
    fn parses_typed_values_and_defaults() {
        let parsed = def()
            .parse(&props(&[
                ("topic", "t"),
                ("paths", "a/*.log, b.log"),
                ("password", "s3"),
            ]))
            .unwrap();
        assert_eq!(parsed.string("topic"), Some("t"));
        assert_eq!(parsed.long("batch.size"), Some(100));
        assert_eq!(parsed.list("paths"), ["a/*.log", "b.log"]);
        assert_eq!(parsed.password("password").unwrap().expose(), "s3");
        assert_eq!(
            format!("{:?}", parsed.password("password").unwrap()),
            "[hidden]"
        );
    }

    #[test]
    fn reports_every_bad_key_with_kafka_messages() {
        let issues = def()
            .parse(&props(&[("batch.size", "0"), ("mode", "get")]))
            .unwrap_err();
        let messages: Vec<String> = issues.iter().map(|i| i.message.clone()).collect();
        assert_eq!(
            messages,
            [
                "Missing required configuration \"topic\" which has no default value.",
                "Invalid value 0 for configuration batch.size: Value must be at least 1",
                "Invalid value get for configuration mode: String must be one of: set, hset",
            ]
        );
        let issues = def()
            .parse(&props(&[("topic", "t"), ("batch.size", "ten")]))
            .unwrap_err();
        assert_eq!(
            issues[0].message,
            "Invalid value ten for configuration batch.size: Not a number of type INT"
        );
    }

    #[test]
    fn never_shows_a_password() {
        let masked = def().mask(&props(&[("topic", "t"), ("password", "s3")]));
        assert_eq!(masked["password"], "[hidden]");
        assert_eq!(masked["topic"], "t");
    }

    #[test]
    fn suggests_the_closest_key() {
        assert_eq!(def().closest("topc"), Some("topic"));
        assert_eq!(def().closest("batch.sise"), Some("batch.size"));
        assert_eq!(def().closest("zzzzzz"), None);
    }
}
