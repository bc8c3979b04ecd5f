//! The SQL of an incremental snapshot: chunk and maximum-key queries over the
//! primary key as a row value, window markers, and rows read as text.

use sqlx::{AssertSqlSafe, PgConnection, Row};
use weir_connect::ConnectError;

use super::super::catalog::ident;
use super::Current;

/// Why a step stopped short.
#[derive(Debug)]
pub(super) enum StepError {
    /// The table cannot be snapshotted: it is skipped.
    Skip(String),
    /// The database failed: the step is tried again.
    Fail(ConnectError),
}
use StepError::{Fail, Skip};

impl From<ConnectError> for StepError {
    fn from(e: ConnectError) -> Self {
        Fail(e)
    }
}

/// A failed query: an error the server reports about the query (a bad filter, no
/// privilege) skips the table; any other is the connection's.
fn query_failed(what: &str, e: sqlx::Error) -> StepError {
    match &e {
        sqlx::Error::Database(db) => Skip(format!("{what} failed: {}", db.message())),
        _ => Fail(ConnectError::external(format!("PostgreSQL: {what} failed")).with_source(e)),
    }
}

pub(super) async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), StepError> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .map_err(|e| match &e {
            // Without its markers the snapshot cannot go on at all.
            sqlx::Error::Database(db) => Fail(
                ConnectError::user(format!(
                    "writing a window marker to signal.data.collection failed ({}): the user \
                     needs INSERT and DELETE on it, and it needs the columns id, type, data",
                    db.message()
                ))
                .with_source(e),
            ),
            _ => query_failed("writing a window marker", e),
        })?;
    Ok(())
}

/// Rows as text, read through the simple query protocol as the initial snapshot
/// reads them, so values match what the stream sends.
pub(super) async fn read(
    conn: &mut PgConnection,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, StepError> {
    let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| query_failed("reading a chunk", e))?;
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.try_get_unchecked::<Option<String>, _>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| query_failed("reading a chunk's rows", e))
}

pub(super) async fn max_key(
    conn: &mut PgConnection,
    current: &Current,
    condition: Option<&str>,
) -> Result<Option<Vec<String>>, StepError> {
    let filter = condition.map_or(String::new(), |c| format!(" WHERE ({c})"));
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {} LIMIT 1",
        current
            .key
            .iter()
            .map(|&i| ident(&current.columns[i]))
            .collect::<Vec<_>>()
            .join(", "),
        current.from,
        key_order(current, " DESC")
    );
    let rows = read(conn, &sql).await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|row| row.into_iter().map(Option::unwrap_or_default).collect()))
}

pub(super) fn columns(current: &Current) -> String {
    current
        .columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `("a", "b")`: the key as a row value, for row comparisons.
pub(super) fn key_tuple(current: &Current) -> String {
    let names: Vec<String> = current
        .key
        .iter()
        .map(|&i| ident(&current.columns[i]))
        .collect();
    format!("({})", names.join(", "))
}

pub(super) fn key_order(current: &Current, direction: &str) -> String {
    current
        .key
        .iter()
        .map(|&i| format!("{}{direction}", ident(&current.columns[i])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `('1', 'x')`: text literals, typed by the column they are compared with.
pub(super) fn values(key: &[String]) -> String {
    let literals: Vec<String> = key.iter().map(|v| literal(v)).collect();
    format!("({})", literals.join(", "))
}

/// A string literal (the connection keeps `standard_conforming_strings` on, the
/// default since PostgreSQL 9.1: backslashes are plain characters).
pub(super) fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(values(&["1".into(), "a".into()]), "('1', 'a')");
    }
}
