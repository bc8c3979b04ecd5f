//! One database connection per task, PostgreSQL or MySQL/MariaDB, and how the
//! database's errors are classified: who is at fault, and whether a retry can help.

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSslMode};
use sqlx::{ConnectOptions, Connection};
use weir_connect::ConnectError;

use super::config::JdbcSinkConfig;
use super::url::DatabaseKind;

/// An open connection. Sessions run in UTC (see `types.rs` on zoned timestamps).
#[derive(Debug)]
pub(crate) enum Db {
    Postgres(PgConnection),
    MySql(MySqlConnection),
}

impl Db {
    pub(crate) async fn connect(config: &JdbcSinkConfig) -> Result<Db, ConnectError> {
        let url = &config.url;
        let password = config.password.as_ref().map(|p| p.expose()).unwrap_or("");
        let result = match url.kind {
            DatabaseKind::Postgres => {
                let options = PgConnectOptions::new()
                    .host(&url.host)
                    .port(url.port)
                    .username(config.username.as_deref().unwrap_or("postgres"))
                    .password(password)
                    .database(&url.database)
                    .ssl_mode(PgSslMode::Disable)
                    .application_name("weir-jdbc-sink")
                    .options([("TimeZone", "UTC")])
                    .disable_statement_logging();
                PgConnection::connect_with(&options).await.map(Db::Postgres)
            }
            DatabaseKind::MySql => {
                let options = MySqlConnectOptions::new()
                    .host(&url.host)
                    .port(url.port)
                    .username(config.username.as_deref().unwrap_or("root"))
                    .password(password)
                    .database(&url.database)
                    .ssl_mode(MySqlSslMode::Disabled)
                    .timezone(Some("+00:00".to_string()))
                    .disable_statement_logging();
                MySqlConnection::connect_with(&options).await.map(Db::MySql)
            }
        };
        result.map_err(|error| connect_error(config, error))
    }

    pub(crate) async fn close(self) {
        let _ = match self {
            Db::Postgres(conn) => conn.close().await,
            Db::MySql(conn) => conn.close().await,
        };
    }
}

/// A failure to connect, with what to check.
fn connect_error(config: &JdbcSinkConfig, error: sqlx::Error) -> ConnectError {
    let user = config.username.as_deref().unwrap_or(match config.url.kind {
        DatabaseKind::Postgres => "postgres",
        DatabaseKind::MySql => "root",
    });
    let at = format!("{} as user '{user}'", config.url);
    match Fault::of(&error) {
        Fault::Credentials => ConnectError::user(format!(
            "cannot log in to {at}: the database refused the credentials (check \
             connection.username and connection.password)"
        ))
        .with_source(error),
        Fault::Transient => ConnectError::external(format!(
            "cannot reach {at} (check the host and port in connection.url, and that the \
             server is up)"
        ))
        .with_source(error),
        Fault::Refused => ConnectError::user(format!(
            "cannot connect to {at} (check the database in connection.url and the user's \
             rights)"
        ))
        .with_source(error),
    }
}

/// Who is at fault for a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Connection lost or refused, server shutting down, deadlock, serialization
    /// failure: trying again may succeed.
    Transient,
    /// Wrong user or password.
    Credentials,
    /// The database refuses the statement (rights, types, constraints): trying again
    /// does the same.
    Refused,
}

impl Fault {
    pub(crate) fn of(error: &sqlx::Error) -> Fault {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Fault::Transient,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default().to_string();
                if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                    let code = pg.code();
                    return match code {
                        "28P01" | "28000" => Fault::Credentials,
                        _ if code.starts_with("08")
                            || code.starts_with("53")
                            || code.starts_with("57P0")
                            || code == "40001"
                            || code == "40P01" =>
                        {
                            Fault::Transient
                        }
                        _ => Fault::Refused,
                    };
                }
                if let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>() {
                    return match my.number() {
                        1045 | 1698 => Fault::Credentials,
                        // Deadlock, lock wait timeout, server shutdown, too many
                        // connections, connection lost.
                        1213 | 1205 | 1053 | 1040 | 2006 | 2013 => Fault::Transient,
                        _ => Fault::Refused,
                    };
                }
                match code.as_str() {
                    c if c.starts_with("08") || c == "40001" => Fault::Transient,
                    c if c.starts_with("28") => Fault::Credentials,
                    _ => Fault::Refused,
                }
            }
            _ => Fault::Refused,
        }
    }
}

/// The server's column name for an error, when it gives one (PostgreSQL's `column`
/// field; MySQL names columns in its messages).
pub(crate) fn error_column(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(|pg| pg.column())
            .map(str::to_string),
        _ => None,
    }
}

/// The server's own message, without sqlx's framing.
pub(crate) fn server_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    }
}
