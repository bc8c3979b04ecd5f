//! What every generated message implements.

use bytes::{Bytes, BytesMut};

use super::{ApiKey, DecodeError};

/// A range of message versions, both ends inclusive (Kafka's `"validVersions"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// The lowest supported version.
    pub min: i16,
    /// The highest supported version.
    pub max: i16,
}

impl VersionRange {
    /// Whether `v` lies in the range.
    pub fn contains(&self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }
}

/// Writes a value in the layout of one message version.
///
/// Infallible: a field that does not exist in `version` is simply not written, so
/// the caller picks a version both sides support and fills the fields it has. A
/// `None` in a version where the field is not nullable is still written as null (the
/// peer rejects it); lengths beyond what a prefix can express are the caller's bug.
pub trait Encodable {
    /// Appends the encoding of `self` at `version` to `buf`.
    fn encode(&self, buf: &mut BytesMut, version: i16);
}

/// Reads a value in the layout of one message version.
///
/// Bounded: every length and count is checked against the bytes left in `buf`
/// before anything is allocated, and no input makes it panic. On success `buf` is
/// advanced past the value; `bytes` and `records` fields share its storage.
pub trait Decodable: Sized {
    /// Decodes one value at `version` from the front of `buf`.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
}

/// A top-level message generated from one of Kafka's JSON definitions.
pub trait Message: Encodable + Decodable + Default + Clone + std::fmt::Debug {
    /// The definition's name, e.g. `ProduceRequest`.
    const NAME: &'static str;
    /// The versions the definition declares valid.
    const VERSIONS: VersionRange;
    /// The first flexible version (compact encodings, tagged fields), if any.
    const FLEXIBLE: Option<i16>;
}

/// A request message, tied to its API key and response type.
pub trait Request: Message {
    /// The API key the request is sent under.
    const API_KEY: ApiKey;
    /// The message the broker answers with.
    type Response: Message;
}
