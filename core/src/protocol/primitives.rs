//! Reading and writing the protocol's primitive types, used by the generated codec.
//!
//! Every reader checks the bytes that remain before it reads or allocates: a length or
//! count from the wire is never trusted. `compact` selects the flexible-version
//! encoding (unsigned varint of length + 1, 0 = null) over the classic one (int16
//! string length, int32 bytes/array length, -1 = null).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::varint::{get_unsigned_varint, put_unsigned_varint};
use super::{DecodeError, Uuid};

fn ensure(buf: &Bytes, needed: usize) -> Result<(), DecodeError> {
    if buf.remaining() < needed {
        return Err(DecodeError::NotEnoughBytes {
            needed,
            remaining: buf.remaining(),
        });
    }
    Ok(())
}

macro_rules! fixed {
    ($(#[$attr:meta])* $get:ident, $put:ident, $ty:ty, $buf_get:ident, $buf_put:ident) => {
        $(#[$attr])*
        pub(crate) fn $get(buf: &mut Bytes) -> Result<$ty, DecodeError> {
            ensure(buf, std::mem::size_of::<$ty>())?;
            Ok(buf.$buf_get())
        }

        $(#[$attr])*
        pub(crate) fn $put(buf: &mut BytesMut, value: $ty) {
            buf.$buf_put(value);
        }
    };
}

fixed!(get_i8, put_i8, i8, get_i8, put_i8);
fixed!(get_i16, put_i16, i16, get_i16, put_i16);
fixed!(get_i32, put_i32, i32, get_i32, put_i32);
fixed!(get_i64, put_i64, i64, get_i64, put_i64);
// No vendored definition uses uint16, uint32 or float64 yet; the readers exist so that
// vendoring one needs no codec change.
fixed!(
    #[allow(dead_code)]
    get_u16,
    put_u16,
    u16,
    get_u16,
    put_u16
);
fixed!(
    #[allow(dead_code)]
    get_u32,
    put_u32,
    u32,
    get_u32,
    put_u32
);
fixed!(
    #[allow(dead_code)]
    get_f64,
    put_f64,
    f64,
    get_f64,
    put_f64
);

/// Any non-zero byte is true, as in Kafka's `readByte() != 0`.
pub(crate) fn get_bool(buf: &mut Bytes) -> Result<bool, DecodeError> {
    Ok(get_i8(buf)? != 0)
}

pub(crate) fn put_bool(buf: &mut BytesMut, value: bool) {
    buf.put_u8(u8::from(value));
}

pub(crate) fn get_uuid(buf: &mut Bytes) -> Result<Uuid, DecodeError> {
    ensure(buf, 16)?;
    let mut bytes = [0u8; 16];
    buf.copy_to_slice(&mut bytes);
    Ok(Uuid(bytes))
}

pub(crate) fn put_uuid(buf: &mut BytesMut, value: Uuid) {
    buf.put_slice(&value.0);
}

/// Reads a length prefix: `None` for null, otherwise a length no larger than the
/// bytes that remain after the prefix (each array element takes at least one byte).
fn get_length(
    buf: &mut Bytes,
    compact: bool,
    classic_i16: bool,
) -> Result<Option<usize>, DecodeError> {
    let length: i64 = if compact {
        i64::from(get_unsigned_varint(buf)?) - 1
    } else if classic_i16 {
        i64::from(get_i16(buf)?)
    } else {
        i64::from(get_i32(buf)?)
    };
    match length {
        -1 => Ok(None),
        n if n < -1 => Err(DecodeError::InvalidLength(n)),
        n => {
            // n fits in u32, so in usize on every platform Weir supports.
            let n = usize::try_from(n).map_err(|_| DecodeError::InvalidLength(n))?;
            ensure(buf, n)?;
            Ok(Some(n))
        }
    }
}

/// A string, `None` if null on the wire. Copies: strings are small metadata.
pub(crate) fn get_string(buf: &mut Bytes, compact: bool) -> Result<Option<String>, DecodeError> {
    let Some(len) = get_length(buf, compact, true)? else {
        return Ok(None);
    };
    let raw = buf.split_to(len);
    let s = std::str::from_utf8(&raw).map_err(|_| DecodeError::InvalidUtf8)?;
    Ok(Some(s.to_owned()))
}

/// Writes a string; `None` is written as null. A string longer than the prefix can
/// express is the caller's bug: it is truncated to what the prefix allows rather
/// than producing a frame the peer cannot parse.
pub(crate) fn put_string(buf: &mut BytesMut, value: Option<&str>, compact: bool) {
    match value {
        None => put_null(buf, compact, true),
        Some(s) => {
            let max = if compact {
                u32::MAX as usize - 1
            } else {
                i16::MAX as usize
            };
            let bytes = &s.as_bytes()[..s.len().min(max)];
            put_length(buf, bytes.len(), compact, true);
            buf.put_slice(bytes);
        }
    }
}

/// Bytes, `None` if null on the wire. Zero-copy: the result shares `buf`'s storage.
pub(crate) fn get_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>, DecodeError> {
    let Some(len) = get_length(buf, compact, false)? else {
        return Ok(None);
    };
    Ok(Some(buf.split_to(len)))
}

pub(crate) fn put_bytes(buf: &mut BytesMut, value: Option<&[u8]>, compact: bool) {
    match value {
        None => put_null(buf, compact, false),
        Some(b) => {
            put_length(buf, b.len(), compact, false);
            buf.put_slice(b);
        }
    }
}

/// The length prefix of a non-null `bytes` or `records` field of `len` bytes, without
/// the bytes: for a caller that sends them itself (a fetch response whose records are
/// sent from the segment files). [`put_bytes`] writes the same prefix.
pub fn put_bytes_length(buf: &mut BytesMut, len: usize, compact: bool) {
    put_length(buf, len, compact, false);
}

/// The most memory an array preallocates from its wire count.
const PREALLOCATE_BYTES: usize = 64 * 1024;

/// An array, `None` if null on the wire. The count is checked against the remaining
/// bytes before the vector is allocated.
pub(crate) fn get_array<T>(
    buf: &mut Bytes,
    compact: bool,
    mut element: impl FnMut(&mut Bytes) -> Result<T, DecodeError>,
) -> Result<Option<Vec<T>>, DecodeError> {
    let Some(count) = get_length(buf, compact, false)? else {
        return Ok(None);
    };
    // `count` is at most the remaining bytes, but an element can be far larger in
    // memory than its one byte on the wire; preallocate at most PREALLOCATE_BYTES and
    // let the vector grow with elements that actually decode.
    let cap = count.min(PREALLOCATE_BYTES / std::mem::size_of::<T>().max(1));
    let mut items = Vec::with_capacity(cap);
    for _ in 0..count {
        items.push(element(buf)?);
    }
    Ok(Some(items))
}

pub(crate) fn put_array<T>(
    buf: &mut BytesMut,
    items: Option<&[T]>,
    compact: bool,
    mut element: impl FnMut(&mut BytesMut, &T),
) {
    match items {
        None => put_null(buf, compact, false),
        Some(items) => {
            put_length(buf, items.len(), compact, false);
            for item in items {
                element(buf, item);
            }
        }
    }
}

fn put_null(buf: &mut BytesMut, compact: bool, classic_i16: bool) {
    if compact {
        put_unsigned_varint(buf, 0);
    } else if classic_i16 {
        buf.put_i16(-1);
    } else {
        buf.put_i32(-1);
    }
}

fn put_length(buf: &mut BytesMut, len: usize, compact: bool, classic_i16: bool) {
    if compact {
        put_unsigned_varint(
            buf,
            u32::try_from(len).unwrap_or(u32::MAX - 1).saturating_add(1),
        );
    } else if classic_i16 {
        buf.put_i16(i16::try_from(len).unwrap_or(i16::MAX));
    } else {
        buf.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
    }
}

/// A null read in a version that does not allow null is an error.
pub(crate) fn non_null<T>(value: Option<T>) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::NullNotAllowed)
}

/// A nullable value: null is accepted only in versions where `allowed`.
pub(crate) fn nullable<T>(value: Option<T>, allowed: bool) -> Result<Option<T>, DecodeError> {
    if value.is_none() && !allowed {
        return Err(DecodeError::NullNotAllowed);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &[u8]) -> Bytes {
        Bytes::copy_from_slice(v)
    }

    #[test]
    fn classic_string_longer_than_buffer_is_rejected() {
        let mut b = bytes(&[0x00, 0x05, b'a', b'b']);
        assert_eq!(
            get_string(&mut b, false),
            Err(DecodeError::NotEnoughBytes {
                needed: 5,
                remaining: 2
            })
        );
    }

    #[test]
    fn negative_length_other_than_null_is_rejected() {
        let mut b = bytes(&[0xff, 0xfe]);
        assert_eq!(
            get_string(&mut b, false),
            Err(DecodeError::InvalidLength(-2))
        );
        let mut b = bytes(&[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(
            get_bytes(&mut b, false),
            Err(DecodeError::InvalidLength(-2))
        );
    }

    #[test]
    fn null_prefixes_decode_as_none() {
        assert_eq!(get_string(&mut bytes(&[0xff, 0xff]), false), Ok(None));
        assert_eq!(get_string(&mut bytes(&[0x00]), true), Ok(None));
        assert_eq!(
            get_bytes(&mut bytes(&[0xff, 0xff, 0xff, 0xff]), false),
            Ok(None)
        );
    }

    #[test]
    fn array_count_beyond_remaining_is_rejected_before_allocating() {
        let mut b = bytes(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let r = get_array(&mut b, false, get_i8);
        assert_eq!(
            r,
            Err(DecodeError::NotEnoughBytes {
                needed: 0x7fff_ffff,
                remaining: 4
            })
        );
    }

    #[test]
    fn array_count_equal_to_remaining_is_accepted() {
        let mut b = bytes(&[0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(get_array(&mut b, false, get_i8), Ok(Some(vec![1, 2, 3])));
    }

    #[test]
    fn compact_array_of_u32_max_is_rejected() {
        let mut b = bytes(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]);
        assert!(matches!(
            get_array(&mut b, true, get_i8),
            Err(DecodeError::NotEnoughBytes { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let mut b = bytes(&[0x03, 0xff, 0xfe]);
        assert_eq!(get_string(&mut b, true), Err(DecodeError::InvalidUtf8));
    }

    #[test]
    fn bytes_are_zero_copy() {
        let input = bytes(&[0x04, 1, 2, 3]);
        let start = input.as_ptr() as usize;
        let out = get_bytes(&mut input.clone(), true).unwrap().unwrap();
        assert_eq!(out.as_ptr() as usize, start + 1);
    }

    #[test]
    fn strings_round_trip_both_encodings() {
        for compact in [false, true] {
            let mut out = BytesMut::new();
            put_string(&mut out, Some("weir"), compact);
            put_string(&mut out, None, compact);
            let mut b = out.freeze();
            assert_eq!(get_string(&mut b, compact), Ok(Some("weir".to_owned())));
            assert_eq!(get_string(&mut b, compact), Ok(None));
            assert!(b.is_empty());
        }
    }
}
