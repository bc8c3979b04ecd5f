//! `redis.uri`: where the sink connects, as `redis://[user@]host[:port][/db]`.
//!
//! The password is deliberately not part of the URI: a URI is a plain string key, so the
//! runtime shows it in configs, logs and errors, while `redis.password` is a secret it
//! masks. Error messages here never echo the URI, in case it holds a password anyway.

use std::fmt;

use crate::host_port::split_host_port;

/// Redis' default port, used when the URI names none.
const DEFAULT_PORT: u16 = 6379;

/// A parsed `redis.uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisUri {
    /// A host name or IP address; an IPv6 address without its brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) username: Option<String>,
    /// The logical database selected after connecting.
    pub(crate) db: i64,
}

impl RedisUri {
    /// Parses a URI; the error says what is wrong without repeating the URI.
    pub(crate) fn parse(uri: &str) -> Result<RedisUri, String> {
        let uri = uri.trim();
        let Some(rest) = uri.strip_prefix("redis://") else {
            let scheme = uri.split_once("://").map(|(scheme, _)| scheme);
            return Err(match scheme {
                Some("rediss") => "TLS (rediss://) is not supported; use redis://".into(),
                Some(scheme) => format!(
                    "the scheme must be redis://, not {}://",
                    scheme.chars().take(16).collect::<String>()
                ),
                None => "expected redis://[user@]host[:port][/db]".into(),
            });
        };
        if rest.contains('?') || rest.contains('#') {
            return Err("query parameters are not supported; use the redis.* keys".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, ""),
        };
        let (username, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                if userinfo.contains(':') {
                    return Err(
                        "the URI must not contain a password: set redis.password instead".into(),
                    );
                }
                if userinfo.is_empty() {
                    return Err("the user name before '@' is empty".into());
                }
                (Some(userinfo.to_string()), host_port)
            }
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port, DEFAULT_PORT)
            .map_err(|e| format!("{e}: expected redis://[user@]host[:port][/db]"))?;
        let db = if path.is_empty() {
            0
        } else {
            path.parse::<i64>()
                .ok()
                .filter(|db| *db >= 0)
                .ok_or_else(|| {
                    format!("the database after '/' must be a number from 0, not '{path}'")
                })?
        };
        Ok(RedisUri {
            host,
            port,
            username,
            db,
        })
    }

    /// `host:port`, with brackets around an IPv6 address, for connecting and messages.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `redis://[user@]host:port/db`, which never holds a password.
impl fmt::Display for RedisUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        write!(f, "{}/{}", self.address(), self.db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part() {
        let uri = RedisUri::parse("redis://app@cache.local:6380/3").unwrap();
        assert_eq!(uri.host, "cache.local");
        assert_eq!(uri.port, 6380);
        assert_eq!(uri.username.as_deref(), Some("app"));
        assert_eq!(uri.db, 3);
        assert_eq!(uri.to_string(), "redis://app@cache.local:6380/3");
    }

    #[test]
    fn defaults_port_and_db() {
        let uri = RedisUri::parse("redis://127.0.0.1").unwrap();
        assert_eq!(
            (uri.address(), uri.db, uri.username),
            ("127.0.0.1:6379".into(), 0, None)
        );
        assert_eq!(RedisUri::parse("redis://h:1/").unwrap().db, 0);
    }

    #[test]
    fn keeps_ipv6_brackets_in_the_address() {
        let uri = RedisUri::parse("redis://[::1]:7000/1").unwrap();
        assert_eq!(uri.host, "::1");
        assert_eq!(uri.address(), "[::1]:7000");
    }

    #[test]
    fn rejects_a_password_without_echoing_it() {
        for uri in ["redis://app:s3cret@h:1", "redis://:s3cret@h:1/0"] {
            let err = RedisUri::parse(uri).unwrap_err();
            assert!(err.contains("set redis.password instead"), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn says_what_is_wrong() {
        let cases = [
            ("rediss://h:1", "TLS"),
            ("http://h:1", "not http://"),
            ("h:6379", "expected redis://"),
            ("redis://:6379", "names no host"),
            ("redis://h:0", "port must be a number"),
            ("redis://h:99999", "port must be a number"),
            ("redis://h:1/x", "database after '/'"),
            ("redis://h:1/-1", "database after '/'"),
            ("redis://h:1/0?timeout=1", "query parameters"),
            ("redis://[::1:1", "closing ']'"),
        ];
        for (uri, expected) in cases {
            let err = RedisUri::parse(uri).unwrap_err();
            assert!(err.contains(expected), "{uri}: {err}");
        }
    }
}
