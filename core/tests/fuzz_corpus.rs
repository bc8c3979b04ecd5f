//! Replays the fuzz corpus and every saved crash through the same entry points the
//! `cargo fuzz` targets call (`weir_core::fuzzing`), so a fixed crash stays fixed
//! without a fuzzer or a nightly toolchain. Also keeps hand-made inputs that ask the
//! decoders for huge allocations as named tests.
//!
//! The test binary runs under an allocator that aborts on any single allocation
//! above 128 MiB, as the fuzz targets do: a decoder that sizes a buffer from an
//! untrusted length fails here even when the machine could satisfy it.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use weir_core::broker::{FrameError, FrameReader, DEFAULT_REQUEST_MAX_BYTES};
use weir_core::fuzzing;
use weir_core::log::compression::{compress, decompress, CodecError, Compression};
use weir_core::protocol::messages::{ApiVersionsRequest, MetadataRequest};
use weir_core::protocol::{
    request_header_version, ApiKey, Decodable, DecodeError, RequestBody, RequestHeader,
};

// The fuzz targets' capped allocator, shared as source because the fuzz crate has a
// workspace of its own.
#[allow(unreachable_pub)]
#[path = "../fuzz/src/lib.rs"]
mod capped_allocator;

use capped_allocator::CappedAllocator;

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file of `corpus/<target>/` and `regressions/<target>/`.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("reading a corpus directory").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs each input through `run`, naming the file of the first that panics.
fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for the {target} target");
    for path in &files {
        let data = std::fs::read(path).expect("reading a corpus file");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{target}: {} fails", path.display());
        }
    }
}

#[test]
fn request_corpus_and_regressions_decode_without_panics() {
    replay("request", fuzzing::request);
}

#[test]
fn record_batch_corpus_and_regressions_parse_without_panics() {
    replay("record_batch", fuzzing::record_batch);
}

#[test]
fn txn_state_corpus_and_regressions_decode_without_panics() {
    replay("txn_state", fuzzing::txn_state);
}

#[test]
fn txn_state_seeds_are_what_the_broker_writes() {
    // Seeds the decoders reject would leave the fuzzer at their front door; these were
    // cut from a broker's own files after transactions committed and aborted.
    let seed = |name: &str| std::fs::read(fuzz_dir().join("corpus/txn_state").join(name)).unwrap();
    assert!(fuzzing::txn_state_decodes(&seed("snapshot-out2")).snapshot);
    assert!(fuzzing::txn_state_decodes(&seed("txn-value-ongoing")).txn_value);
    assert!(fuzzing::txn_state_decodes(&seed("txn-key")).txn_key);
    assert!(fuzzing::txn_state_decodes(&seed("marker-batch")).marker);
    assert!(fuzzing::txn_state_decodes(&seed("txnindex-out2")).txn_index_entries >= 3);
}

#[test]
fn frame_corpus_and_regressions_are_cut_without_panics() {
    replay("frame", fuzzing::frame);
}

#[test]
fn decompress_corpus_and_regressions_run_without_panics() {
    replay("decompress_gzip", fuzzing::decompress_gzip);
    replay("decompress_snappy", fuzzing::decompress_snappy);
    replay("decompress_lz4", fuzzing::decompress_lz4);
    replay("decompress_zstd", fuzzing::decompress_zstd);
}

#[test]
fn decompress_seeds_are_valid_compressed_data() {
    // Seeds the decompressors reject would leave the fuzzer at their front door.
    for (codec, target) in [
        (Compression::Gzip, "decompress_gzip"),
        (Compression::Snappy, "decompress_snappy"),
        (Compression::Lz4, "decompress_lz4"),
        (Compression::Zstd, "decompress_zstd"),
    ] {
        let dir = fuzz_dir().join("corpus").join(target);
        for entry in dir.read_dir().expect("a decompress corpus") {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            decompress(codec, &data, fuzzing::DECOMPRESSED_MAX)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn captured_client_requests_decode_completely() {
    // The seeds are real clients' requests: each must decode, or the fuzzer would
    // start from inputs the codec already rejects. Bytes after the body are allowed:
    // Kafka ignores them, and one captured librdkafka Metadata v12 carries three.
    let files: Vec<_> = fuzz_dir()
        .join("corpus/request")
        .read_dir()
        .expect("the request corpus")
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    assert!(files.len() >= 20, "only {} captured requests", files.len());
    for path in files {
        let mut frame = Bytes::from(std::fs::read(&path).expect("a corpus file"));
        let (api_key, version) = fuzzing::request_target(&frame).expect("a request");
        RequestHeader::decode(&mut frame, request_header_version(api_key, version))
            .unwrap_or_else(|e| panic!("{}: header: {e}", path.display()));
        RequestBody::decode(api_key, version, &mut frame)
            .unwrap_or_else(|e| panic!("{}: body: {e}", path.display()));
    }
}

/// A request frame body: API key, version, correlation id, then `rest` (client id
/// and, for flexible versions, the header's tagged fields, then the body).
fn request_frame(api_key: ApiKey, version: i16, rest: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&(api_key as i16).to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(rest);
    frame
}

fn decode_request(frame: &[u8]) -> Result<RequestBody, DecodeError> {
    let (api_key, version) = fuzzing::request_target(frame).expect("a request");
    let mut buf = Bytes::copy_from_slice(frame);
    RequestHeader::decode(&mut buf, request_header_version(api_key, version))?;
    RequestBody::decode(api_key, version, &mut buf)
}

#[test]
fn array_count_of_two_billion_with_ten_bytes_of_data_is_rejected() {
    // Metadata v1: null client id, then a topics array claiming 2^31-1 entries.
    let mut rest = vec![0xff, 0xff, 0x7f, 0xff, 0xff, 0xff];
    rest.extend_from_slice(&[0; 10]);
    let frame = request_frame(ApiKey::Metadata, 1, &rest);
    assert_eq!(
        decode_request(&frame),
        Err(DecodeError::NotEnoughBytes {
            needed: 0x7fff_ffff,
            remaining: 10
        })
    );
    fuzzing::request(&frame);
}

#[test]
fn string_length_32767_with_two_bytes_of_data_is_rejected() {
    // The header's client id claims 32767 bytes; two follow.
    let frame = request_frame(ApiKey::ApiVersions, 0, &[0x7f, 0xff, b'a', b'b']);
    assert_eq!(
        decode_request(&frame),
        Err(DecodeError::NotEnoughBytes {
            needed: 0x7fff,
            remaining: 2
        })
    );
    fuzzing::request(&frame);
}

#[test]
fn compact_lengths_of_u32_max_are_rejected() {
    // The unsigned varint 0xFFFFFFFF, as a compact array count and as a compact
    // string length, in flexible versions (header v2: client id, empty tag buffer).
    let varint = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let mut metadata = vec![0x00, 0x00, 0x00];
    metadata.extend_from_slice(&varint);
    metadata.extend_from_slice(&[0; 6]);
    let frame = request_frame(ApiKey::Metadata, 9, &metadata);
    assert!(matches!(
        decode_request(&frame),
        Err(DecodeError::NotEnoughBytes { .. })
    ));
    fuzzing::request(&frame);

    let mut body = Bytes::from([&varint[..], b"weir"].concat());
    assert!(matches!(
        ApiVersionsRequest::decode(&mut body, 3),
        Err(DecodeError::NotEnoughBytes { .. })
    ));
    let mut topics = Bytes::from([&varint[..], &[0; 4]].concat());
    assert!(MetadataRequest::decode(&mut topics, 12).is_err());
}

#[test]
fn a_two_gibibyte_frame_is_refused_before_the_buffer_grows() {
    let reader = FrameReader::new(DEFAULT_REQUEST_MAX_BYTES);
    // 2 GiB - 1, the largest size an i32 prefix can state.
    let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0, 0][..]);
    assert_eq!(
        reader.next_frame(&mut buf),
        Err(FrameError::TooLarge {
            size: 0x7fff_ffff,
            max: DEFAULT_REQUEST_MAX_BYTES
        })
    );
    assert!(buf.capacity() < 1024, "grew to {}", buf.capacity());
    // 2 GiB exactly does not fit an i32: it reads as negative.
    let mut buf = BytesMut::from(&[0x80, 0, 0, 0][..]);
    assert_eq!(
        reader.next_frame(&mut buf),
        Err(FrameError::NegativeSize(i32::MIN))
    );
    // Through the fuzz entry point: cap 255 bytes, then the 2 GiB prefix.
    fuzzing::frame(&[0xff, 0x01, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
}

#[test]
fn a_snappy_block_declaring_four_gibibytes_is_refused_before_allocating() {
    // A raw block's length prefix (varint 0xFFFFFFFF), then a few bytes; and the
    // same inside xerial framing.
    let raw = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x01, 0x02];
    assert!(matches!(
        decompress(Compression::Snappy, &raw, fuzzing::DECOMPRESSED_MAX),
        Err(CodecError::TooLarge { .. })
    ));
    let mut xerial = vec![
        0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
    ];
    xerial.extend_from_slice(&(raw.len() as i32).to_be_bytes());
    xerial.extend_from_slice(&raw);
    assert!(matches!(
        decompress(Compression::Snappy, &xerial, fuzzing::DECOMPRESSED_MAX),
        Err(CodecError::TooLarge { .. })
    ));
    fuzzing::decompress_snappy(&raw);
    fuzzing::decompress_snappy(&xerial);
}

#[test]
fn decompression_bombs_stop_at_the_cap() {
    // 4 MiB of zeros packs into a few KiB with every codec; each must stop at the
    // 1 MiB cap instead of inflating it.
    let zeros = vec![0u8; 4 << 20];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bomb = compress(codec, &zeros).unwrap();
        assert!(bomb.len() < 1 << 20, "{codec:?}: {} bytes", bomb.len());
        assert!(
            matches!(
                decompress(codec, &bomb, fuzzing::DECOMPRESSED_MAX),
                Err(CodecError::TooLarge { .. })
            ),
            "{codec:?}"
        );
        fuzzing::decompress(codec, &bomb);
    }
}
