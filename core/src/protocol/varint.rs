//! Kafka's variable-length integers: unsigned varints (compact lengths, tags) and the
//! zig-zag signed varint/varlong used inside record batches.
//!
//! A varint longer than its type allows is an error, not silently truncated: Kafka
//! tolerates garbage in the last byte, Weir does not, so a fuzzer cannot smuggle
//! values past length checks.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::DecodeError;

/// Reads an unsigned varint of at most 5 bytes whose value fits in `u32`.
pub fn get_unsigned_varint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        if !buf.has_remaining() {
            return Err(DecodeError::NotEnoughBytes {
                needed: 1,
                remaining: 0,
            });
        }
        let byte = buf.get_u8();
        if i == 4 && byte > 0x0f {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow)
}

/// Reads an unsigned varint of at most 10 bytes whose value fits in `u64`.
pub fn get_unsigned_varlong(buf: &mut Bytes) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        if !buf.has_remaining() {
            return Err(DecodeError::NotEnoughBytes {
                needed: 1,
                remaining: 0,
            });
        }
        let byte = buf.get_u8();
        if i == 9 && byte > 0x01 {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow)
}

/// Reads a zig-zag encoded signed 32-bit varint (record fields).
pub fn get_varint(buf: &mut Bytes) -> Result<i32, DecodeError> {
    let raw = get_unsigned_varint(buf)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zig-zag encoded signed 64-bit varlong (record fields).
pub fn get_varlong(buf: &mut Bytes) -> Result<i64, DecodeError> {
    let raw = get_unsigned_varlong(buf)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// Writes an unsigned varint.
pub fn put_unsigned_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes an unsigned varlong.
pub fn put_unsigned_varlong(buf: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes a zig-zag encoded signed 32-bit varint.
pub fn put_varint(buf: &mut BytesMut, value: i32) {
    put_unsigned_varint(buf, ((value << 1) ^ (value >> 31)) as u32);
}

/// Writes a zig-zag encoded signed 64-bit varlong.
pub fn put_varlong(buf: &mut BytesMut, value: i64) {
    put_unsigned_varlong(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// The number of bytes `put_unsigned_varint` writes for `value`.
pub fn unsigned_varint_len(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &[u8]) -> Bytes {
        Bytes::copy_from_slice(v)
    }

    #[test]
    fn unsigned_varint_round_trips_boundaries() {
        for v in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            0x0fff_ffff,
            0x1000_0000,
            u32::MAX,
        ] {
            let mut out = BytesMut::new();
            put_unsigned_varint(&mut out, v);
            assert_eq!(out.len(), unsigned_varint_len(v));
            assert_eq!(get_unsigned_varint(&mut out.freeze()), Ok(v));
        }
    }

    #[test]
    fn unsigned_varint_longer_than_five_bytes_is_rejected() {
        let mut b = bytes(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(
            get_unsigned_varint(&mut b),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn unsigned_varint_overflowing_u32_is_rejected() {
        let mut b = bytes(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert_eq!(
            get_unsigned_varint(&mut b),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn truncated_varint_is_not_enough_bytes() {
        let mut b = bytes(&[0x80, 0x80]);
        assert!(matches!(
            get_unsigned_varint(&mut b),
            Err(DecodeError::NotEnoughBytes { .. })
        ));
    }

    #[test]
    fn varlong_longer_than_ten_bytes_is_rejected() {
        let mut b = bytes(&[0xff; 11]);
        assert_eq!(
            get_unsigned_varlong(&mut b),
            Err(DecodeError::VarintOverflow)
        );
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, -1, 1, i32::MIN, i32::MAX] {
            let mut out = BytesMut::new();
            put_varint(&mut out, v);
            assert_eq!(get_varint(&mut out.freeze()), Ok(v));
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            let mut out = BytesMut::new();
            put_varlong(&mut out, v);
            assert_eq!(get_varlong(&mut out.freeze()), Ok(v));
        }
    }
}
