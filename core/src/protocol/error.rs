//! Why a buffer could not be decoded.

/// A malformed, truncated or unsupported message on the wire.
///
/// Every variant is an expected failure caused by the peer's bytes, never a bug in
/// Weir: the broker answers it with Kafka's error code (`CORRUPT_MESSAGE`,
/// `UNSUPPORTED_VERSION`, ...) or closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A length, count or fixed-size value needs more bytes than remain in the buffer.
    #[error("not enough bytes: needed {needed}, {remaining} remaining")]
    NotEnoughBytes {
        /// Bytes (or, for an array count, at least one byte per element) required.
        needed: usize,
        /// Bytes left in the buffer when the value was read.
        remaining: usize,
    },
    /// A negative length other than -1 (null).
    #[error("invalid length {0}: only -1 (null) may be negative")]
    InvalidLength(i64),
    /// A string that is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// An unsigned varint longer than 5 bytes, or a varlong longer than 10.
    #[error("varint is too long or overflows its type")]
    VarintOverflow,
    /// A message version outside the message's valid versions.
    #[error("{message} does not support version {version}")]
    UnsupportedVersion {
        /// The message's name, e.g. `ProduceRequest`.
        message: &'static str,
        /// The version that was asked for.
        version: i16,
    },
    /// An API key that Weir does not know.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// A null string, bytes or array where the version does not allow null.
    #[error("null value where the message version does not allow null")]
    NullNotAllowed,
    /// A known tagged field whose declared size does not match its content.
    #[error("tagged field {tag} has {extra} bytes beyond its value")]
    TaggedFieldSize {
        /// The tag of the field.
        tag: u32,
        /// Bytes left over after decoding the field's value.
        extra: usize,
    },
}
