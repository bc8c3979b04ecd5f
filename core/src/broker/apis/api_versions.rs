use bytes::BytesMut;

use super::versions::SUPPORTED;
use super::RequestContext;
use crate::protocol::messages::api_versions_response::ApiVersion;
use crate::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use crate::protocol::{ApiKey, ErrorCode};

pub(super) fn handle(_ctx: &RequestContext, _request: ApiVersionsRequest) -> ApiVersionsResponse {
    response(ErrorCode::None)
}

/// The v0 answer to an ApiVersions version this broker does not know (KIP-511).
pub(super) fn unsupported_version(correlation_id: i32, peer: std::net::SocketAddr) -> BytesMut {
    let ctx = RequestContext {
        api_key: ApiKey::ApiVersions,
        version: 0,
        correlation_id,
        client_id: None,
        peer,
    };
    ctx.encode(&response(ErrorCode::UnsupportedVersion))
}

fn response(error: ErrorCode) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: error.code(),
        api_keys: SUPPORTED
            .iter()
            .map(|&(key, min, max)| ApiVersion {
                api_key: key as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
