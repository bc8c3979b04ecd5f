//! Reading one payload into a [`Message`].

use bytes::Bytes;

use super::error::{DecodeError, Field, Problem};
use super::*;

// The smallest encodings of list entries, which bound a count by the bytes left
// before anything is allocated for it.
/// Flags, an empty name's NUL, type OID, type modifier.
const MIN_RELATION_COLUMN: usize = 1 + 1 + 4 + 4;
/// A kind byte ('n' or 'u').
const MIN_TUPLE_COLUMN: usize = 1;
const RELATION_OID: usize = 4;

/// Decodes one message: the whole of `data`, from its tag on.
pub(crate) fn decode(data: &Bytes) -> Result<Message, DecodeError> {
    let Some(&tag) = data.first() else {
        return Err(DecodeError {
            message: None,
            offset: 0,
            problem: Problem::Truncated {
                field: "message type".into(),
                needs: 1,
                left: 0,
            },
        });
    };
    let kind = Kind::from_tag(tag)?;
    let mut r = Reader {
        data,
        pos: 1,
        message: kind.name(),
    };
    let message = match kind {
        Kind::Begin => Message::Begin {
            final_lsn: r.u64("final LSN")?,
            commit_time_us: r.i64("commit timestamp")?,
            xid: r.u32("xid")?,
        },
        Kind::Commit => Message::Commit {
            flags: r.u8("flags")?,
            commit_lsn: r.u64("commit LSN")?,
            end_lsn: r.u64("end LSN")?,
            commit_time_us: r.i64("commit timestamp")?,
        },
        Kind::Origin => Message::Origin {
            commit_lsn: r.u64("origin commit LSN")?,
            name: r.string("origin name")?,
        },
        Kind::Relation => Message::Relation(r.relation()?),
        Kind::Type => Message::Type {
            oid: r.u32("type OID")?,
            namespace: r.string("namespace")?,
            name: r.string("type name")?,
        },
        Kind::Insert => {
            let relation = r.u32("relation ID")?;
            r.expect(b'N', "tuple marker", "'N'")?;
            Message::Insert {
                relation,
                new: r.tuple("column")?,
            }
        }
        Kind::Update => {
            let relation = r.u32("relation ID")?;
            let at = r.pos;
            let old = match r.u8("tuple marker")? {
                b'K' => Some(OldTuple::Key(r.tuple("key column")?)),
                b'O' => Some(OldTuple::Full(r.tuple("old column")?)),
                b'N' => None,
                other => return Err(r.unexpected(at, "tuple marker", other, "'K', 'O' or 'N'")),
            };
            if old.is_some() {
                r.expect(b'N', "new tuple marker", "'N'")?;
            }
            Message::Update {
                relation,
                old,
                new: r.tuple("new column")?,
            }
        }
        Kind::Delete => {
            let relation = r.u32("relation ID")?;
            let at = r.pos;
            let old = match r.u8("tuple marker")? {
                b'K' => OldTuple::Key(r.tuple("key column")?),
                b'O' => OldTuple::Full(r.tuple("old column")?),
                other => return Err(r.unexpected(at, "tuple marker", other, "'K' or 'O'")),
            };
            Message::Delete { relation, old }
        }
        Kind::Truncate => {
            let count = r.count32("relation", RELATION_OID)?;
            let options = r.u8("options")?;
            let mut relations = Vec::with_capacity(count);
            for index in 1..=count {
                relations.push(r.u32(Field::Entry {
                    list: "relation",
                    index,
                    part: "OID",
                })?);
            }
            Message::Truncate { options, relations }
        }
        Kind::Message => {
            let at = r.pos;
            let transactional = match r.u8("flags")? {
                0 => false,
                1 => true,
                // A new flag could change what the message means: refuse it.
                other => return Err(r.unexpected(at, "flags", other, "0 or 1")),
            };
            Message::Message {
                transactional,
                lsn: r.u64("message LSN")?,
                prefix: r.string("prefix")?,
                content: r.sized("content length", "content")?,
            }
        }
    };
    r.finish()?;
    Ok(message)
}

/// The message types the connector decodes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Begin,
    Commit,
    Origin,
    Relation,
    Type,
    Insert,
    Update,
    Delete,
    Truncate,
    Message,
}

impl Kind {
    /// The type `tag` stands for, or why it is refused.
    fn from_tag(tag: u8) -> Result<Kind, DecodeError> {
        let (name, option) = match tag {
            b'B' => return Ok(Kind::Begin),
            b'C' => return Ok(Kind::Commit),
            b'O' => return Ok(Kind::Origin),
            b'R' => return Ok(Kind::Relation),
            b'Y' => return Ok(Kind::Type),
            b'I' => return Ok(Kind::Insert),
            b'U' => return Ok(Kind::Update),
            b'D' => return Ok(Kind::Delete),
            b'T' => return Ok(Kind::Truncate),
            b'M' => return Ok(Kind::Message),
            b'S' => ("Stream Start", "streaming"),
            b'E' => ("Stream Stop", "streaming"),
            b'c' => ("Stream Commit", "streaming"),
            b'A' => ("Stream Abort", "streaming"),
            b'p' => ("Stream Prepare", "streaming"),
            b'b' => ("Begin Prepare", "two_phase"),
            b'P' => ("Prepare", "two_phase"),
            b'K' => ("Commit Prepared", "two_phase"),
            b'r' => ("Rollback Prepared", "two_phase"),
            _ => {
                return Err(DecodeError {
                    message: None,
                    offset: 0,
                    problem: Problem::UnknownTag { tag },
                })
            }
        };
        Err(DecodeError {
            message: Some(name),
            offset: 0,
            problem: Problem::Unsupported { tag, option },
        })
    }

    /// The name PostgreSQL's docs give the type ("pgoutput Insert message").
    fn name(self) -> &'static str {
        match self {
            Kind::Begin => "Begin",
            Kind::Commit => "Commit",
            Kind::Origin => "Origin",
            Kind::Relation => "Relation",
            Kind::Type => "Type",
            Kind::Insert => "Insert",
            Kind::Update => "Update",
            Kind::Delete => "Delete",
            Kind::Truncate => "Truncate",
            // "Message" would read "pgoutput Message message".
            Kind::Message => "logical decoding",
        }
    }
}

/// A cursor over one payload. Every read checks the bytes left first, so no input can
/// make it index past the end.
struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
    message: &'static str,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn error(&self, offset: usize, problem: Problem) -> DecodeError {
        DecodeError {
            message: Some(self.message),
            offset,
            problem,
        }
    }

    fn unexpected(
        &self,
        at: usize,
        field: &'static str,
        byte: u8,
        expected: &'static str,
    ) -> DecodeError {
        self.error(
            at,
            Problem::Unexpected {
                field: field.into(),
                byte,
                expected,
            },
        )
    }

    fn fixed<const N: usize>(&mut self, field: impl Into<Field>) -> Result<[u8; N], DecodeError> {
        let Some(bytes) = self.data[self.pos..].first_chunk::<N>() else {
            return Err(self.error(
                self.pos,
                Problem::Truncated {
                    field: field.into(),
                    needs: N,
                    left: self.left(),
                },
            ));
        };
        self.pos += N;
        Ok(*bytes)
    }

    fn u8(&mut self, field: impl Into<Field>) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.fixed(field)?))
    }

    fn u16(&mut self, field: impl Into<Field>) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.fixed(field)?))
    }

    fn u32(&mut self, field: impl Into<Field>) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.fixed(field)?))
    }

    fn i32(&mut self, field: impl Into<Field>) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.fixed(field)?))
    }

    fn u64(&mut self, field: impl Into<Field>) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.fixed(field)?))
    }

    fn i64(&mut self, field: impl Into<Field>) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.fixed(field)?))
    }

    fn expect(
        &mut self,
        want: u8,
        field: &'static str,
        expected: &'static str,
    ) -> Result<(), DecodeError> {
        let at = self.pos;
        match self.u8(field)? {
            byte if byte == want => Ok(()),
            other => Err(self.unexpected(at, field, other, expected)),
        }
    }

    /// A NUL-terminated UTF-8 string.
    fn string(&mut self, field: impl Into<Field>) -> Result<String, DecodeError> {
        let start = self.pos;
        let rest = &self.data[start..];
        let Some(nul) = memchr::memchr(0, rest) else {
            return Err(self.error(
                start,
                Problem::Unterminated {
                    field: field.into(),
                    left: rest.len(),
                },
            ));
        };
        let text = std::str::from_utf8(&rest[..nul]).map_err(|err| {
            self.error(
                start + err.valid_up_to(),
                Problem::InvalidUtf8 {
                    field: field.into(),
                },
            )
        })?;
        self.pos = start + nul + 1;
        Ok(text.to_owned())
    }

    /// An Int32 length, then that many bytes, as a slice of the payload.
    fn sized(
        &mut self,
        length: impl Into<Field>,
        value: impl Into<Field>,
    ) -> Result<Bytes, DecodeError> {
        let at = self.pos;
        let length_field = length.into();
        let length = self.i32(length_field)?;
        let Ok(len) = usize::try_from(length) else {
            return Err(self.error(
                at,
                Problem::NegativeLength {
                    field: length_field,
                    length,
                },
            ));
        };
        if len > self.left() {
            return Err(self.error(
                self.pos,
                Problem::Truncated {
                    field: value.into(),
                    needs: len,
                    left: self.left(),
                },
            ));
        }
        let bytes = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(bytes)
    }

    /// An Int16 count of entries of at least `min_entry` bytes each; see [`Self::bound`].
    fn count16(&mut self, list: &'static str, min_entry: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let count = self.u16(Field::Count(list))?;
        self.bound(at, list, count.into(), min_entry)
    }

    /// An Int32 count of entries of at least `min_entry` bytes each; see [`Self::bound`].
    fn count32(&mut self, list: &'static str, min_entry: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let count = self.u32(Field::Count(list))?;
        self.bound(at, list, count, min_entry)
    }

    /// Refuses a count the bytes left cannot hold: the caller allocates for it, and a
    /// corrupt count must fail here rather than reach the allocator.
    fn bound(
        &self,
        at: usize,
        list: &'static str,
        count: u32,
        min_entry: usize,
    ) -> Result<usize, DecodeError> {
        let entries = usize::try_from(count).unwrap_or(usize::MAX);
        let needs = entries.saturating_mul(min_entry);
        if needs > self.left() {
            return Err(self.error(
                at,
                Problem::CountTooLarge {
                    field: Field::Count(list),
                    count,
                    needs,
                    left: self.left(),
                },
            ));
        }
        Ok(entries)
    }

    fn relation(&mut self) -> Result<Relation, DecodeError> {
        let id = self.u32("relation ID")?;
        let namespace = self.string("namespace")?;
        let name = self.string("relation name")?;
        let at = self.pos;
        let replica_identity = match self.u8("replica identity")? {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            other => {
                return Err(self.unexpected(at, "replica identity", other, "'d', 'n', 'f' or 'i'"))
            }
        };
        let count = self.count16("column", MIN_RELATION_COLUMN)?;
        let mut columns = Vec::with_capacity(count);
        for index in 1..=count {
            let part = |part| Field::Entry {
                list: "column",
                index,
                part,
            };
            columns.push(RelationColumn {
                part_of_key: (self.u8(part("flags"))? & 1) != 0,
                name: self.string(part("name"))?,
                type_oid: self.u32(part("type OID"))?,
                type_modifier: self.i32(part("type modifier"))?,
            });
        }
        Ok(Relation {
            id,
            namespace,
            name,
            replica_identity,
            columns,
        })
    }

    /// TupleData; `list` names its columns in errors ("key column 2 value").
    fn tuple(&mut self, list: &'static str) -> Result<Tuple, DecodeError> {
        let count = self.count16(list, MIN_TUPLE_COLUMN)?;
        let mut values = Vec::with_capacity(count);
        for index in 1..=count {
            let part = |part| Field::Entry { list, index, part };
            let at = self.pos;
            values.push(match self.u8(part("kind"))? {
                b'n' => ColumnValue::Null,
                b'u' => ColumnValue::Unchanged,
                b't' => ColumnValue::Text(self.sized(part("length"), part("value"))?),
                b'b' => ColumnValue::Binary(self.sized(part("length"), part("value"))?),
                other => {
                    return Err(self.error(
                        at,
                        Problem::Unexpected {
                            field: part("kind"),
                            byte: other,
                            expected: "'n', 'u', 't' or 'b'",
                        },
                    ))
                }
            });
        }
        Ok(Tuple(values))
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.left() {
            0 => Ok(()),
            left => Err(self.error(self.pos, Problem::TrailingBytes { left })),
        }
    }
}
