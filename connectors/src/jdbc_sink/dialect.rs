//! What differs between PostgreSQL and MySQL/MariaDB SQL for this sink: identifier
//! quoting, the column types of created and added columns, and how a cell is spelled.
//! The statements themselves are built in `writer.rs` and `schema_evolution.rs`.

use super::table_name::TableId;
use super::types::{Cell, FieldType};
use super::url::DatabaseKind;

/// MySQL's limit on an index key prefix makes TEXT/BLOB unusable as key columns; keys
/// get bounded types of this length instead.
const MYSQL_KEY_LENGTH: u32 = 255;

/// Connect decimals may have a scale above MySQL's limit of 30.
const MYSQL_MAX_SCALE: u32 = 30;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    pub(crate) kind: DatabaseKind,
    /// Whether table and column names in DDL are quoted (kept as written) or left to
    /// the database to fold.
    pub(crate) quote: bool,
}

impl Dialect {
    /// An identifier, always quoted: for names read back from the catalog, which are
    /// exact.
    pub(crate) fn quoted(&self, name: &str) -> String {
        match self.kind {
            DatabaseKind::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            DatabaseKind::MySql => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// An identifier as the user's quoting setting has it, for names from records.
    pub(crate) fn ident(&self, name: &str) -> String {
        match self.quote {
            true => self.quoted(name),
            false => name.to_string(),
        }
    }

    pub(crate) fn table(&self, table: &TableId) -> String {
        match &table.schema {
            Some(schema) => format!("{}.{}", self.ident(schema), self.ident(&table.name)),
            None => self.ident(&table.name),
        }
    }

    /// The column type for `CREATE TABLE` and `ALTER TABLE … ADD`.
    pub(crate) fn column_type(&self, ty: &FieldType, key: bool) -> String {
        let postgres = self.kind == DatabaseKind::Postgres;
        let name = match ty {
            FieldType::Int8 if postgres => "smallint",
            FieldType::Int8 => "TINYINT",
            FieldType::Int16 if postgres => "smallint",
            FieldType::Int16 => "SMALLINT",
            FieldType::Int32 if postgres => "integer",
            FieldType::Int32 => "INT",
            FieldType::Int64 if postgres => "bigint",
            FieldType::Int64 => "BIGINT",
            FieldType::Float32 if postgres => "real",
            FieldType::Float32 => "FLOAT",
            FieldType::Float64 if postgres => "double precision",
            FieldType::Float64 => "DOUBLE",
            FieldType::Boolean if postgres => "boolean",
            FieldType::Boolean => "BOOLEAN",
            FieldType::Text if postgres => "text",
            FieldType::Text if key => return format!("VARCHAR({MYSQL_KEY_LENGTH})"),
            FieldType::Text => "LONGTEXT",
            FieldType::Bytes if postgres => "bytea",
            FieldType::Bytes if key => return format!("VARBINARY({MYSQL_KEY_LENGTH})"),
            FieldType::Bytes => "LONGBLOB",
            FieldType::Decimal { scale, precision } => {
                return match (postgres, precision) {
                    (true, Some(p)) if *p >= *scale && *p > 0 => format!("numeric({p},{scale})"),
                    (true, _) => "numeric".to_string(),
                    (false, precision) => {
                        let scale = (*scale).min(MYSQL_MAX_SCALE);
                        let p = precision.unwrap_or(65).clamp(scale.max(1), 65);
                        format!("DECIMAL({p},{scale})")
                    }
                }
            }
            FieldType::VariableDecimal if postgres => "numeric",
            FieldType::VariableDecimal => "DECIMAL(65,30)",
            FieldType::Date if postgres => "date",
            FieldType::Date => "DATE",
            FieldType::Time(_) if postgres => "time",
            FieldType::Time(_) => "TIME(6)",
            FieldType::Timestamp(_) if postgres => "timestamp",
            FieldType::Timestamp(_) => "DATETIME(6)",
            FieldType::ZonedTimestamp if postgres => "timestamptz",
            FieldType::ZonedTimestamp => "DATETIME(6)",
            FieldType::Json if postgres => "jsonb",
            FieldType::Json => "JSON",
            FieldType::Uuid if postgres => "uuid",
            FieldType::Uuid => "CHAR(36)",
        };
        name.to_string()
    }

    /// A cell as text, the way the database reads it when cast from text (PostgreSQL)
    /// or assigned from a string (MySQL). Bytes only for PostgreSQL's `bytea` input;
    /// MySQL binds them as bytes.
    pub(crate) fn text(&self, cell: &Cell) -> Option<String> {
        match cell {
            Cell::Null => None,
            Cell::Text(text) => Some(text.clone()),
            Cell::Bool(b) => Some(
                match (self.kind, b) {
                    (DatabaseKind::Postgres, true) => "true",
                    (DatabaseKind::Postgres, false) => "false",
                    (DatabaseKind::MySql, true) => "1",
                    (DatabaseKind::MySql, false) => "0",
                }
                .to_string(),
            ),
            Cell::Bytes(bytes) => {
                let mut text = String::with_capacity(2 + bytes.len() * 2);
                text.push_str("\\x");
                for b in bytes {
                    text.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                    text.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
                }
                Some(text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: Dialect = Dialect {
        kind: DatabaseKind::Postgres,
        quote: true,
    };
    const MY: Dialect = Dialect {
        kind: DatabaseKind::MySql,
        quote: true,
    };

    #[test]
    fn quotes_by_dialect_and_setting() {
        assert_eq!(PG.ident("Order \"x\""), "\"Order \"\"x\"\"\"");
        assert_eq!(MY.ident("a`b"), "`a``b`");
        let unquoted = Dialect { quote: false, ..PG };
        let table = TableId {
            schema: Some("s".into()),
            name: "Orders".into(),
        };
        assert_eq!(unquoted.table(&table), "s.Orders");
        assert_eq!(PG.table(&table), "\"s\".\"Orders\"");
    }

    #[test]
    fn key_columns_get_bounded_types_in_mysql() {
        assert_eq!(MY.column_type(&FieldType::Text, true), "VARCHAR(255)");
        assert_eq!(MY.column_type(&FieldType::Text, false), "LONGTEXT");
        assert_eq!(PG.column_type(&FieldType::Text, true), "text");
        let money = FieldType::Decimal {
            scale: 2,
            precision: Some(10),
        };
        assert_eq!(PG.column_type(&money, false), "numeric(10,2)");
        assert_eq!(MY.column_type(&money, false), "DECIMAL(10,2)");
    }

    #[test]
    fn spells_cells_per_dialect() {
        assert_eq!(PG.text(&Cell::Bool(true)).as_deref(), Some("true"));
        assert_eq!(MY.text(&Cell::Bool(true)).as_deref(), Some("1"));
        assert_eq!(
            PG.text(&Cell::Bytes(vec![0, 255])).as_deref(),
            Some("\\x00ff")
        );
        assert_eq!(PG.text(&Cell::Null), None);
    }
}
