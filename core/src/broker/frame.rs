//! Size-prefixed request frames, cut from a byte stream without trusting the size.

use bytes::{Buf, Bytes, BytesMut};

/// A frame that cannot be read; the connection must close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("request of {size} bytes exceeds socket.request.max.bytes ({max}); raise it on the broker or send smaller requests")]
    TooLarge { size: usize, max: usize },
    #[error("request size {0} is negative")]
    NegativeSize(i32),
}

/// Cuts frames out of a read buffer. `Ok(None)` means "read more bytes": the length is
/// checked against the cap before the buffer is ever grown to hold the body.
#[derive(Debug, Clone, Copy)]
pub struct FrameReader {
    max_size: usize,
}

impl FrameReader {
    pub fn new(max_size: usize) -> Self {
        FrameReader { max_size }
    }

    /// Takes the next whole frame's body (without its 4-byte size) off `buf`.
    pub fn next_frame(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(size) = buf.get(..4) else {
            return Ok(None);
        };
        // The size prefix is a big-endian i32, as every Kafka frame's.
        let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        let size = usize::try_from(size).map_err(|_| FrameError::NegativeSize(size))?;
        if size > self.max_size {
            return Err(FrameError::TooLarge {
                size,
                max: self.max_size,
            });
        }
        if buf.len() < 4 + size {
            buf.reserve(4 + size - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_only_when_whole() {
        let reader = FrameReader::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 3, b'a', b'b'][..]);
        assert_eq!(reader.next_frame(&mut buf), Ok(None));
        buf.extend_from_slice(b"c\x00\x00\x00\x00");
        assert_eq!(
            reader.next_frame(&mut buf),
            Ok(Some(Bytes::from_static(b"abc")))
        );
        assert_eq!(reader.next_frame(&mut buf), Ok(Some(Bytes::new())));
        assert_eq!(reader.next_frame(&mut buf), Ok(None));
    }

    #[test]
    fn the_size_cap_is_checked_before_growing_the_buffer() {
        let reader = FrameReader::new(16);
        let mut at_cap = BytesMut::from(&16i32.to_be_bytes()[..]);
        assert_eq!(reader.next_frame(&mut at_cap), Ok(None));
        let mut over = BytesMut::from(&17i32.to_be_bytes()[..]);
        assert_eq!(
            reader.next_frame(&mut over),
            Err(FrameError::TooLarge { size: 17, max: 16 })
        );
        let mut huge = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        assert!(reader.next_frame(&mut huge).is_err());
        assert!(huge.capacity() < 1024, "grew to {}", huge.capacity());
        let mut negative = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(
            reader.next_frame(&mut negative),
            Err(FrameError::NegativeSize(-1))
        );
    }
}
