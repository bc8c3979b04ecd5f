//! Errors from connectors and the runtime, saying who is at fault and whether a retry
//! can help.
//!
//! One struct rather than an enum of causes: connectors wrap errors from many client
//! libraries, and what the runtime must decide — retry, route to the dead-letter topic,
//! or fail the task — depends only on the domain and the retry hint.

use std::error::Error as StdError;
use std::fmt;

/// Who is at fault for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The user's configuration or data: fix the pipeline or the record.
    User,
    /// An external system (a database, Redis, the Kafka cluster) failed or is away.
    External,
    /// A bug in Weir.
    Internal,
}

impl fmt::Display for ErrorDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorDomain::User => "user",
            ErrorDomain::External => "external",
            ErrorDomain::Internal => "internal",
        })
    }
}

/// Whether doing the same thing again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryHint {
    /// Transient: the runtime retries with backoff until `errors.retry.timeout`.
    Retry,
    /// Permanent for this input: retrying gives the same error.
    NoRetry,
}

/// An error from a connector, a converter, a transform or the runtime.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    domain: ErrorDomain,
    retry: RetryHint,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl ConnectError {
    /// A user error (bad config or bad data); not retried.
    pub fn user(message: impl Into<String>) -> ConnectError {
        ConnectError::new(ErrorDomain::User, RetryHint::NoRetry, message)
    }

    /// An external system failed; retried by default.
    pub fn external(message: impl Into<String>) -> ConnectError {
        ConnectError::new(ErrorDomain::External, RetryHint::Retry, message)
    }

    /// A bug in Weir; not retried.
    pub fn internal(message: impl Into<String>) -> ConnectError {
        ConnectError::new(ErrorDomain::Internal, RetryHint::NoRetry, message)
    }

    pub fn new(domain: ErrorDomain, retry: RetryHint, message: impl Into<String>) -> ConnectError {
        ConnectError {
            domain,
            retry,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> ConnectError {
        self.source = Some(Box::new(source));
        self
    }

    /// Marks the error as permanent.
    pub fn no_retry(mut self) -> ConnectError {
        self.retry = RetryHint::NoRetry;
        self
    }

    /// Marks the error as transient.
    pub fn retryable(mut self) -> ConnectError {
        self.retry = RetryHint::Retry;
        self
    }

    pub fn domain(&self) -> ErrorDomain {
        self.domain
    }

    pub fn retry_hint(&self) -> RetryHint {
        self.retry
    }

    pub fn is_retryable(&self) -> bool {
        self.retry == RetryHint::Retry
    }

    /// The message and every cause, `outer: inner: root`, for logs, task traces and
    /// dead-letter headers.
    pub fn chain(&self) -> String {
        let mut line = self.message.clone();
        let mut cause = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        while let Some(err) = cause {
            let text = err.to_string();
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = err.source();
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_every_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = ConnectError::external("cannot reach redis at 127.0.0.1:1").with_source(io);
        assert_eq!(err.chain(), "cannot reach redis at 127.0.0.1:1: refused");
        assert!(err.is_retryable());
        assert_eq!(err.domain(), ErrorDomain::External);
        assert!(!err.no_retry().is_retryable());
    }
}
