//! `table.name.format`: the table a record goes to, from its topic or, for Debezium
//! change events, from the event's `source` block.
//!
//! The resolved name is split at a dot into schema and table when it has exactly one
//! (`inventory.orders`, as Confluent's sink reads it); with more dots (a Debezium
//! topic such as `shop.public.orders` under `${topic}`) each dot becomes `_`, as
//! Debezium's JDBC sink names such tables.

use std::fmt;

use serde_json::{Map, Value};

/// A table, optionally in a schema (PostgreSQL) or database (MySQL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TableId {
    pub(crate) schema: Option<String>,
    pub(crate) name: String,
}

impl TableId {
    fn from_resolved(text: &str) -> TableId {
        match text.split('.').count() {
            2 => {
                let (schema, name) = text.split_once('.').unwrap_or(("", text));
                TableId {
                    schema: Some(schema.to_string()),
                    name: name.to_string(),
                }
            }
            _ => TableId {
                schema: None,
                name: text.replace('.', "_"),
            },
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Topic,
    /// A field of the change event's `source` block: `db`, `schema` or `table`.
    Source(&'static str),
}

/// A parsed `table.name.format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableNameFormat {
    parts: Vec<Part>,
}

const SOURCE_FIELDS: &[&str] = &["db", "schema", "table"];

impl TableNameFormat {
    pub(crate) fn parse(format: &str) -> Result<TableNameFormat, String> {
        let mut parts = Vec::new();
        let mut rest = format;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let end = rest[start..].find('}').ok_or("a '${' has no closing '}'")? + start;
            let name = &rest[start + 2..end];
            parts.push(match name {
                "topic" => Part::Topic,
                _ => match name
                    .strip_prefix("source.")
                    .and_then(|f| SOURCE_FIELDS.iter().find(|s| **s == f))
                {
                    Some(field) => Part::Source(field),
                    None => {
                        return Err(format!(
                            "unknown placeholder ${{{name}}}: use ${{topic}}, ${{source.db}}, \
                             ${{source.schema}} or ${{source.table}}"
                        ))
                    }
                },
            });
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("the format is empty".into());
        }
        Ok(TableNameFormat { parts })
    }

    /// The table for a record of `topic` whose change event has `source` (`None` for
    /// records that are no change events, and tombstones); `Err` names what is missing.
    pub(crate) fn resolve(
        &self,
        topic: &str,
        source: Option<&Map<String, Value>>,
    ) -> Result<TableId, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Topic => out.push_str(topic),
                Part::Source(field) => match source.and_then(|s| s.get(*field)) {
                    Some(Value::String(value)) => out.push_str(value),
                    _ => {
                        return Err(format!(
                            "table.name.format uses ${{source.{field}}} but the record has no \
                             source.{field} (it is no Debezium change event)"
                        ))
                    }
                },
            }
        }
        Ok(TableId::from_resolved(&out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resolves_topic_and_source_placeholders() {
        let topic = TableNameFormat::parse("${topic}").unwrap();
        assert_eq!(topic.resolve("orders", None).unwrap().to_string(), "orders");
        assert_eq!(
            topic.resolve("shop.public.orders", None).unwrap(),
            TableId {
                schema: None,
                name: "shop_public_orders".into()
            }
        );
        let source = json!({"db": "shop", "schema": "public", "table": "orders"});
        let debezium = TableNameFormat::parse("${source.schema}_${source.table}").unwrap();
        assert_eq!(
            debezium
                .resolve("t", source.as_object())
                .unwrap()
                .to_string(),
            "public_orders"
        );
        let qualified = TableNameFormat::parse("archive.${source.table}").unwrap();
        assert_eq!(
            qualified.resolve("t", source.as_object()).unwrap(),
            TableId {
                schema: Some("archive".into()),
                name: "orders".into()
            }
        );
        assert!(debezium
            .resolve("t", None)
            .unwrap_err()
            .contains("source.schema"));
    }

    #[test]
    fn refuses_unknown_placeholders() {
        assert!(TableNameFormat::parse("${key}")
            .unwrap_err()
            .contains("${key}"));
        assert!(TableNameFormat::parse("${topic").is_err());
        assert!(TableNameFormat::parse("").is_err());
    }
}
