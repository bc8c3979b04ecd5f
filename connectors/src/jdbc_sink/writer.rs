//! Writes a reduced batch in ONE database transaction: per table its deletes, then
//! its rows, as multi-row statements of up to `batch.size` rows.
//!
//! PostgreSQL: one text array per column, unnested and cast to the column's type from
//! the catalog, so a statement has one parameter per column whatever its row count
//! and one prepared statement serves every full chunk:
//!
//! ```sql
//! INSERT INTO t (id, name) SELECT v0::integer, v1::text
//!   FROM UNNEST($1::text[], $2::text[]) AS u(v0, v1)
//!   ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name
//! DELETE FROM t WHERE (id) IN (SELECT v0::integer FROM UNNEST($1::text[]) AS u(v0))
//! ```
//!
//! MySQL/MariaDB: `INSERT … VALUES (?,?),(?,?) … ON DUPLICATE KEY UPDATE c = VALUES(c)`
//! with string binds (the server converts them to the column types), chunked under
//! the protocol's 65,535 placeholders; updates (`insert.mode=update`) are one
//! statement per row.

use std::sync::Arc;

use sqlx::mysql::{MySql, MySqlConnection};
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::{AssertSqlSafe, Connection, Transaction};

use super::buffer::TableBatch;
use super::config::InsertMode;
use super::dialect::Dialect;
use super::row::Change;
use super::schema_evolution::{DbColumn, TableInfo};
use super::table_name::TableId;
use super::types::Cell;

/// MySQL's limit on placeholders in one prepared statement.
const MYSQL_MAX_PLACEHOLDERS: usize = 65_535;

/// What the writer was doing when the database refused a statement.
#[derive(Debug)]
pub(crate) struct WriteFailure {
    pub(crate) table: Option<TableId>,
    pub(crate) statement: &'static str,
    /// The columns written, as the catalog names and types them.
    pub(crate) columns: Vec<DbColumn>,
    /// The column whose values the database could not take, when found.
    pub(crate) column: Option<String>,
    pub(crate) error: sqlx::Error,
}

impl WriteFailure {
    fn transaction(error: sqlx::Error) -> WriteFailure {
        WriteFailure {
            table: None,
            statement: "the transaction",
            columns: Vec::new(),
            column: None,
            error,
        }
    }
}

/// How the rows of a batch are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteSettings {
    pub(crate) dialect: Dialect,
    pub(crate) mode: InsertMode,
    pub(crate) batch_size: usize,
}

/// A batch's tables with their catalog descriptions.
pub(crate) type Planned<'a> = [(&'a TableBatch, Arc<TableInfo>)];

/// A group of changes with the same columns, and those columns in the database.
struct Group<'a> {
    changes: Vec<&'a Change>,
    columns: Vec<DbColumn>,
    key_len: usize,
}

fn groups<'a>(changes: &'a [Change], info: &TableInfo) -> Result<Vec<Group<'a>>, String> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut first: Vec<&'a Change> = Vec::new();
    for change in changes {
        let same = |f: &&Change| {
            Arc::ptr_eq(&f.columns, &change.columns) && f.cells.len() == change.cells.len()
                || (f.cells.len() == change.cells.len()
                    && f.columns.columns[..f.cells.len()]
                        .iter()
                        .zip(&change.columns.columns)
                        .all(|(a, b)| a.name == b.name))
        };
        match first.iter().position(same) {
            Some(at) => groups[at].changes.push(change),
            None => {
                let columns = change.columns.columns[..change.cells.len()]
                    .iter()
                    .map(|c| info.find(&c.name).cloned().ok_or_else(|| c.name.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                first.push(change);
                groups.push(Group {
                    changes: vec![change],
                    columns,
                    key_len: change.columns.key_len,
                });
            }
        }
    }
    Ok(groups)
}

/// Writes the batch in one PostgreSQL transaction.
pub(crate) async fn write_postgres(
    conn: &mut PgConnection,
    settings: &WriteSettings,
    planned: &Planned<'_>,
) -> Result<(), WriteFailure> {
    let mut tx = conn.begin().await.map_err(WriteFailure::transaction)?;
    let result = postgres_statements(&mut tx, settings, planned).await;
    match result {
        Ok(()) => tx.commit().await.map_err(WriteFailure::transaction),
        Err((mut failure, arrays)) => {
            let _ = tx.rollback().await;
            // PostgreSQL does not say which column a cast failed in: try each.
            if failure.column.is_none() && is_data_exception(&failure.error) {
                failure.column = failing_column(conn, &failure.columns, &arrays).await;
            }
            Err(failure)
        }
    }
}

type PgFailure = (WriteFailure, Vec<Vec<Option<String>>>);

async fn postgres_statements(
    tx: &mut Transaction<'_, Postgres>,
    settings: &WriteSettings,
    planned: &Planned<'_>,
) -> Result<(), PgFailure> {
    let dialect = &settings.dialect;
    for (batch, info) in planned {
        let table = dialect.table(&batch.table);
        for (statement, changes) in [("DELETE", &batch.deletes), ("INSERT", &batch.upserts)] {
            let groups = groups(changes, info).map_err(|m| {
                (
                    WriteFailure {
                        table: Some(batch.table.clone()),
                        statement,
                        columns: Vec::new(),
                        column: None,
                        error: sqlx::Error::ColumnNotFound(m),
                    },
                    Vec::new(),
                )
            })?;
            for group in groups {
                let sql = match statement {
                    "DELETE" => pg_delete(dialect, &table, &group),
                    _ => match pg_write(dialect, settings.mode, &table, &group) {
                        Some(sql) => sql,
                        None => continue,
                    },
                };
                let width = if statement == "DELETE" {
                    group.key_len
                } else {
                    group.columns.len()
                };
                for chunk in group.changes.chunks(settings.batch_size) {
                    let arrays: Vec<Vec<Option<String>>> = (0..width)
                        .map(|i| chunk.iter().map(|c| dialect.text(&c.cells[i])).collect())
                        .collect();
                    let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
                    for array in &arrays {
                        query = query.bind(array.as_slice());
                    }
                    let result = query.execute(&mut **tx).await;
                    if let Err(error) = result {
                        let failure = WriteFailure {
                            table: Some(batch.table.clone()),
                            statement: if statement == "DELETE" {
                                "DELETE"
                            } else {
                                mode_name(settings.mode)
                            },
                            columns: group.columns[..width].to_vec(),
                            column: super::connection::error_column(&error),
                            error,
                        };
                        return Err((failure, arrays));
                    }
                }
            }
        }
    }
    Ok(())
}

fn mode_name(mode: InsertMode) -> &'static str {
    match mode {
        InsertMode::Insert => "INSERT",
        InsertMode::Upsert => "INSERT … ON CONFLICT",
        InsertMode::Update => "UPDATE",
    }
}

/// `SELECT v0::type0, … FROM UNNEST($1::text[], …) AS u(v0, …)`.
fn pg_unnest(columns: &[DbColumn]) -> String {
    let casts: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("v{i}::{}", c.cast))
        .collect();
    let params: Vec<String> = (1..=columns.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    let names: Vec<String> = (0..columns.len()).map(|i| format!("v{i}")).collect();
    format!(
        "SELECT {} FROM UNNEST({}) AS u({})",
        casts.join(", "),
        params.join(", "),
        names.join(", ")
    )
}

fn pg_delete(dialect: &Dialect, table: &str, group: &Group<'_>) -> String {
    let keys = &group.columns[..group.key_len];
    let names: Vec<String> = keys.iter().map(|c| dialect.quoted(&c.name)).collect();
    format!(
        "DELETE FROM {table} WHERE ({}) IN ({})",
        names.join(", "),
        pg_unnest(keys)
    )
}

/// The statement writing a group's rows; `None` when there is nothing to write (an
/// update of key columns only).
fn pg_write(dialect: &Dialect, mode: InsertMode, table: &str, group: &Group<'_>) -> Option<String> {
    let names: Vec<String> = group
        .columns
        .iter()
        .map(|c| dialect.quoted(&c.name))
        .collect();
    let (keys, rest) = names.split_at(group.key_len);
    if mode == InsertMode::Update {
        if rest.is_empty() {
            return None;
        }
        let sets: Vec<String> = rest
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} = u.v{}", i + group.key_len))
            .collect();
        let matches: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, name)| format!("weir_target.{name} = u.v{i}"))
            .collect();
        let unnest = pg_unnest(&group.columns);
        return Some(format!(
            "UPDATE {table} AS weir_target SET {} FROM ({unnest}) AS u WHERE {}",
            sets.join(", "),
            matches.join(" AND ")
        ));
    }
    let mut sql = format!(
        "INSERT INTO {table} ({}) {}",
        names.join(", "),
        pg_unnest(&group.columns)
    );
    if mode == InsertMode::Upsert && !keys.is_empty() {
        sql.push_str(&format!(" ON CONFLICT ({}) DO ", keys.join(", ")));
        match rest.is_empty() {
            true => sql.push_str("NOTHING"),
            false => {
                let sets: Vec<String> =
                    rest.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
                sql.push_str(&format!("UPDATE SET {}", sets.join(", ")));
            }
        }
    }
    Some(sql)
}

fn is_data_exception(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")))
}

/// The first column whose values do not cast to its type.
async fn failing_column(
    conn: &mut PgConnection,
    columns: &[DbColumn],
    arrays: &[Vec<Option<String>>],
) -> Option<String> {
    for (column, array) in columns.iter().zip(arrays) {
        let sql = format!("SELECT $1::text[]::{}[]", column.cast);
        if sqlx::query(AssertSqlSafe(sql))
            .bind(array.clone())
            .execute(&mut *conn)
            .await
            .is_err()
        {
            return Some(column.name.clone());
        }
    }
    None
}

/// Writes the batch in one MySQL/MariaDB transaction.
pub(crate) async fn write_mysql(
    conn: &mut MySqlConnection,
    settings: &WriteSettings,
    planned: &Planned<'_>,
) -> Result<(), WriteFailure> {
    let mut tx = conn.begin().await.map_err(WriteFailure::transaction)?;
    match mysql_statements(&mut tx, settings, planned).await {
        Ok(()) => tx.commit().await.map_err(WriteFailure::transaction),
        Err(failure) => {
            let _ = tx.rollback().await;
            Err(failure)
        }
    }
}

async fn mysql_statements(
    tx: &mut Transaction<'_, MySql>,
    settings: &WriteSettings,
    planned: &Planned<'_>,
) -> Result<(), WriteFailure> {
    let dialect = &settings.dialect;
    for (batch, info) in planned {
        let table = dialect.table(&batch.table);
        for (delete, changes) in [(true, &batch.deletes), (false, &batch.upserts)] {
            let statement = if delete {
                "DELETE"
            } else {
                mode_name(settings.mode)
            };
            let fail = |columns: &[DbColumn], error| WriteFailure {
                table: Some(batch.table.clone()),
                statement,
                columns: columns.to_vec(),
                column: None,
                error,
            };
            let groups =
                groups(changes, info).map_err(|m| fail(&[], sqlx::Error::ColumnNotFound(m)))?;
            for group in groups {
                let width = if delete {
                    group.key_len
                } else {
                    group.columns.len()
                };
                let names: Vec<String> = group.columns[..width]
                    .iter()
                    .map(|c| dialect.quoted(&c.name))
                    .collect();
                if !delete && settings.mode == InsertMode::Update {
                    let (keys, rest) = names.split_at(group.key_len);
                    if rest.is_empty() {
                        continue;
                    }
                    let sets: Vec<String> = rest.iter().map(|n| format!("{n} = ?")).collect();
                    let wheres: Vec<String> = keys.iter().map(|n| format!("{n} = ?")).collect();
                    let sql = format!(
                        "UPDATE {table} SET {} WHERE {}",
                        sets.join(", "),
                        wheres.join(" AND ")
                    );
                    for change in &group.changes {
                        let cells = change.cells[group.key_len..]
                            .iter()
                            .chain(&change.cells[..group.key_len]);
                        mysql_execute(tx, &sql, cells)
                            .await
                            .map_err(|e| fail(&group.columns, e))?;
                    }
                    continue;
                }
                let rows_per_statement = settings
                    .batch_size
                    .min(MYSQL_MAX_PLACEHOLDERS / width.max(1))
                    .max(1);
                for chunk in group.changes.chunks(rows_per_statement) {
                    let sql = if delete {
                        mysql_delete(&table, &names, chunk.len())
                    } else {
                        mysql_insert(settings.mode, &table, &names, group.key_len, chunk.len())
                    };
                    let cells = chunk.iter().flat_map(|c| c.cells[..width].iter());
                    mysql_execute(tx, &sql, cells)
                        .await
                        .map_err(|e| fail(&group.columns[..width], e))?;
                }
            }
        }
    }
    Ok(())
}

async fn mysql_execute<'c>(
    tx: &mut Transaction<'_, MySql>,
    sql: &'c str,
    cells: impl Iterator<Item = &'c Cell>,
) -> Result<(), sqlx::Error> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for cell in cells {
        query = match cell {
            Cell::Bytes(bytes) => query.bind(bytes.as_slice()),
            Cell::Text(text) => query.bind(text.as_str()),
            Cell::Null => query.bind(None::<&str>),
            Cell::Bool(b) => query.bind(if *b { "1" } else { "0" }),
        };
    }
    query.execute(&mut **tx).await.map(drop)
}

fn row_placeholders(width: usize) -> String {
    let mut row = String::with_capacity(width * 2 + 2);
    row.push('(');
    for i in 0..width {
        if i > 0 {
            row.push(',');
        }
        row.push('?');
    }
    row.push(')');
    row
}

fn mysql_insert(
    mode: InsertMode,
    table: &str,
    names: &[String],
    key_len: usize,
    rows: usize,
) -> String {
    let row = row_placeholders(names.len());
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    if mode == InsertMode::Upsert && key_len > 0 {
        let rest = &names[key_len..];
        let sets: Vec<String> = match rest.is_empty() {
            true => vec![format!("{0} = {0}", names[0])],
            false => rest.iter().map(|n| format!("{n} = VALUES({n})")).collect(),
        };
        sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", ")));
    }
    sql
}

fn mysql_delete(table: &str, keys: &[String], rows: usize) -> String {
    let row = match keys.len() {
        1 => "?".to_string(),
        n => row_placeholders(n),
    };
    let list: Vec<&str> = (0..rows).map(|_| row.as_str()).collect();
    let target = match keys.len() {
        1 => keys[0].clone(),
        _ => format!("({})", keys.join(", ")),
    };
    format!("DELETE FROM {table} WHERE {target} IN ({})", list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_statements_have_one_placeholder_per_cell() {
        let names = vec!["`id`".to_string(), "`v`".to_string()];
        assert_eq!(
            mysql_insert(InsertMode::Upsert, "`t`", &names, 1, 2),
            "INSERT INTO `t` (`id`, `v`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"
        );
        assert_eq!(
            mysql_delete("`t`", &names[..1], 3),
            "DELETE FROM `t` WHERE `id` IN (?,?,?)"
        );
        assert_eq!(
            mysql_delete("`t`", &names, 2),
            "DELETE FROM `t` WHERE (`id`, `v`) IN ((?,?),(?,?))"
        );
    }

    #[test]
    fn postgres_statements_unnest_one_array_per_column() {
        let columns = vec![
            DbColumn {
                name: "id".into(),
                cast: "integer".into(),
            },
            DbColumn {
                name: "v".into(),
                cast: "text".into(),
            },
        ];
        assert_eq!(
            pg_unnest(&columns),
            "SELECT v0::integer, v1::text FROM UNNEST($1::text[], $2::text[]) AS u(v0, v1)"
        );
    }
}
