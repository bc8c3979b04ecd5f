//! Which tables and columns are captured: Debezium's include and exclude lists,
//! regular expressions matched against whole, fully qualified names, ignoring case.

use regex::{Regex, RegexBuilder};
use weir_connect::config::{ConfigIssue, ParsedConfig};

use super::config::{
    COLUMN_EXCLUDE, COLUMN_INCLUDE, SCHEMA_EXCLUDE, SCHEMA_INCLUDE, SIGNAL_DATA_COLLECTION,
    TABLE_EXCLUDE, TABLE_INCLUDE,
};

/// Schemas PostgreSQL keeps for itself; never captured.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "pg_toast"];

/// Include or exclude patterns of one kind of name. Setting both is refused, as
/// Debezium refuses it.
#[derive(Debug, Clone, Default)]
struct Patterns {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl Patterns {
    fn from_config(
        config: &ParsedConfig,
        include_key: &str,
        exclude_key: &str,
    ) -> Result<Patterns, ConfigIssue> {
        let include = compile(config.list(include_key), include_key)?;
        let exclude = compile(config.list(exclude_key), exclude_key)?;
        if !include.is_empty() && !exclude.is_empty() {
            return Err(ConfigIssue::new(
                exclude_key,
                format!("{include_key} and {exclude_key} cannot both be set"),
            )
            .with_hint("keep one: an include list leaves out everything it does not name"));
        }
        Ok(Patterns { include, exclude })
    }

    fn allows(&self, name: &str) -> bool {
        if !self.include.is_empty() {
            return self.include.iter().any(|p| p.is_match(name));
        }
        !self.exclude.iter().any(|p| p.is_match(name))
    }
}

fn compile(patterns: &[String], key: &str) -> Result<Vec<Regex>, ConfigIssue> {
    patterns
        .iter()
        .map(|p| {
            RegexBuilder::new(&format!("^(?:{p})$"))
                .case_insensitive(true)
                .build()
                .map_err(|e| {
                    ConfigIssue::new(key, format!("'{p}' is not a regular expression: {e}"))
                })
        })
        .collect()
}

/// `schema.include.list` … `table.exclude.list`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableFilter {
    schemas: Patterns,
    tables: Patterns,
    /// The signal table, lower-cased: streamed for its signals, never captured.
    signal: Option<String>,
}

impl TableFilter {
    pub(crate) fn from_config(config: &ParsedConfig) -> Result<TableFilter, ConfigIssue> {
        Ok(TableFilter {
            schemas: Patterns::from_config(config, SCHEMA_INCLUDE, SCHEMA_EXCLUDE)?,
            tables: Patterns::from_config(config, TABLE_INCLUDE, TABLE_EXCLUDE)?,
            signal: config
                .string(SIGNAL_DATA_COLLECTION)
                .map(|s| s.trim().to_lowercase()),
        })
    }

    pub(crate) fn captures(&self, schema: &str, table: &str) -> bool {
        let name = format!("{schema}.{table}");
        !SYSTEM_SCHEMAS.contains(&schema)
            && !schema.starts_with("pg_temp")
            && self.schemas.allows(schema)
            && self.tables.allows(&name)
            && self
                .signal
                .as_ref()
                .is_none_or(|s| *s != name.to_lowercase())
    }
}

/// `column.include.list` / `column.exclude.list`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnFilter {
    columns: Patterns,
}

impl ColumnFilter {
    pub(crate) fn from_config(config: &ParsedConfig) -> Result<ColumnFilter, ConfigIssue> {
        Ok(ColumnFilter {
            columns: Patterns::from_config(config, COLUMN_INCLUDE, COLUMN_EXCLUDE)?,
        })
    }

    pub(crate) fn keeps(&self, schema: &str, table: &str, column: &str) -> bool {
        self.columns.allows(&format!("{schema}.{table}.{column}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_connect::config::{config_map, ConfigDef};

    fn parsed(pairs: &[(&str, &str)]) -> ParsedConfig {
        let def: ConfigDef = super::super::config::config_def();
        let mut all = vec![
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("topic.prefix", "p"),
        ];
        all.extend_from_slice(pairs);
        def.parse(&config_map(&all)).expect("a valid config")
    }

    #[test]
    fn include_lists_match_whole_names_ignoring_case() {
        let filter = TableFilter::from_config(&parsed(&[(
            "table.include.list",
            "public.orders,inventory\\..*",
        )]))
        .unwrap();
        assert!(filter.captures("public", "orders"));
        assert!(filter.captures("public", "ORDERS"));
        assert!(!filter.captures("public", "orders_archive"));
        assert!(filter.captures("inventory", "anything"));
        assert!(!filter.captures("public", "customers"));
    }

    #[test]
    fn system_schemas_are_never_captured() {
        let filter = TableFilter::from_config(&parsed(&[])).unwrap();
        assert!(filter.captures("public", "t"));
        assert!(!filter.captures("pg_catalog", "pg_class"));
        assert!(!filter.captures("information_schema", "tables"));
    }

    #[test]
    fn exclude_lists_leave_out_what_they_name() {
        let filter =
            TableFilter::from_config(&parsed(&[("schema.exclude.list", "audit")])).unwrap();
        assert!(!filter.captures("audit", "log"));
        assert!(filter.captures("public", "log"));
        let columns =
            ColumnFilter::from_config(&parsed(&[("column.exclude.list", "public.users.password")]))
                .unwrap();
        assert!(!columns.keeps("public", "users", "password"));
        assert!(columns.keeps("public", "users", "name"));
    }

    #[test]
    fn the_signal_table_is_never_captured() {
        let filter = TableFilter::from_config(&parsed(&[(
            "signal.data.collection",
            "public.debezium_signal",
        )]))
        .unwrap();
        assert!(!filter.captures("public", "debezium_signal"));
        assert!(filter.captures("public", "orders"));
    }

    #[test]
    fn include_and_exclude_together_are_refused() {
        let config = parsed(&[
            ("table.include.list", "public.a"),
            ("table.exclude.list", "public.b"),
        ]);
        let issue = TableFilter::from_config(&config).unwrap_err();
        assert_eq!(issue.key, "table.exclude.list");
    }
}
