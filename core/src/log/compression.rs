//! The record batch compression codecs (attributes bits 0-2): decompressing a batch's
//! records section, and compressing one when the cleaner rewrites a batch.
//!
//! The produce and fetch paths never come here: batches are stored and served as
//! produced. Only the log cleaner looks inside compressed batches.
//!
//! Decompression is always bounded by a caller-given cap: output beyond it is an error,
//! and the output buffer never asks for more than the cap + 1 bytes. Streaming decoders
//! are read through [`Read::take`]; a raw snappy block's declared length is checked
//! against the cap before its output is allocated.
//!
//! Snappy comes in two framings. librdkafka and most non-Java clients send a raw snappy
//! block; Java clients send xerial's `SnappyOutputStream` framing:
//!
//! ```text
//! 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   magic (8 bytes)
//! i32 version, i32 compatible version   (both 1; big-endian)
//! then repeated: i32 length (big-endian), raw snappy block of that length
//! ```
//!
//! Both are accepted on decompression. When compressing, Weir writes the xerial
//! framing, as the Java producer does, because every client (Java, librdkafka, the
//! Python and Go clients) reads it, while older Java consumers do not read raw blocks.

use std::io::{self, Read, Write};

/// One of Kafka's record batch compression codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// 0: the records are stored as is.
    None,
    /// 1: gzip (RFC 1952).
    Gzip,
    /// 2: snappy, raw or in xerial framing.
    Snappy,
    /// 3: the LZ4 frame format.
    Lz4,
    /// 4: zstd frames.
    Zstd,
}

impl Compression {
    /// The codec of attributes bits 0-2; `None` for the unassigned values 5-7.
    pub fn from_attributes(attributes: i16) -> Option<Compression> {
        Some(match attributes & 0x07 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// The codec's id in attributes bits 0-2.
    pub fn id(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// Why a records section could not be decompressed or compressed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The output would exceed the cap: a decompression bomb, or a batch too large to
    /// look inside.
    #[error("{codec:?} output exceeds the {max} byte limit")]
    TooLarge {
        /// The codec.
        codec: Compression,
        /// The cap.
        max: usize,
    },
    /// The compressed data is damaged or not in the codec's format.
    #[error("malformed {codec:?} data: {reason}")]
    Malformed {
        /// The codec.
        codec: Compression,
        /// What the decoder reported.
        reason: String,
    },
    /// The encoder failed (it writes to memory, so this is an internal error).
    #[error("{codec:?} compression failed")]
    Encode {
        /// The codec.
        codec: Compression,
        /// The encoder's error.
        #[source]
        source: io::Error,
    },
}

/// Bytes read at a time from a streaming decoder.
const CHUNK: usize = 32 * 1024;

/// xerial's `SnappyOutputStream` header magic.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic plus version and compatible version.
const XERIAL_HEADER: usize = 16;
/// Uncompressed bytes per xerial block, xerial's default.
const XERIAL_BLOCK: usize = 32 * 1024;

/// Decompresses a records section compressed with `codec`; more than `max` bytes of
/// output is [`CodecError::TooLarge`].
pub fn decompress(codec: Compression, data: &[u8], max: usize) -> Result<Vec<u8>, CodecError> {
    let malformed = |e: &dyn std::fmt::Display| CodecError::Malformed {
        codec,
        reason: e.to_string(),
    };
    match codec {
        Compression::None => {
            if data.len() > max {
                return Err(CodecError::TooLarge { codec, max });
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(data), max),
        Compression::Snappy => {
            if data.len() >= XERIAL_HEADER && data[..8] == XERIAL_MAGIC {
                decompress_xerial(data, max)
            } else {
                snappy_block(data, max, Vec::new())
            }
        }
        Compression::Lz4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data), max),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(data).map_err(|e| malformed(&e))?;
            read_bounded(codec, decoder, max)
        }
    }
}

/// Compresses a records section with `codec` (snappy in xerial framing).
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let encode = |source| CodecError::Encode { codec, source };
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).map_err(encode)?;
            encoder.finish().map_err(encode)
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(XERIAL_HEADER + data.len() / 2 + 64);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for block in data.chunks(XERIAL_BLOCK) {
                let compressed = encoder
                    .compress_vec(block)
                    .map_err(|e| encode(io::Error::other(e)))?;
                out.extend_from_slice(&(compressed.len() as i32).to_be_bytes());
                out.extend_from_slice(&compressed);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(data).map_err(encode)?;
            encoder.finish().map_err(|e| encode(io::Error::other(e)))
        }
        Compression::Zstd => zstd::stream::encode_all(data, 3).map_err(encode),
    }
}

/// Reads `reader` to its end, failing once more than `max` bytes come out. Capacity
/// grows geometrically but is never requested beyond `max + 1`.
fn read_bounded(codec: Compression, reader: impl Read, max: usize) -> Result<Vec<u8>, CodecError> {
    let limit = max.saturating_add(1);
    let mut reader = reader.take(limit as u64);
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() == out.capacity() {
            let grow = out.capacity().max(CHUNK).min(limit - out.len());
            if grow == 0 {
                break;
            }
            out.reserve_exact(grow);
        }
        let start = out.len();
        let room = out.capacity() - start;
        out.resize(start + room, 0);
        match reader.read(&mut out[start..]) {
            Ok(0) => {
                out.truncate(start);
                break;
            }
            Ok(n) => out.truncate(start + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => out.truncate(start),
            Err(e) => {
                return Err(CodecError::Malformed {
                    codec,
                    reason: e.to_string(),
                })
            }
        }
    }
    if out.len() > max {
        return Err(CodecError::TooLarge { codec, max });
    }
    Ok(out)
}

/// Decompresses one raw snappy block onto `out`, checking its declared length against
/// what `max` leaves before allocating.
fn snappy_block(block: &[u8], max: usize, mut out: Vec<u8>) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Snappy;
    let malformed = |e: snap::Error| CodecError::Malformed {
        codec,
        reason: e.to_string(),
    };
    let len = snap::raw::decompress_len(block).map_err(malformed)?;
    if len > max.saturating_sub(out.len()) {
        return Err(CodecError::TooLarge { codec, max });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(malformed)?;
    out.truncate(start + written);
    Ok(out)
}

/// xerial framing: the header, then `[i32 length][raw block]` until the end.
fn decompress_xerial(data: &[u8], max: usize) -> Result<Vec<u8>, CodecError> {
    let malformed = |reason: String| CodecError::Malformed {
        codec: Compression::Snappy,
        reason,
    };
    let mut pos = XERIAL_HEADER;
    let mut out = Vec::new();
    while pos < data.len() {
        let Some(len_bytes) = data.get(pos..pos + 4) else {
            return Err(malformed(format!(
                "{} trailing bytes after the last xerial block",
                data.len() - pos
            )));
        };
        let len = i32::from_be_bytes(len_bytes.try_into().expect("4 bytes"));
        pos += 4;
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= data.len() - pos)
            .ok_or_else(|| {
                malformed(format!(
                    "xerial block length {len} with {} bytes left",
                    data.len() - pos
                ))
            })?;
        out = snappy_block(&data[pos..pos + len], max, out)?;
        pos += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in CODECS {
            for len in [0, 1, 100, XERIAL_BLOCK, 3 * XERIAL_BLOCK + 7, 200_000] {
                let data = sample(len);
                let compressed = compress(codec, &data).unwrap();
                let back = decompress(codec, &compressed, len).unwrap();
                assert_eq!(back, data, "{codec:?} {len}");
                assert_eq!(Compression::from_attributes(codec.id()), Some(codec));
            }
        }
        assert_eq!(Compression::from_attributes(5), None);
    }

    #[test]
    fn the_cap_is_inclusive_and_bombs_fail() {
        let zeros = vec![0u8; 4 << 20];
        for codec in CODECS {
            let compressed = compress(codec, &zeros).unwrap();
            assert!(decompress(codec, &compressed, zeros.len()).is_ok());
            let err = decompress(codec, &compressed, zeros.len() - 1).unwrap_err();
            assert!(
                matches!(err, CodecError::TooLarge { .. }),
                "{codec:?}: {err}"
            );
            let err = decompress(codec, &compressed, 1024).unwrap_err();
            assert!(
                matches!(err, CodecError::TooLarge { .. }),
                "{codec:?}: {err}"
            );
        }
    }

    #[test]
    fn bounded_reads_never_reserve_past_the_cap() {
        let data = vec![7u8; 100_000];
        let out = read_bounded(Compression::None, &data[..], 100_000).unwrap();
        assert!(out.capacity() <= 100_001, "{}", out.capacity());
        let out = read_bounded(Compression::None, &data[..10], 100_000).unwrap();
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn raw_and_xerial_snappy_are_both_read() {
        let data = sample(100_000);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100_000).unwrap(),
            data
        );

        // Built by hand as a Java producer would: blocks of different sizes.
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&1i32.to_be_bytes());
        xerial.extend_from_slice(&1i32.to_be_bytes());
        for block in [&data[..10], &data[10..70_000], &data[70_000..]] {
            let compressed = snap::raw::Encoder::new().compress_vec(block).unwrap();
            xerial.extend_from_slice(&(compressed.len() as i32).to_be_bytes());
            xerial.extend_from_slice(&compressed);
        }
        assert_eq!(
            decompress(Compression::Snappy, &xerial, 100_000).unwrap(),
            data
        );
        assert!(matches!(
            decompress(Compression::Snappy, &xerial, 99_999),
            Err(CodecError::TooLarge { .. })
        ));
        // A header alone is an empty stream.
        assert!(decompress(Compression::Snappy, &xerial[..16], 0)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let data = sample(50_000);
        for codec in CODECS {
            let good = compress(codec, &data).unwrap();
            for cut in [1, good.len() / 2, good.len().saturating_sub(1)] {
                let _ = decompress(codec, &good[..cut], 1 << 20);
            }
            let mut flipped = good.clone();
            for i in (0..flipped.len()).step_by(17) {
                flipped[i] ^= 0x5a;
            }
            let _ = decompress(codec, &flipped, 1 << 20);
        }
        // A xerial block length pointing past the end.
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        xerial.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decompress(Compression::Snappy, &xerial, 1 << 20),
            Err(CodecError::Malformed { .. })
        ));
        xerial.truncate(18);
        assert!(decompress(Compression::Snappy, &xerial, 1 << 20).is_err());
    }
}
