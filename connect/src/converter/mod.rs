//! Converters between the bytes in the log and [`Data`]: `json`, `string`, `bytes`.

use std::fmt;

use bytes::Bytes;

use crate::{ConnectError, Data};

/// Turns keys or values into bytes for the log and back.
pub trait Converter: Send + Sync + fmt::Debug {
    /// Bytes for the log; `None` for a null key or a tombstone.
    fn serialize(&self, topic: &str, data: &Data) -> Result<Option<Bytes>, ConnectError>;

    /// Data from the log; `bytes` is `None` for a null key or a tombstone.
    fn deserialize(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Data, ConnectError>;
}
