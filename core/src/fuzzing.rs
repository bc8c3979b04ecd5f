//! Entry points shared by the `cargo fuzz` targets in `core/fuzz/` and the corpus
//! replay test (`core/tests/fuzz_corpus.rs`), so that a crash found by the fuzzer and
//! its regression test run exactly the same code.
//!
//! Each function takes arbitrary bytes and must return without panicking, whatever
//! they hold; the fuzzer additionally fails a run that allocates more than its
//! limit. Functions assert the invariants the decoders promise (a frame never grows
//! the buffer past its cap, a batch iterator only yields slices of its input), so a
//! broken promise is a crash too.
//!
//! Not part of Weir's API: hidden from the docs and free to change.

use bytes::{Buf, Bytes, BytesMut};

use crate::broker::FrameReader;
use crate::log::batch::record::RecordIter;
use crate::log::batch::{self, records::RecordPositions, BatchIter, HEADER_SIZE};
use crate::log::compression::{self, CodecError, Compression};
use crate::protocol::{
    request_header_version, ApiKey, Decodable, Encodable, RequestBody, RequestHeader,
};

/// Picks the API key and version a request input is decoded as.
///
/// The input is a request frame body as a client sends it (what the size prefix
/// covers): API key and version (two big-endian `i16`), then the rest of the header
/// and the body. Captured client traffic is therefore a valid input as it is. A key
/// or version the codec does not know is mapped onto a known one, so that every
/// mutation the fuzzer makes still reaches a decoder.
pub fn request_target(data: &[u8]) -> Option<(ApiKey, i16)> {
    let prefix = data.get(..4)?;
    let raw_key = i16::from_be_bytes([prefix[0], prefix[1]]);
    let raw_version = i16::from_be_bytes([prefix[2], prefix[3]]);
    let all = ApiKey::ALL;
    let api_key = ApiKey::from_i16(raw_key)
        .unwrap_or_else(|| all[usize::from(raw_key.unsigned_abs()) % all.len()]);
    let range = api_key.valid_versions();
    let version = if range.contains(raw_version) {
        raw_version
    } else {
        let span = i32::from(range.max) - i32::from(range.min) + 1;
        let offset = i32::from(raw_version).rem_euclid(span);
        i16::try_from(i32::from(range.min) + offset).expect("within the valid range")
    };
    Some((api_key, version))
}

/// Decodes `data` as a request the way the broker does: header, then body. A body
/// that decodes is encoded again, and that encoding must decode and re-encode to
/// itself, which catches an encoder and decoder that disagree on a layout.
///
/// The check is on encodings rather than decoded values because decoding keeps
/// unknown tagged fields in wire order while encoding writes them in ascending tag
/// order, as Kafka requires: a peer sending them out of order gets them back sorted.
pub fn request(data: &[u8]) {
    let Some((api_key, version)) = request_target(data) else {
        return;
    };
    let mut frame = Bytes::copy_from_slice(data);
    let header_version = request_header_version(api_key, version);
    if RequestHeader::decode(&mut frame, header_version).is_err() {
        return;
    }
    let Ok(body) = RequestBody::decode(api_key, version, &mut frame) else {
        return;
    };
    let name = api_key.name();
    let mut encoded = BytesMut::new();
    body.encode(&mut encoded, version);
    let encoded = encoded.freeze();
    let mut rest = encoded.clone();
    let again = RequestBody::decode(api_key, version, &mut rest)
        .unwrap_or_else(|error| panic!("{name} v{version}: re-encoded body fails: {error}"));
    assert!(
        rest.is_empty(),
        "{name} v{version}: re-encoding leaves bytes"
    );
    let mut twice = BytesMut::new();
    again.encode(&mut twice, version);
    assert_eq!(twice, encoded, "{name} v{version}: encoding is not stable");
}

/// The decompression cap of the fuzz entries: small, so that inputs reach both
/// sides of it.
pub const DECOMPRESSED_MAX: usize = 1 << 20;

/// Runs concatenated record batches through everything the log does with bytes it
/// did not write: the iteration a fetch or recovery does, the recovery check, the
/// append validation at every batch boundary, the record walk of timestamp lookups,
/// and the cleaner's decompression and record parsing.
pub fn record_batch(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    let mut batches = BatchIter::new(buf.clone());
    let mut end = 0;
    for found in batches.by_ref() {
        assert!(found.bytes.len() >= HEADER_SIZE);
        assert_eq!(found.bytes.len(), found.header.total_size());
        assert_eq!(&found.bytes[..], &data[end..end + found.bytes.len()]);
        end += found.bytes.len();
        let _ = found.header.last_offset();
        let _ = found.header.timestamp_type();
        let _ = batch::check_stored(&found.bytes);
        if let Some(records) = RecordPositions::new(&found.bytes) {
            // A hostile recordsCount must not make the walk outlast the bytes.
            assert!(records.count() <= found.bytes.len());
        }
        let Some(codec) = Compression::from_attributes(found.header.attributes) else {
            continue;
        };
        let section = found.bytes.slice(HEADER_SIZE..);
        let section = match compression::decompress(codec, &section, DECOMPRESSED_MAX) {
            Ok(plain) => Bytes::from(plain),
            Err(_) => continue,
        };
        let limit = section.len();
        let parsed = RecordIter::new(section, found.header.records_count)
            .take(limit + 2)
            .count();
        // Every record takes at least one byte; at most one error ends the walk.
        assert!(parsed <= limit + 1, "{parsed} records in {limit} bytes");
    }
    assert_eq!(batches.position(), end);

    // The append path validates batch after batch until one fails.
    let mut position = 0;
    while position < data.len() {
        match batch::validate(&data[position..], position, 1 << 20) {
            Ok(header) => {
                assert!(header.total_size() >= HEADER_SIZE);
                position += header.total_size();
            }
            Err(_) => break,
        }
    }
    assert!(position <= data.len());
}

/// Decompresses `data` as a records section compressed with `codec`, under the cap
/// [`DECOMPRESSED_MAX`]. Whatever decompresses must stay under the cap, and must
/// come back unchanged from Weir's own compressor (which the cleaner uses to
/// rewrite batches).
pub fn decompress(codec: Compression, data: &[u8]) {
    match compression::decompress(codec, data, DECOMPRESSED_MAX) {
        Ok(plain) => {
            assert!(plain.len() <= DECOMPRESSED_MAX);
            let packed = compression::compress(codec, &plain)
                .unwrap_or_else(|error| panic!("compressing what {codec:?} gave: {error}"));
            let back = compression::decompress(codec, &packed, DECOMPRESSED_MAX)
                .unwrap_or_else(|error| panic!("{codec:?} does not read its own output: {error}"));
            assert_eq!(back, plain, "{codec:?} round trip");
        }
        Err(CodecError::TooLarge { .. } | CodecError::Malformed { .. }) => {}
        Err(error) => panic!("{codec:?} decompression failed unexpectedly: {error}"),
    }
}

/// [`decompress`] with gzip.
pub fn decompress_gzip(data: &[u8]) {
    decompress(Compression::Gzip, data);
}

/// [`decompress`] with snappy, raw blocks or xerial framing.
pub fn decompress_snappy(data: &[u8]) {
    decompress(Compression::Snappy, data);
}

/// [`decompress`] with the LZ4 frame format.
pub fn decompress_lz4(data: &[u8]) {
    decompress(Compression::Lz4, data);
}

/// [`decompress`] with zstd.
pub fn decompress_zstd(data: &[u8]) {
    decompress(Compression::Zstd, data);
}

/// Feeds `data` to a [`FrameReader`] in chunks of arbitrary sizes, as a socket would
/// deliver it.
///
/// The first byte picks the frame size cap (up to 255 bytes, so that both sides of
/// the cap are reached), the second seeds the chunk sizes; the rest is the stream.
/// Every frame cut must be exactly the bytes its prefix announced, and the read
/// buffer must never grow beyond what the cap allows, whatever a size prefix claims.
pub fn frame(data: &[u8]) {
    let mut input = Bytes::copy_from_slice(data);
    if input.len() < 2 {
        return;
    }
    let max_size = usize::from(input.get_u8());
    let mut chunk_seed = input.get_u8();
    let stream = input;
    let reader = FrameReader::new(max_size);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut consumed = 0;
    // The largest buffer a well-behaved reader may need: one whole frame plus the
    // largest chunk read after it, doubled for BytesMut's growth policy.
    let capacity_bound = 2 * (4 + max_size + 256) + 64;
    while fed < stream.len() {
        let chunk = (usize::from(chunk_seed) % 17 + 1).min(stream.len() - fed);
        chunk_seed = chunk_seed.wrapping_mul(31).wrapping_add(7);
        buf.extend_from_slice(&stream[fed..fed + chunk]);
        fed += chunk;
        loop {
            match reader.next_frame(&mut buf) {
                Ok(Some(body)) => {
                    assert!(body.len() <= max_size);
                    let size = u32::try_from(body.len()).expect("capped").to_be_bytes();
                    assert_eq!(&stream[consumed..consumed + 4], &size[..]);
                    assert_eq!(&stream[consumed + 4..consumed + 4 + body.len()], &body[..]);
                    consumed += 4 + body.len();
                }
                Ok(None) => break,
                Err(_) => {
                    // The connection closes here; nothing more is read.
                    assert!(buf.capacity() <= capacity_bound, "{}", buf.capacity());
                    return;
                }
            }
            assert_eq!(consumed + buf.len(), fed);
        }
        assert!(buf.capacity() <= capacity_bound, "{}", buf.capacity());
    }
}

/// The decoders of transaction state, each fed the same bytes: a `__transaction_state`
/// key and value, a producer state snapshot, an aborted-transaction index, and a
/// control batch's marker. What decodes must encode back to what decodes the same.
pub fn txn_state(data: &[u8]) {
    let _ = crate::txn::records::decode_key(data);
    if let Ok(meta) = crate::txn::records::decode_value("t".into(), data) {
        let again = crate::txn::records::encode_value(&meta);
        let back = crate::txn::records::decode_value("t".into(), &again)
            .expect("an encoded value decodes");
        assert_eq!(
            back, meta,
            "a transaction value changed through a round trip"
        );
    }
    if let Ok(entries) = crate::log::producer::snapshot::decode(data) {
        let again = crate::log::producer::snapshot::encode(entries.iter());
        let back =
            crate::log::producer::snapshot::decode(&again).expect("an encoded snapshot decodes");
        assert_eq!(back.len(), entries.len());
    }
    let entries = crate::log::txn_index::decode_entries(data);
    assert!(entries.len() * 34 <= data.len());
    let bytes = Bytes::copy_from_slice(data);
    let _ = crate::log::batch::control::parse_marker(&bytes);
}

/// Which of [`txn_state`]'s decoders accept `data`, for checking the seeds.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxnStateDecodes {
    pub txn_key: bool,
    pub txn_value: bool,
    pub snapshot: bool,
    pub txn_index_entries: usize,
    pub marker: bool,
}

pub fn txn_state_decodes(data: &[u8]) -> TxnStateDecodes {
    TxnStateDecodes {
        txn_key: crate::txn::records::decode_key(data).is_ok(),
        txn_value: crate::txn::records::decode_value("t".into(), data).is_ok(),
        snapshot: crate::log::producer::snapshot::decode(data).is_ok(),
        txn_index_entries: crate::log::txn_index::decode_entries(data).len(),
        marker: crate::log::batch::control::parse_marker(&Bytes::copy_from_slice(data)).is_some(),
    }
}
