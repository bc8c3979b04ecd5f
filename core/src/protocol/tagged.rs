//! The tagged-field buffer that ends every struct in a flexible version (KIP-482).

use bytes::{BufMut, Bytes, BytesMut};

use super::varint::{get_unsigned_varint, put_unsigned_varint};
use super::DecodeError;

/// A tagged field this version of Weir does not know, kept so that it survives a
/// decode/encode round trip unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The field's tag.
    pub tag: u32,
    /// The field's encoded value, without the tag and size prefix.
    pub data: Bytes,
}

/// Reads the number of tagged fields. The count needs no bound of its own: each
/// field consumes at least two bytes, so the loop over it ends with the buffer.
pub(crate) fn get_tagged_count(buf: &mut Bytes) -> Result<u32, DecodeError> {
    get_unsigned_varint(buf)
}

/// Reads one tagged field's tag and its value (zero-copy, bounds-checked).
pub(crate) fn get_tagged_field(buf: &mut Bytes) -> Result<(u32, Bytes), DecodeError> {
    let tag = get_unsigned_varint(buf)?;
    let size = get_unsigned_varint(buf)? as usize;
    if size > buf.len() {
        return Err(DecodeError::NotEnoughBytes {
            needed: size,
            remaining: buf.len(),
        });
    }
    Ok((tag, buf.split_to(size)))
}

/// After a known tagged field is decoded from its value, nothing may remain.
pub(crate) fn finish_tagged_field(tag: u32, rest: &Bytes) -> Result<(), DecodeError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TaggedFieldSize {
            tag,
            extra: rest.len(),
        })
    }
}

/// Collects a struct's known tagged fields during encoding, then writes them merged
/// with the unknown ones in ascending tag order, as Kafka requires.
#[derive(Debug, Default)]
pub(crate) struct TaggedWriter {
    fields: Vec<(u32, BytesMut)>,
}

impl TaggedWriter {
    /// Encodes one known field's value with `write` under `tag`.
    pub(crate) fn field(&mut self, tag: u32, write: impl FnOnce(&mut BytesMut)) {
        let mut value = BytesMut::new();
        write(&mut value);
        self.fields.push((tag, value));
    }

    pub(crate) fn finish(self, buf: &mut BytesMut, unknown: &[RawTaggedField]) {
        if self.fields.is_empty() && unknown.is_empty() {
            // The common case on the produce and fetch paths: no allocation.
            put_unsigned_varint(buf, 0);
            return;
        }
        let mut all: Vec<(u32, &[u8])> = self
            .fields
            .iter()
            .map(|(tag, value)| (*tag, &value[..]))
            .chain(unknown.iter().map(|f| (f.tag, &f.data[..])))
            .collect();
        all.sort_by_key(|(tag, _)| *tag);
        put_unsigned_varint(buf, u32::try_from(all.len()).unwrap_or(u32::MAX));
        for (tag, value) in all {
            put_unsigned_varint(buf, tag);
            put_unsigned_varint(buf, u32::try_from(value.len()).unwrap_or(u32::MAX));
            buf.put_slice(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_fields_are_written_in_tag_order() {
        let mut w = TaggedWriter::default();
        w.field(2, |b| b.put_u8(0xbb));
        let unknown = [RawTaggedField {
            tag: 1,
            data: Bytes::from_static(&[0xaa]),
        }];
        let mut out = BytesMut::new();
        w.finish(&mut out, &unknown);
        assert_eq!(&out[..], &[2, 1, 1, 0xaa, 2, 1, 0xbb]);
    }

    #[test]
    fn tagged_field_size_beyond_buffer_is_rejected() {
        let mut b = Bytes::from_static(&[0, 5, 1]);
        assert!(matches!(
            get_tagged_field(&mut b),
            Err(DecodeError::NotEnoughBytes { needed: 5, .. })
        ));
    }
}
