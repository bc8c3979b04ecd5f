//! `redis.key`: the Redis key a record is written to, from a template such as
//! `orders:${key}` or `events:${topic}`.
//!
//! Only `${topic}` (the record's topic after transforms) and `${key}` (the record key as
//! text) exist; any other `${...}` is a config error rather than literal text, so a
//! misspelt placeholder does not silently write every record to one key.

use weir_connect::{ConnectError, Record};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Topic,
    Key,
}

/// A parsed key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyTemplate {
    parts: Vec<Part>,
}

impl KeyTemplate {
    pub(crate) fn parse(template: &str) -> Result<KeyTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                format!(
                    "'${{' at byte {} is never closed with '}}'",
                    template.len() - rest.len() + start
                )
            })?;
            parts.push(match &after[..end] {
                "topic" => Part::Topic,
                "key" => Part::Key,
                other => {
                    return Err(format!(
                        "unknown placeholder '${{{other}}}': use ${{topic}} or ${{key}}"
                    ))
                }
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("the key template is empty".into());
        }
        Ok(KeyTemplate { parts })
    }

    /// The Redis key for `record`; a user error when the template uses `${key}` and
    /// the record has none.
    pub(crate) fn render(&self, record: &Record) -> Result<String, ConnectError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Topic => out.push_str(&record.topic),
                Part::Key => {
                    match record.key.to_text() {
                        Some(key) => out.push_str(&key),
                        None => return Err(ConnectError::user(
                            "the record has a null key but redis.key uses ${key}; give records a \
                             key or use a template without ${key}",
                        )),
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_connect::Data;

    use super::*;

    fn record(key: Data) -> Record {
        let mut record = Record::new("orders", Data::Json(json!("v")));
        record.key = key;
        record
    }

    #[test]
    fn substitutes_topic_and_key() {
        let template = KeyTemplate::parse("app:${topic}:${key}!").unwrap();
        let key = Data::Json(json!("42"));
        assert_eq!(template.render(&record(key)).unwrap(), "app:orders:42!");
        let key = Data::Json(json!({"id": 1}));
        assert_eq!(
            template.render(&record(key)).unwrap(),
            r#"app:orders:{"id":1}!"#
        );
        let plain = KeyTemplate::parse("fixed").unwrap();
        assert_eq!(plain.render(&record(Data::Null)).unwrap(), "fixed");
    }

    #[test]
    fn a_null_key_is_a_user_error() {
        let err = KeyTemplate::parse("${key}")
            .unwrap()
            .render(&record(Data::Null))
            .unwrap_err();
        assert_eq!(err.domain(), weir_connect::ErrorDomain::User);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("null key"), "{err}");
    }

    #[test]
    fn rejects_unknown_and_unclosed_placeholders() {
        let err = KeyTemplate::parse("a:${topc}").unwrap_err();
        assert!(err.contains("unknown placeholder '${topc}'"), "{err}");
        let err = KeyTemplate::parse("a:${key").unwrap_err();
        assert!(err.contains("never closed"), "{err}");
        assert!(KeyTemplate::parse("").is_err());
        // A '$' that does not open a placeholder is literal.
        let dollars = KeyTemplate::parse("$a:{b}").unwrap();
        assert_eq!(dollars.render(&record(Data::Null)).unwrap(), "$a:{b}");
    }
}
