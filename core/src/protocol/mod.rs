//! The Kafka wire protocol, sans-IO: message structs and their codec, generated at
//! build time from Apache Kafka's JSON message definitions in `core/kafka-specs/`.
//!
//! Nothing here reads a socket. A caller hands a frame body to [`RequestHeader`] and
//! [`RequestBody::decode`] and gets typed messages back; it encodes responses into a
//! `BytesMut`. Decoding is bounded (see [`Decodable`]) and `records` stay `Bytes`
//! sharing the frame's storage.
//!
//! ```
//! use bytes::BytesMut;
//! use weir_core::protocol::messages::ApiVersionsRequest;
//! use weir_core::protocol::{ApiKey, Encodable, RequestBody};
//!
//! let request = ApiVersionsRequest {
//!     client_software_name: "weir".into(),
//!     client_software_version: "0.1.0".into(),
//!     ..Default::default()
//! };
//! let mut buf = BytesMut::new();
//! request.encode(&mut buf, 3);
//! let body = RequestBody::decode(ApiKey::ApiVersions, 3, &mut buf.freeze()).unwrap();
//! assert_eq!(body, RequestBody::ApiVersions(request));
//! ```

mod api_key;
mod body;
mod error;
mod error_code;
pub mod messages;
mod primitives;
mod tagged;
mod traits;
mod uuid;
pub mod varint;

pub use api_key::{request_header_version, response_header_version, ApiKey};
pub use body::{RequestBody, ResponseBody};
pub use error::DecodeError;
pub use error_code::ErrorCode;
pub use messages::{RequestHeader, ResponseHeader};
pub use primitives::put_bytes_length;
pub use tagged::RawTaggedField;
pub use traits::{Decodable, Encodable, Message, Request, VersionRange};
pub use uuid::Uuid;
