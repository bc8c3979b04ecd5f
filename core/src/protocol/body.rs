//! Request and response bodies dispatched by API key.

use bytes::{Bytes, BytesMut};

use super::messages::*;
use super::{ApiKey, Decodable, DecodeError, Encodable};

include!(concat!(env!("OUT_DIR"), "/body.rs"));
