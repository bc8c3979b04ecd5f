//! Hostile input: lengths and counts that lie, truncated frames and random bytes must
//! produce errors, never panics or allocations sized by the attacker.

use bytes::Bytes;
use weir_core::protocol::messages::{MetadataRequest, ProduceRequest, RequestHeader};
use weir_core::protocol::{ApiKey, Decodable, DecodeError, RequestBody, ResponseBody};

#[test]
fn eight_byte_body_claiming_two_billion_topics_is_rejected() {
    let mut body = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(
        MetadataRequest::decode(&mut body, 1),
        Err(DecodeError::NotEnoughBytes {
            needed: 0x7fff_ffff,
            remaining: 4
        })
    );
}

#[test]
fn string_length_beyond_the_buffer_is_rejected() {
    // ProduceRequest v3: transactional id claims 32767 bytes, 3 follow.
    let mut body = Bytes::from_static(&[0x7f, 0xff, b'a', b'b', b'c']);
    assert_eq!(
        ProduceRequest::decode(&mut body, 3),
        Err(DecodeError::NotEnoughBytes {
            needed: 0x7fff,
            remaining: 3
        })
    );
}

#[test]
fn compact_array_of_u32_max_elements_is_rejected() {
    // MetadataRequest v9 (flexible): topics is a compact array.
    let mut body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]);
    assert!(matches!(
        MetadataRequest::decode(&mut body, 9),
        Err(DecodeError::NotEnoughBytes { .. })
    ));
}

#[test]
fn overlong_varint_is_rejected() {
    let mut body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0]);
    assert_eq!(
        MetadataRequest::decode(&mut body, 9),
        Err(DecodeError::VarintOverflow)
    );
}

#[test]
fn negative_array_length_other_than_null_is_rejected() {
    let mut body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(
        MetadataRequest::decode(&mut body, 1),
        Err(DecodeError::InvalidLength(-2))
    );
}

#[test]
fn unsupported_versions_are_reported_with_the_message_name() {
    let err = RequestBody::decode(ApiKey::Produce, 99, &mut Bytes::new()).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnsupportedVersion {
            message: "ProduceRequest",
            version: 99
        }
    );
    assert_eq!(
        err.to_string(),
        "ProduceRequest does not support version 99"
    );
}

/// Marsaglia's xorshift64: deterministic, no extra crates.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, max_len: usize) -> Bytes {
        let len = (self.next() % (max_len as u64 + 1)) as usize;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            // Bias towards small values and 0xff so lengths and counts are often
            // plausible, null, or huge.
            let r = self.next();
            out.push(match r % 4 {
                0 => 0,
                1 => 0xff,
                2 => (r >> 8) as u8 % 4,
                _ => (r >> 8) as u8,
            });
        }
        Bytes::from(out)
    }
}

#[test]
fn random_bytes_never_panic_any_decoder_at_any_version() {
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    let mut decoded = 0usize;
    for _ in 0..3_000 {
        let input = rng.bytes(96);
        for &key in ApiKey::ALL {
            let versions = key.valid_versions();
            for version in versions.min - 1..=versions.max + 1 {
                let mut buf = input.clone();
                if RequestBody::decode(key, version, &mut buf).is_ok() {
                    decoded += 1;
                }
                let mut buf = input.clone();
                let _ = ResponseBody::decode(key, version, &mut buf);
            }
        }
        for version in 0..=2 {
            let _ = RequestHeader::decode(&mut input.clone(), version);
        }
    }
    // Some random inputs are valid messages (many bodies are tiny); the point is
    // that the loop finished without a panic.
    assert!(decoded > 0);
}
