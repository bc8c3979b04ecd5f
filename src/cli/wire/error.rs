//! Why a request to a broker did not get an answer the CLI can use.

use std::fmt;
use std::time::Duration;

use weir_core::protocol::{ApiKey, DecodeError, ErrorCode, VersionRange};

/// A failure of the protocol client, each with the broker it concerns and, where one
/// helps, a hint at what to do.
///
/// Kafka error codes inside otherwise good responses are not `WireError`s: each
/// command decides what a code means for it (see [`kafka_error`]).
#[derive(Debug)]
pub(crate) enum WireError {
    /// No bootstrap address was given.
    NoBootstrap,
    /// The TCP connection could not be made.
    Connect {
        addr: String,
        source: std::io::Error,
    },
    /// Connecting or waiting for a response took longer than the request timeout.
    Timeout {
        addr: String,
        api: ApiKey,
        after: Duration,
    },
    /// Reading or writing the socket failed, or the broker closed it mid-response.
    Io {
        addr: String,
        api: ApiKey,
        source: std::io::Error,
    },
    /// A response claimed more bytes than the client accepts (or a negative size).
    ResponseSize {
        addr: String,
        api: ApiKey,
        size: i64,
        max: usize,
    },
    /// A response's bytes are not a valid message of the version that was asked for.
    Decode {
        addr: String,
        api: ApiKey,
        version: i16,
        source: DecodeError,
    },
    /// A response answered a different request than the one in flight.
    CorrelationMismatch {
        addr: String,
        api: ApiKey,
        expected: i32,
        got: i32,
    },
    /// The broker does not serve an API this command needs.
    UnsupportedApi { addr: String, api: ApiKey },
    /// The broker serves the API, but no version the client can speak.
    NoCommonVersion {
        addr: String,
        api: ApiKey,
        broker: VersionRange,
        client: VersionRange,
    },
    /// ApiVersions itself failed with a Kafka error.
    Handshake { addr: String, code: i16 },
    /// FindCoordinator answered with an error.
    Coordinator {
        transactional_id: String,
        error: String,
    },
    /// A broker id that the cluster's metadata does not list.
    UnknownBroker { id: i32, known: Vec<i32> },
    /// The connection failed earlier; its byte stream can no longer be trusted.
    Broken { addr: String },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::NoBootstrap => write!(
                f,
                "no bootstrap server given; pass -b/--bootstrap-server HOST:PORT or set $WEIR_BOOTSTRAP"
            ),
            WireError::Connect { addr, source } => write!(
                f,
                "cannot connect to {addr}: {source}; is a broker listening there? \
                 (-b/--bootstrap-server or $WEIR_BOOTSTRAP choose another)"
            ),
            WireError::Timeout { addr, api, after } => write!(
                f,
                "{addr} did not answer {} within {} ms; the broker may be overloaded or \
                 unreachable (--request-timeout-ms waits longer)",
                api.name(),
                after.as_millis()
            ),
            WireError::Io { addr, api, source }
                if source.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                write!(
                    f,
                    "{addr} closed the connection instead of answering {}; it may not speak \
                     the Kafka protocol, or refused the request (see its log)",
                    api.name()
                )
            }
            WireError::Io { addr, api, source } => {
                write!(f, "{} to {addr} failed: {source}", api.name())
            }
            WireError::ResponseSize {
                addr,
                api,
                size,
                max,
            } => write!(
                f,
                "{addr} sent a {} response of {size} bytes; at most {max} are accepted \
                 (ask for fewer partitions at a time)",
                api.name()
            ),
            WireError::Decode {
                addr,
                api,
                version,
                source,
            } => write!(
                f,
                "cannot decode the {} v{version} response from {addr}: {source}",
                api.name()
            ),
            WireError::CorrelationMismatch {
                addr,
                api,
                expected,
                got,
            } => write!(
                f,
                "{addr} answered {} with correlation id {got}, expected {expected}",
                api.name()
            ),
            WireError::UnsupportedApi { addr, api } => write!(
                f,
                "the broker at {addr} does not serve {} (API key {}); this command needs a \
                 broker that does (Weir, or Kafka 3.0 or later)",
                api.name(),
                *api as i16
            ),
            WireError::NoCommonVersion {
                addr,
                api,
                broker,
                client,
            } => write!(
                f,
                "the broker at {addr} serves {} v{}-v{}, this client speaks v{}-v{}",
                api.name(),
                broker.min,
                broker.max,
                client.min,
                client.max
            ),
            WireError::Handshake { addr, code } => write!(
                f,
                "ApiVersions to {addr} failed with {}",
                kafka_error(*code, None)
            ),
            WireError::Coordinator {
                transactional_id,
                error,
            } => write!(
                f,
                "cannot find the coordinator of transactional id {transactional_id:?}: {error}"
            ),
            WireError::UnknownBroker { id, known } => {
                let known: Vec<String> = known.iter().map(i32::to_string).collect();
                write!(
                    f,
                    "broker {id} is not in the cluster's metadata (brokers: {})",
                    known.join(", ")
                )
            }
            WireError::Broken { addr } => {
                write!(f, "the connection to {addr} failed earlier and was closed")
            }
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WireError::Connect { source, .. } | WireError::Io { source, .. } => Some(source),
            WireError::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A Kafka error code as one line: `NAME: message`, with the broker's message when it
/// sent one and Kafka's default message otherwise, e.g.
/// `TRANSACTIONAL_ID_NOT_FOUND: The transactionalId could not be found`.
pub(crate) fn kafka_error(code: i16, message: Option<&str>) -> String {
    let Some(known) = ErrorCode::from_i16(code) else {
        return match message {
            Some(message) if !message.is_empty() => format!("error code {code}: {message}"),
            _ => format!("error code {code} (unknown to this client)"),
        };
    };
    match message {
        Some(message) if !message.is_empty() => format!("{}: {message}", known.name()),
        // Without its final period, so a hint can follow after a semicolon.
        _ => format!(
            "{}: {}",
            known.name(),
            known.default_message().trim_end_matches('.')
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_are_named_with_the_brokers_message_first() {
        assert_eq!(
            kafka_error(105, None),
            "TRANSACTIONAL_ID_NOT_FOUND: The transactionalId could not be found"
        );
        assert_eq!(
            kafka_error(3, Some("no such topic orders")),
            "UNKNOWN_TOPIC_OR_PARTITION: no such topic orders"
        );
        assert_eq!(
            kafka_error(-7, None),
            "error code -7 (unknown to this client)"
        );
    }
}
