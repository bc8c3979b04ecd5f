//! What the connector asks PostgreSQL over an ordinary connection (sqlx): the
//! server's fitness for capture, column types, captured tables, the publication and
//! the slot. Every failure a user can fix says how.

use std::collections::HashMap;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, Row};
use weir_connect::ConnectError;

use super::config::{PostgresConfig, PublicationMode};
use super::types::{PgType, TypeKind};

/// The session settings whose text formats the type mapping reads, pinned on every
/// connection (ordinary and replication) so a server's defaults cannot change them.
pub(crate) const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("DateStyle", "ISO,YMD"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
    ("TimeZone", "UTC"),
];

/// A column as the catalog describes it.
#[derive(Debug, Clone)]
pub(crate) struct CatalogColumn {
    pub(crate) name: String,
    pub(crate) type_oid: u32,
    pub(crate) type_modifier: i32,
    pub(crate) not_null: bool,
    pub(crate) primary_key: bool,
}

/// A table the publication may stream.
#[derive(Debug, Clone)]
pub(crate) struct CatalogTable {
    pub(crate) oid: u32,
    pub(crate) schema: String,
    pub(crate) name: String,
    /// `relreplident`: d, n, f or i.
    pub(crate) replica_identity: char,
    pub(crate) has_primary_key: bool,
}

impl CatalogTable {
    /// Whether updates and deletes can be published: PostgreSQL refuses them on a
    /// table in such a publication that cannot identify its old rows.
    pub(crate) fn identifies_rows(&self) -> bool {
        match self.replica_identity {
            'f' | 'i' => true,
            'd' => self.has_primary_key,
            _ => false,
        }
    }

    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A replication slot's state.
#[derive(Debug, Clone)]
pub(crate) struct SlotState {
    pub(crate) plugin: String,
    pub(crate) active_pid: Option<i32>,
    pub(crate) confirmed_flush: Option<u64>,
    /// `wal_status`: reserved, extended, unreserved or lost.
    pub(crate) wal_status: Option<String>,
}

pub(crate) fn connect_options(config: &PostgresConfig) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&config.hostname)
        .port(config.port)
        .username(&config.user)
        .password(&config.password)
        .database(&config.dbname)
        .ssl_mode(PgSslMode::Disable)
        .application_name("weir-postgres-cdc")
        .options(SESSION_SETTINGS.iter().copied())
        .disable_statement_logging()
}

/// An ordinary connection with the session settings and `database.initial.statements`.
pub(crate) async fn connect(config: &PostgresConfig) -> Result<PgConnection, ConnectError> {
    let mut conn = PgConnection::connect_with(&connect_options(config))
        .await
        .map_err(|e| connection_error(config, e))?;
    for statement in &config.initial_statements {
        sqlx::raw_sql(AssertSqlSafe(statement.clone()))
            .execute(&mut conn)
            .await
            .map_err(|e| {
                ConnectError::user(format!("database.initial.statements: '{statement}' failed"))
                    .with_source(e)
            })?;
    }
    Ok(conn)
}

/// A connection failure, with what to check.
pub(crate) fn connection_error(config: &PostgresConfig, error: sqlx::Error) -> ConnectError {
    let at = format!(
        "{}@{}:{}/{}",
        config.user, config.hostname, config.port, config.dbname
    );
    let hint = match &error {
        sqlx::Error::Io(_) => {
            "check database.hostname and database.port, and that the server is up"
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("28P01") => {
            "check database.user and database.password"
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
            "check database.dbname"
        }
        _ => "check the database.* settings",
    };
    ConnectError::external(format!("cannot connect to PostgreSQL at {at}: {hint}"))
        .with_source(error)
}

/// Refuses a server that cannot serve logical replication to this user.
pub(crate) async fn check_server(conn: &mut PgConnection, user: &str) -> Result<(), ConnectError> {
    let wal_level: String = sqlx::query_scalar("SHOW wal_level")
        .fetch_one(&mut *conn)
        .await
        .map_err(query_error("reading wal_level"))?;
    if wal_level != "logical" {
        return Err(ConnectError::user(format!(
            "the server's wal_level is '{wal_level}', and logical decoding needs 'logical': set \
             wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and \
             restart PostgreSQL"
        )));
    }
    let can_replicate: bool = sqlx::query_scalar(
        "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(query_error("reading the user's privileges"))?;
    if !can_replicate {
        return Err(ConnectError::user(format!(
            "the user '{user}' may not use replication: grant it with ALTER ROLE \"{user}\" \
             REPLICATION (or connect as a superuser)"
        )));
    }
    Ok(())
}

pub(crate) fn query_error(what: &'static str) -> impl Fn(sqlx::Error) -> ConnectError {
    move |e| ConnectError::external(format!("PostgreSQL: {what} failed")).with_source(e)
}

/// Every ordinary or partitioned table the user can see, with its replica identity.
pub(crate) async fn tables(conn: &mut PgConnection) -> Result<Vec<CatalogTable>, ConnectError> {
    let rows = sqlx::query(
        "SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name,
                c.relreplident::text AS ident,
                EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
         ORDER BY n.nspname, c.relname",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error("listing tables"))?;
    rows.iter()
        .map(|row| {
            Ok(CatalogTable {
                oid: row.try_get::<i64, _>("oid")? as u32,
                schema: row.try_get("schema")?,
                name: row.try_get("name")?,
                replica_identity: row
                    .try_get::<String, _>("ident")?
                    .chars()
                    .next()
                    .unwrap_or('d'),
                has_primary_key: row.try_get("pk")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(query_error("reading the table list"))
}

/// A table's live columns in attribute order (generated columns left out, as
/// pgoutput leaves them out).
pub(crate) async fn columns(
    conn: &mut PgConnection,
    table_oid: u32,
) -> Result<Vec<CatalogColumn>, ConnectError> {
    let rows = sqlx::query(
        "SELECT a.attname::text AS name, a.atttypid::int8 AS type_oid, a.atttypmod AS typmod,
                a.attnotnull AS not_null,
                EXISTS (SELECT 1 FROM pg_index i
                        WHERE i.indrelid = a.attrelid AND i.indisprimary
                          AND a.attnum = ANY (i.indkey)) AS pk
         FROM pg_attribute a
         WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = ''
         ORDER BY a.attnum",
    )
    .bind(i64::from(table_oid))
    .fetch_all(&mut *conn)
    .await
    .map_err(query_error("reading a table's columns"))?;
    rows.iter()
        .map(|row| {
            Ok(CatalogColumn {
                name: row.try_get("name")?,
                type_oid: row.try_get::<i64, _>("type_oid")? as u32,
                type_modifier: row.try_get("typmod")?,
                not_null: row.try_get("not_null")?,
                primary_key: row.try_get("pk")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(query_error("reading a table's columns"))
}

/// Column types by OID, looked up once each.
#[derive(Debug, Default)]
pub(crate) struct TypeCache {
    types: HashMap<u32, PgType>,
}

impl TypeCache {
    /// The type `oid`, with its element, base type or enum labels resolved.
    pub(crate) async fn get(
        &mut self,
        conn: &mut PgConnection,
        oid: u32,
    ) -> Result<PgType, ConnectError> {
        if let Some(ty) = self.types.get(&oid) {
            return Ok(ty.clone());
        }
        let ty = Box::pin(self.load(conn, oid)).await?;
        self.types.insert(oid, ty.clone());
        Ok(ty)
    }

    /// Forgets what it knows, after a schema change may have altered a type.
    pub(crate) fn clear(&mut self) {
        self.types.clear();
    }

    async fn load(&mut self, conn: &mut PgConnection, oid: u32) -> Result<PgType, ConnectError> {
        let row = sqlx::query(
            "SELECT t.typname::text AS name, t.typtype::text AS kind, t.typelem::int8 AS elem,
                    t.typbasetype::int8 AS base, t.typtypmod AS base_typmod,
                    t.typcategory::text AS category,
                    ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                          ORDER BY e.enumsortorder) AS labels
             FROM pg_type t WHERE t.oid = $1::int8::oid",
        )
        .bind(i64::from(oid))
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_error("reading a column type"))?;
        let Some(row) = row else {
            // A type dropped since the change was written: its text is still readable.
            return Ok(PgType {
                oid,
                name: format!("unknown type {oid}"),
                kind: TypeKind::Base,
            });
        };
        let get = |e: sqlx::Error| query_error("reading a column type")(e);
        let name: String = row.try_get("name").map_err(get)?;
        let kind: String = row.try_get("kind").map_err(get)?;
        let category: String = row.try_get("category").map_err(get)?;
        let elem = row.try_get::<i64, _>("elem").map_err(get)? as u32;
        let base = row.try_get::<i64, _>("base").map_err(get)? as u32;
        let kind = match kind.as_str() {
            "e" => TypeKind::Enum {
                labels: row.try_get("labels").map_err(get)?,
            },
            "d" if base != 0 => TypeKind::Domain {
                base: Box::new(Box::pin(self.get(conn, base)).await?),
                type_modifier: row.try_get("base_typmod").map_err(get)?,
            },
            _ if category == "A" && elem != 0 => TypeKind::Array {
                element: Box::new(Box::pin(self.get(conn, elem)).await?),
            },
            _ => TypeKind::Base,
        };
        Ok(PgType { oid, name, kind })
    }
}

/// Makes sure the publication exists and streams what the config captures.
pub(crate) async fn ensure_publication(
    conn: &mut PgConnection,
    config: &PostgresConfig,
    captured: &[CatalogTable],
) -> Result<(), ConnectError> {
    let name = &config.publication_name;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .map_err(query_error("reading publications"))?;
    let unidentified: Vec<String> = captured
        .iter()
        .filter(|t| !t.identifies_rows())
        .map(CatalogTable::qualified)
        .collect();
    match config.publication_mode {
        PublicationMode::Disabled if !exists => Err(ConnectError::user(format!(
            "the publication '{name}' does not exist, and publication.autocreate.mode is \
             disabled: create it (CREATE PUBLICATION \"{name}\" FOR TABLE …) or set \
             publication.autocreate.mode=filtered"
        ))),
        PublicationMode::Disabled => Ok(()),
        PublicationMode::AllTables if exists => Ok(()),
        PublicationMode::AllTables => {
            refuse_unidentified(&unidentified, "FOR ALL TABLES")?;
            execute(
                conn,
                &format!("CREATE PUBLICATION {} FOR ALL TABLES", ident(name)),
            )
            .await
        }
        PublicationMode::Filtered => {
            refuse_unidentified(&unidentified, "for these tables")?;
            if captured.is_empty() {
                return Err(ConnectError::user(
                    "no table matches the include and exclude lists: check table.include.list \
                     and schema.include.list",
                ));
            }
            let list = captured
                .iter()
                .map(|t| format!("{}.{}", ident(&t.schema), ident(&t.name)))
                .collect::<Vec<_>>()
                .join(", ");
            let verb = if exists {
                "ALTER PUBLICATION {} SET TABLE"
            } else {
                "CREATE PUBLICATION {} FOR TABLE"
            };
            execute(
                conn,
                &format!("{} {list}", verb.replace("{}", &ident(name))),
            )
            .await
        }
    }
}

/// A publication that publishes updates and deletes of a table that cannot identify
/// its old rows makes every UPDATE and DELETE on it fail in the application.
fn refuse_unidentified(tables: &[String], publication: &str) -> Result<(), ConnectError> {
    if tables.is_empty() {
        return Ok(());
    }
    Err(ConnectError::user(format!(
        "a publication {publication} would make UPDATE and DELETE fail on tables without a \
         primary key or replica identity: {}. Give each a primary key or \
         ALTER TABLE … REPLICA IDENTITY FULL, or leave them out with table.exclude.list",
        tables.join(", ")
    )))
}

async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), ConnectError> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| {
            ConnectError::user(format!("'{sql}' failed: the user needs to own the tables (or be a superuser) to manage the publication"))
                .with_source(e)
        })
}

/// The slot `name` in this database, if it exists.
pub(crate) async fn slot(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<SlotState>, ConnectError> {
    let row = sqlx::query(
        "SELECT plugin::text AS plugin, active_pid, confirmed_flush_lsn::text AS confirmed,
                wal_status::text AS wal_status
         FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(query_error("reading replication slots"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let get = |e: sqlx::Error| query_error("reading a replication slot")(e);
    Ok(Some(SlotState {
        plugin: row
            .try_get::<Option<String>, _>("plugin")
            .map_err(get)?
            .unwrap_or_default(),
        active_pid: row.try_get("active_pid").map_err(get)?,
        confirmed_flush: row
            .try_get::<Option<String>, _>("confirmed")
            .map_err(get)?
            .and_then(|t| parse_lsn(&t)),
        wal_status: row.try_get("wal_status").map_err(get)?,
    }))
}

/// Drops the slot `name` (`slot.drop.on.stop`), waiting for its session to end.
pub(crate) async fn drop_slot(conn: &mut PgConnection, name: &str) -> Result<(), ConnectError> {
    sqlx::query(
        "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(name)
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(query_error("dropping the replication slot"))
}

/// The slot's lag and the WAL it keeps, in bytes: (server WAL end − confirmed flush,
/// server WAL end − restart point).
pub(crate) async fn slot_lag(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<(i64, i64)>, ConnectError> {
    let row = sqlx::query(
        "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::int8 AS lag,
                (pg_current_wal_lsn() - restart_lsn)::int8 AS retained
         FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(query_error("reading the slot's lag"))?;
    Ok(row.and_then(|r| {
        Some((
            r.try_get::<Option<i64>, _>("lag").ok()??,
            r.try_get::<Option<i64>, _>("retained").ok()??,
        ))
    }))
}

/// A quoted identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `16/B374D848` as a number.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some(u64::from_str_radix(high, 16).ok()? << 32 | u64::from_str_radix(low, 16).ok()?)
}

/// A number as `16/B374D848`.
pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_read_and_write_as_postgresql_prints_them() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("nonsense"), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("Orders"), "\"Orders\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn tables_that_cannot_identify_rows_are_named() {
        let table = |ident: char, pk: bool| CatalogTable {
            oid: 1,
            schema: "public".into(),
            name: "t".into(),
            replica_identity: ident,
            has_primary_key: pk,
        };
        assert!(table('d', true).identifies_rows());
        assert!(!table('d', false).identifies_rows());
        assert!(table('f', false).identifies_rows());
        assert!(!table('n', true).identifies_rows());
        let err = refuse_unidentified(&["public.t".into()], "FOR ALL TABLES").unwrap_err();
        assert!(err.to_string().contains("REPLICA IDENTITY FULL"), "{err}");
    }
}
