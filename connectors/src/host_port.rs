//! `host[:port]` as a URL's authority writes it (`[::1]:6379` for IPv6), for the
//! connectors that read URLs. Errors never quote the text: a malformed URL may hold a
//! password where a host or port was expected.

/// The host and port of `host_port`, `default_port` when it names none.
pub(crate) fn split_host_port(host_port: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected ':port' after the IPv6 address".into()),
            },
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    let port = match port {
        None => default_port,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| "the port must be a number from 1 to 65535".to_string())?,
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_addresses_and_ports() {
        assert_eq!(split_host_port("db", 5432), Ok(("db".into(), 5432)));
        assert_eq!(split_host_port("db:6543", 5432), Ok(("db".into(), 6543)));
        assert_eq!(split_host_port("[::1]:7", 5432), Ok(("::1".into(), 7)));
        assert_eq!(split_host_port("[::1]", 5432), Ok(("::1".into(), 5432)));
        for (bad, why) in [
            ("[::1", "closing ']'"),
            ("[::1]7", "':port'"),
            (":1", "no host"),
            ("h:0", "from 1 to 65535"),
            ("h:s3cret", "from 1 to 65535"),
        ] {
            let err = split_host_port(bad, 1).unwrap_err();
            assert!(err.contains(why) && !err.contains("s3cret"), "{bad}: {err}");
        }
    }
}
