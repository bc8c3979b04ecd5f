//! API keys and the header version each request and response uses.

use super::VersionRange;

include!(concat!(env!("OUT_DIR"), "/api_key.rs"));

/// The request header version for a request: 2 if the request version is flexible,
/// else 1. (Header v0 is only used by ControlledShutdown v0, which Weir does not serve.)
pub fn request_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    match api_key.request_flexible_since() {
        Some(first) if api_version >= first => 2,
        _ => 1,
    }
}

/// The response header version for a response: 1 if the response version is
/// flexible, else 0.
///
/// ApiVersions responses always use header v0 (KIP-511): a client that sent a
/// version the broker does not know must still be able to read the error and the
/// broker's supported versions.
pub fn response_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        return 0;
    }
    match api_key.response_flexible_since() {
        Some(first) if api_version >= first => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_requests_use_header_v2() {
        assert_eq!(request_header_version(ApiKey::Produce, 8), 1);
        assert_eq!(request_header_version(ApiKey::Produce, 9), 2);
        assert_eq!(request_header_version(ApiKey::Metadata, 8), 1);
        assert_eq!(request_header_version(ApiKey::Metadata, 9), 2);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
        assert_eq!(request_header_version(ApiKey::OffsetDelete, 0), 1);
    }

    #[test]
    fn flexible_responses_use_header_v1() {
        assert_eq!(response_header_version(ApiKey::Fetch, 11), 0);
        assert_eq!(response_header_version(ApiKey::Fetch, 12), 1);
        assert_eq!(response_header_version(ApiKey::OffsetDelete, 0), 0);
    }

    #[test]
    fn api_versions_responses_always_use_header_v0() {
        for v in 0..=4 {
            assert_eq!(response_header_version(ApiKey::ApiVersions, v), 0);
        }
    }

    #[test]
    fn api_keys_round_trip_through_i16() {
        for &key in ApiKey::ALL {
            assert_eq!(ApiKey::from_i16(key as i16), Some(key));
            assert!(key.valid_versions().contains(key.valid_versions().max));
        }
        assert_eq!(ApiKey::from_i16(-1), None);
        assert_eq!(ApiKey::from_i16(10_000), None);
        assert_eq!(ApiKey::Produce.name(), "Produce");
        assert_eq!(ApiKey::ApiVersions as i16, 18);
    }
}
