//! `connection.url`: where the sink writes, as users write it for Kafka Connect's JDBC
//! sinks (`jdbc:postgresql://host:port/db?user=…&password=…`, `jdbc:mysql://…`,
//! `jdbc:mariadb://…`) or natively (`postgres://user:pass@host/db`, `mysql://…`).
//!
//! A password in the URL is taken (users paste such URLs from their Java configs), but
//! error messages here never echo the URL, and `Debug` hides the password: prefer
//! `connection.password`, a masked secret.

use std::fmt;

use weir_connect::config::Secret;

use crate::host_port::split_host_port;

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatabaseKind {
    Postgres,
    /// MySQL and MariaDB.
    MySql,
}

impl DatabaseKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            DatabaseKind::Postgres => "PostgreSQL",
            DatabaseKind::MySql => "MySQL",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            DatabaseKind::Postgres => 5432,
            DatabaseKind::MySql => 3306,
        }
    }
}

/// A parsed `connection.url`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ConnectionUrl {
    pub(crate) kind: DatabaseKind,
    /// A host name or IP address; an IPv6 address without its brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionUrl")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

/// Query parameters that name the user or password (pgJDBC and Connector/J spellings).
const USER_PARAMS: &[&str] = &["user", "username"];
const PASSWORD_PARAMS: &[&str] = &["password"];

/// Longest URL accepted, so a pasted blob is refused before it is scanned.
const MAX_LEN: usize = 4096;

impl ConnectionUrl {
    /// Parses a URL; the error says what is wrong without repeating the URL.
    pub(crate) fn parse(url: &str) -> Result<ConnectionUrl, String> {
        let url = url.trim();
        if url.len() > MAX_LEN {
            return Err(format!("the URL is longer than {MAX_LEN} characters"));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("expected jdbc:postgresql://host[:port]/database or jdbc:mysql://…")?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "jdbc:postgresql" | "postgres" | "postgresql" => DatabaseKind::Postgres,
            "jdbc:mysql" | "jdbc:mariadb" | "mysql" | "mariadb" => DatabaseKind::MySql,
            other => {
                return Err(format!(
                    "unsupported database '{}': use jdbc:postgresql://, jdbc:mysql://, \
                     jdbc:mariadb://, postgres:// or mysql://",
                    other.chars().take(24).collect::<String>()
                ))
            }
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, database) = match rest.split_once('/') {
            Some((authority, path)) => (authority, path),
            None => (rest, ""),
        };
        if database.is_empty() || database.contains('/') {
            return Err(
                "the URL must name one database after the host: …//host:port/database".into(),
            );
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        if host_port.contains(',') {
            return Err("several hosts (failover lists) are not supported; name one host".into());
        }
        let (host, port) = split_host_port(host_port, kind.default_port())?;
        let mut username = None;
        let mut password = None;
        if let Some(userinfo) = userinfo {
            let (user, pass) = match userinfo.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                username = Some(decode(user)?);
            }
            if let Some(pass) = pass {
                password = Some(Secret::new(decode(pass)?));
            }
        }
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if USER_PARAMS.contains(&name) {
                username = Some(decode(value)?);
            } else if PASSWORD_PARAMS.contains(&name) {
                password = Some(Secret::new(decode(value)?));
            }
            // Other driver properties (ssl, timeouts, …) are Java driver settings this
            // sink has no equivalent for; they are ignored rather than refused so a
            // pasted URL works.
        }
        Ok(ConnectionUrl {
            kind,
            host,
            port,
            database: decode(database)?,
            username,
            password,
        })
    }

    /// `host:port`, with brackets around an IPv6 address, for messages.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for ConnectionUrl {
    /// Where the sink writes, without credentials: `PostgreSQL at host:port/db`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}/{}",
            self.kind.name(),
            self.address(),
            self.database
        )
    }
}

/// Percent-decoding of one URL part.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("a '%' must be followed by two hex digits")?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "a percent-encoded part is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jdbc_urls_with_credentials_in_the_query() {
        let url = ConnectionUrl::parse(
            "jdbc:postgresql://db.example:6543/shop?user=app&password=s%40cret&ssl=false",
        )
        .unwrap();
        assert_eq!(url.kind, DatabaseKind::Postgres);
        assert_eq!((url.host.as_str(), url.port), ("db.example", 6543));
        assert_eq!(url.database, "shop");
        assert_eq!(url.username.as_deref(), Some("app"));
        assert_eq!(url.password.as_ref().unwrap().expose(), "s@cret");
        assert!(!format!("{url:?}").contains("s@cret"));
        assert_eq!(url.to_string(), "PostgreSQL at db.example:6543/shop");
        for mysql in [
            "jdbc:mysql://h/db",
            "jdbc:mariadb://h/db",
            "mysql://u:p@h/db",
        ] {
            let url = ConnectionUrl::parse(mysql).unwrap();
            assert_eq!((url.kind, url.port), (DatabaseKind::MySql, 3306), "{mysql}");
        }
    }

    #[test]
    fn reads_native_urls_and_ipv6_hosts() {
        let url = ConnectionUrl::parse("postgres://app:pw@[::1]:5433/weir").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 5433));
        assert_eq!(url.address(), "[::1]:5433");
        assert_eq!(url.username.as_deref(), Some("app"));
        assert_eq!(url.password.as_ref().unwrap().expose(), "pw");
        assert_eq!(ConnectionUrl::parse("postgresql://h/d").unwrap().port, 5432);
    }

    #[test]
    fn refuses_what_it_cannot_use_without_echoing_the_url() {
        for (url, expected) in [
            ("jdbc:oracle:thin://h/db", "unsupported database"),
            ("jdbc:postgresql://h:5432", "must name one database"),
            ("jdbc:postgresql://h1,h2/db", "several hosts"),
            ("jdbc:postgresql://h:99999/db", "port"),
            ("jdbc:postgresql://:1/db", "no host"),
            ("postgres://u:p%zz@h/db", "two hex digits"),
            ("h:5432/db", "expected jdbc:postgresql"),
        ] {
            let err = ConnectionUrl::parse(url).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("p%zz"), "{err}");
        }
    }
}
