//! One `connection.url` entry: `http://host[:port][/path]`.
//!
//! Credentials belong in `connection.username` / `connection.password`, not in the URL
//! (where logs and the REST API would show them), so a URL with `user:pass@` is
//! refused without repeating it. `https` is refused too: this build speaks plain HTTP
//! only (see the module docs for why), and saying so beats a TLS handshake failure.

use std::fmt;

use crate::host_port::split_host_port;

/// A server to send bulk requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostUrl {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The path prefix, without a trailing `/` (empty for the root).
    pub(crate) path: String,
}

impl HostUrl {
    pub(crate) fn parse(url: &str) -> Result<HostUrl, String> {
        let url = url.trim();
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(format!(
                "'{url}': https is not supported by this build of Weir; reach the cluster \
                 over http (e.g. through a local TLS-terminating proxy)"
            ));
        } else {
            return Err(format!("'{url}' does not start with http://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(
                "credentials in the URL are not allowed; set connection.username \
                        and connection.password instead"
                    .to_string(),
            );
        }
        let (host, port) = split_host_port(authority, 9200).map_err(|e| format!("'{url}': {e}"))?;
        Ok(HostUrl {
            host,
            port,
            path: path.to_string(),
        })
    }
}

impl fmt::Display for HostUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            write!(f, "http://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_port_and_path() {
        let url = HostUrl::parse("http://es1:9201/proxy/").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("es1", 9201, "/proxy")
        );
        assert_eq!(url.to_string(), "http://es1:9201/proxy");
        let url = HostUrl::parse("http://127.0.0.1").unwrap();
        assert_eq!(url.port, 9200);
        let url = HostUrl::parse("http://[::1]:9200").unwrap();
        assert_eq!(url.host, "::1");
        assert_eq!(url.to_string(), "http://[::1]:9200");
    }

    #[test]
    fn refuses_credentials_tls_and_other_schemes() {
        let err = HostUrl::parse("http://elastic:s3cret@es:9200").unwrap_err();
        assert!(
            err.contains("connection.password") && !err.contains("s3cret"),
            "{err}"
        );
        assert!(HostUrl::parse("https://es:9200")
            .unwrap_err()
            .contains("https"));
        assert!(HostUrl::parse("es:9200").is_err());
        assert!(HostUrl::parse("http://es:port").is_err());
        assert!(HostUrl::parse("http://:9200").is_err());
    }
}
