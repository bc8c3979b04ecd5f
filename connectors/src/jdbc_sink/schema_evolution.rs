//! Tables as the database has them (read from its catalog), and schema evolution:
//! creating a missing table (`auto.create`, `schema.evolution=basic`) and adding
//! missing columns (`auto.evolve`). Columns are only ever added, never dropped or
//! retyped, as in Kafka Connect's JDBC sinks.
//!
//! DDL runs before the batch's data transaction, on its own: MySQL commits implicitly
//! around DDL anyway, and a replayed batch finds the table as the first try left it.

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use weir_connect::ConnectError;

use super::connection::{server_message, Db, Fault};
use super::dialect::Dialect;
use super::row::{Column, Columns};
use super::table_name::TableId;

/// A column the database has: its exact name and the type values are cast to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbColumn {
    pub(crate) name: String,
    /// PostgreSQL: `format_type` without the modifier (so a cast never truncates
    /// silently; assignment then checks lengths). MySQL: the column type, unused.
    pub(crate) cast: String,
}

/// A table as the catalog describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableInfo {
    pub(crate) columns: Vec<DbColumn>,
}

impl TableInfo {
    /// The column a record's field goes to: the same name, else the one name that
    /// differs only in case (an unquoted name the database folded).
    pub(crate) fn find(&self, name: &str) -> Option<&DbColumn> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            let mut folded = self
                .columns
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(name));
            match (folded.next(), folded.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        })
    }
}

/// The table's columns, or `None` if it does not exist.
pub(crate) async fn describe(
    db: &mut Db,
    dialect: &Dialect,
    table: &TableId,
) -> Result<Option<TableInfo>, sqlx::Error> {
    let columns = match db {
        Db::Postgres(conn) => describe_postgres(conn, dialect, table).await?,
        Db::MySql(conn) => describe_mysql(conn, table).await?,
    };
    Ok((!columns.is_empty()).then_some(TableInfo { columns }))
}

async fn describe_postgres(
    conn: &mut PgConnection,
    dialect: &Dialect,
    table: &TableId,
) -> Result<Vec<DbColumn>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_attribute a \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(dialect.table(table))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DbColumn {
                name: row.try_get(0)?,
                cast: row.try_get(1)?,
            })
        })
        .collect()
}

async fn describe_mysql(
    conn: &mut MySqlConnection,
    table: &TableId,
) -> Result<Vec<DbColumn>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR) FROM \
         information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND \
         TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(table.schema.as_deref())
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DbColumn {
                name: row.try_get(0)?,
                cast: row.try_get(1)?,
            })
        })
        .collect()
}

/// What may be changed to make a table fit its records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evolution {
    pub(crate) create: bool,
    pub(crate) add_columns: bool,
}

/// Why a table cannot take a batch.
#[derive(Debug)]
pub(crate) enum TableError {
    /// It does not exist and may not be created.
    Missing(ConnectError),
    Other(ConnectError),
}

impl From<ConnectError> for TableError {
    fn from(error: ConnectError) -> TableError {
        TableError::Other(error)
    }
}

impl From<TableError> for ConnectError {
    fn from(error: TableError) -> ConnectError {
        match error {
            TableError::Missing(error) | TableError::Other(error) => error,
        }
    }
}

/// The table, created or given the missing columns of `wanted` as `evolution`
/// allows; an error naming the table and what it lacks otherwise.
pub(crate) async fn ensure(
    db: &mut Db,
    dialect: &Dialect,
    evolution: Evolution,
    table: &TableId,
    wanted: &Columns,
) -> Result<TableInfo, TableError> {
    let info = match describe(db, dialect, table)
        .await
        .map_err(|e| ddl_error(table, "reading the catalog for", e))?
    {
        Some(info) => info,
        None if evolution.create => {
            execute(db, create_table(dialect, table, wanted))
                .await
                .map_err(|e| ddl_error(table, "creating", e))?;
            tracing::info!(%table, "created table");
            describe(db, dialect, table)
                .await
                .map_err(|e| ddl_error(table, "reading the catalog for", e))?
                .unwrap_or_default()
        }
        None => {
            return Err(TableError::Missing(ConnectError::user(format!(
                "table {table} does not exist (hint: create it, or set auto.create=true or \
                 schema.evolution=basic to let the sink create it)"
            ))))
        }
    };
    let missing: Vec<&Column> = wanted
        .columns
        .iter()
        .filter(|c| info.find(&c.name).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(info);
    }
    let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
    if !evolution.add_columns {
        return Err(ConnectError::user(format!(
            "table {table} has no column {} that the records have (hint: add it, or set \
             auto.evolve=true or schema.evolution=basic to let the sink add it)",
            names.join(", ")
        ))
        .into());
    }
    for column in &missing {
        let sql = format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            dialect.table(table),
            dialect.ident(&column.name),
            dialect.column_type(&column.ty, false)
        );
        if let Err(error) = execute(db, sql).await {
            // Another task may have added it first: the catalog says.
            tracing::debug!(%table, column = %column.name, "ALTER TABLE failed: {error}");
        }
    }
    tracing::info!(%table, columns = %names.join(", "), "added columns");
    let info = describe(db, dialect, table)
        .await
        .map_err(|e| ddl_error(table, "reading the catalog for", e))?
        .unwrap_or_default();
    match wanted.columns.iter().find(|c| info.find(&c.name).is_none()) {
        None => Ok(info),
        Some(column) => Err(ConnectError::user(format!(
            "cannot add column {} to table {table}: the database refused ALTER TABLE \
             (hint: check the user's rights on the table)",
            column.name
        ))
        .into()),
    }
}

fn create_table(dialect: &Dialect, table: &TableId, wanted: &Columns) -> String {
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {} (", dialect.table(table));
    for (i, column) in wanted.columns.iter().enumerate() {
        let key = i < wanted.key_len;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&dialect.ident(&column.name));
        sql.push(' ');
        sql.push_str(&dialect.column_type(&column.ty, key));
        if key || !column.optional {
            sql.push_str(" NOT NULL");
        }
    }
    if wanted.key_len > 0 {
        let keys: Vec<String> = wanted
            .key()
            .iter()
            .map(|c| dialect.ident(&c.name))
            .collect();
        sql.push_str(&format!(", PRIMARY KEY ({})", keys.join(", ")));
    }
    sql.push(')');
    sql
}

async fn execute(db: &mut Db, sql: String) -> Result<(), sqlx::Error> {
    match db {
        Db::Postgres(conn) => sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .map(drop),
        Db::MySql(conn) => sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .map(drop),
    }
}

fn ddl_error(table: &TableId, what: &str, error: sqlx::Error) -> ConnectError {
    let message = format!(
        "{what} table {table} failed: {} (hint: check the user's rights on the table and \
         its schema)",
        server_message(&error)
    );
    match Fault::of(&error) {
        Fault::Transient => ConnectError::external(message).with_source(error),
        _ => ConnectError::user(message).with_source(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jdbc_sink::types::FieldType;
    use crate::jdbc_sink::url::DatabaseKind;

    #[test]
    fn creates_keys_not_null_and_a_primary_key() {
        let dialect = Dialect {
            kind: DatabaseKind::MySql,
            quote: true,
        };
        let columns = Columns {
            columns: vec![
                Column {
                    name: "id".into(),
                    ty: FieldType::Text,
                    optional: false,
                },
                Column {
                    name: "n".into(),
                    ty: FieldType::Int32,
                    optional: true,
                },
            ],
            key_len: 1,
        };
        let table = TableId {
            schema: None,
            name: "t".into(),
        };
        assert_eq!(
            create_table(&dialect, &table, &columns),
            "CREATE TABLE IF NOT EXISTS `t` (`id` VARCHAR(255) NOT NULL, `n` INT, PRIMARY KEY (`id`))"
        );
    }

    #[test]
    fn finds_folded_names_only_when_unambiguous() {
        let info = TableInfo {
            columns: ["id", "firstname", "A", "a"]
                .iter()
                .map(|n| DbColumn {
                    name: n.to_string(),
                    cast: "text".into(),
                })
                .collect(),
        };
        assert_eq!(info.find("firstName").unwrap().name, "firstname");
        assert_eq!(info.find("a").unwrap().name, "a");
        assert!(info.find("Id").is_some());
        assert!(info.find("b").is_none());
    }
}
