//! Known byte vectors: frames as real clients send them, decoded and re-encoded.

use bytes::{Bytes, BytesMut};
use weir_core::protocol::messages::{
    produce_request, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, ProduceRequest,
};
use weir_core::protocol::{
    request_header_version, response_header_version, ApiKey, Decodable, DecodeError, Encodable,
    RequestBody, RequestHeader, ResponseHeader,
};

fn encode<T: Encodable>(value: &T, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    value.encode(&mut buf, version);
    buf.to_vec()
}

/// Decodes a request frame body (header then body) the way the broker does.
fn decode_request(frame: &[u8]) -> Result<(RequestHeader, RequestBody, Bytes), DecodeError> {
    let mut buf = Bytes::copy_from_slice(frame);
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let api_version = i16::from_be_bytes([frame[2], frame[3]]);
    let key = ApiKey::from_i16(api_key).ok_or(DecodeError::UnknownApiKey(api_key))?;
    let header = RequestHeader::decode(&mut buf, request_header_version(key, api_version))?;
    let body = RequestBody::decode(key, api_version, &mut buf)?;
    Ok((header, body, buf))
}

/// ApiVersionsRequest v3 as librdkafka sends it: header v2 with the classic int16
/// client id, an empty tagged-field buffer, then compact strings in the body.
const RDKAFKA_API_VERSIONS_V3: &[u8] = &[
    0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, // key 18, v3, correlation id 1
    0x00, 0x07, b'r', b'd', b'k', b'a', b'f', b'k', b'a', // client id "rdkafka"
    0x00, // header tagged fields
    0x0b, b'l', b'i', b'b', b'r', b'd', b'k', b'a', b'f', b'k', b'a', // "librdkafka"
    0x06, b'2', b'.', b'3', b'.', b'0', // "2.3.0"
    0x00, // body tagged fields
];

#[test]
fn librdkafka_api_versions_v3_request_decodes_and_re_encodes_identically() {
    let (header, body, rest) = decode_request(RDKAFKA_API_VERSIONS_V3).unwrap();
    assert!(rest.is_empty());
    assert_eq!(header.request_api_key, 18);
    assert_eq!(header.request_api_version, 3);
    assert_eq!(header.correlation_id, 1);
    assert_eq!(header.client_id.as_deref(), Some("rdkafka"));
    let RequestBody::ApiVersions(request) = &body else {
        panic!("decoded {body:?}");
    };
    assert_eq!(request.client_software_name, "librdkafka");
    assert_eq!(request.client_software_version, "2.3.0");

    let mut again = encode(&header, 2);
    again.extend(encode(&body, 3));
    assert_eq!(again, RDKAFKA_API_VERSIONS_V3);
}

#[test]
fn every_prefix_of_the_librdkafka_frame_fails_to_decode() {
    for len in 4..RDKAFKA_API_VERSIONS_V3.len() {
        assert!(
            decode_request(&RDKAFKA_API_VERSIONS_V3[..len]).is_err(),
            "prefix {len}"
        );
    }
}

#[test]
fn metadata_v1_null_topics_means_all_topics() {
    let frame = [
        0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, // key 3, v1, correlation id 7
        0x00, 0x07, b'r', b'd', b'k', b'a', b'f', b'k', b'a', // client id
        0xff, 0xff, 0xff, 0xff, // topics: null
    ];
    let (header, body, _) = decode_request(&frame).unwrap();
    assert_eq!(header.correlation_id, 7);
    assert_eq!(
        body,
        RequestBody::Metadata(MetadataRequest {
            topics: None,
            ..Default::default()
        })
    );
    assert_eq!(encode(&body, 1), [0xff, 0xff, 0xff, 0xff]);
}

#[test]
fn metadata_v0_does_not_allow_null_topics() {
    let mut body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        MetadataRequest::decode(&mut body, 0),
        Err(DecodeError::NullNotAllowed)
    );
}

#[test]
fn produce_v3_records_are_the_input_bytes_not_a_copy() {
    let records = b"\x00\x00\x00\x00\x00\x00\x00\x00opaque-batch";
    let mut body = vec![
        0xff, 0xff, // transactional id: null
        0xff, 0xff, // acks: -1
        0x00, 0x00, 0x75, 0x30, // timeout 30000 ms
        0x00, 0x00, 0x00, 0x01, // one topic
        0x00, 0x04, b't', b'e', b's', b't', // "test"
        0x00, 0x00, 0x00, 0x01, // one partition
        0x00, 0x00, 0x00, 0x02, // partition 2
    ];
    body.extend_from_slice(&(records.len() as i32).to_be_bytes());
    let records_at = body.len();
    body.extend_from_slice(records);

    let input = Bytes::from(body.clone());
    let mut buf = input.clone();
    let request = ProduceRequest::decode(&mut buf, 3).unwrap();
    assert!(buf.is_empty());
    assert_eq!(request.transactional_id, None);
    assert_eq!(request.acks, -1);
    assert_eq!(request.timeout_ms, 30_000);
    let partition: &produce_request::PartitionProduceData =
        &request.topic_data[0].partition_data[0];
    assert_eq!(request.topic_data[0].name, "test");
    assert_eq!(partition.index, 2);
    let decoded = partition.records.as_ref().unwrap();
    assert_eq!(&decoded[..], records);
    // Zero-copy: the records are a view into the frame, at the same address.
    assert_eq!(
        decoded.as_ptr() as usize,
        input.as_ptr() as usize + records_at
    );
    assert_eq!(encode(&request, 3), body);
}

#[test]
fn empty_but_present_record_set_is_some_empty() {
    let body = [
        0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, // null txn id, acks 1, 1000 ms
        0x00, 0x00, 0x00, 0x01, 0x00, 0x01, b't', // one topic "t"
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // one partition, index 0
        0x00, 0x00, 0x00, 0x00, // records: zero bytes
    ];
    let request = ProduceRequest::decode(&mut Bytes::copy_from_slice(&body), 3).unwrap();
    assert_eq!(
        request.topic_data[0].partition_data[0].records,
        Some(Bytes::new())
    );
}

#[test]
fn tagged_fields_are_written_only_when_they_differ_from_default() {
    let response = ApiVersionsResponse::default();
    assert_eq!(response.finalized_features_epoch, -1);
    // error code, empty compact api_keys, throttle time, no tagged fields.
    assert_eq!(encode(&response, 3), [0, 0, 1, 0, 0, 0, 0, 0]);

    let response = ApiVersionsResponse {
        finalized_features_epoch: 5,
        ..Default::default()
    };
    let bytes = encode(&response, 3);
    assert_eq!(
        bytes,
        [0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]
    );
    let decoded = ApiVersionsResponse::decode(&mut Bytes::from(bytes), 3).unwrap();
    assert_eq!(decoded, response);
    assert!(decoded.unknown_tagged_fields.is_empty());
}

#[test]
fn unknown_tagged_fields_survive_a_round_trip() {
    // ApiVersionsRequest v3 body with tagged field 7 = [0xab, 0xcd].
    let body = [0x01, 0x01, 0x01, 0x07, 0x02, 0xab, 0xcd];
    let request = ApiVersionsRequest::decode(&mut Bytes::copy_from_slice(&body), 3).unwrap();
    assert_eq!(request.unknown_tagged_fields.len(), 1);
    assert_eq!(request.unknown_tagged_fields[0].tag, 7);
    assert_eq!(&request.unknown_tagged_fields[0].data[..], [0xab, 0xcd]);
    assert_eq!(encode(&request, 3), body);
}

#[test]
fn response_headers_follow_the_negotiated_version() {
    let header = ResponseHeader {
        correlation_id: 9,
        ..Default::default()
    };
    assert_eq!(
        encode(&header, response_header_version(ApiKey::Metadata, 12)),
        [0, 0, 0, 9, 0]
    );
    assert_eq!(
        encode(&header, response_header_version(ApiKey::Metadata, 8)),
        [0, 0, 0, 9]
    );
    assert_eq!(
        encode(&header, response_header_version(ApiKey::ApiVersions, 4)),
        [0, 0, 0, 9]
    );
}

#[test]
fn request_header_versions_follow_flexibility() {
    assert_eq!(request_header_version(ApiKey::ApiVersions, 2), 1);
    assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
    assert_eq!(request_header_version(ApiKey::Fetch, 11), 1);
    assert_eq!(request_header_version(ApiKey::Fetch, 12), 2);
    assert_eq!(request_header_version(ApiKey::CreateTopics, 5), 2);
    assert_eq!(response_header_version(ApiKey::CreateTopics, 4), 0);
    assert_eq!(response_header_version(ApiKey::CreateTopics, 5), 1);
    assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
}

#[test]
fn unknown_api_key_is_not_in_the_enum() {
    assert_eq!(ApiKey::from_i16(1000), None);
    assert_eq!(
        DecodeError::UnknownApiKey(1000).to_string(),
        "unknown API key 1000"
    );
}
