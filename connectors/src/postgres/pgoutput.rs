//! The `pgoutput` logical decoding messages (protocol version 1), as PostgreSQL's
//! "Logical Replication Message Formats" describes them: a one-byte tag, then integers
//! in network byte order (big-endian) and NUL-terminated strings. [`decode`] reads the
//! payload of one XLogData message; [`encode`] is its inverse.
//!
//! The connector starts replication with `proto_version '1'` and leaves `streaming`
//! and `two_phase` off. So the transaction ID that versions 2 and later put in front of
//! changes of streamed transactions never appears, and the streaming and two-phase
//! messages are refused by name rather than guessed at. What later servers add
//! without changing version 1's layout is accepted: binary column values (the
//! `binary` option) and logical decoding messages (the `messages` option).
//!
//! Column values and message contents are slices of the payload. Names are copied
//! into `String`s: the connector keeps relations for the life of the stream, and a
//! slice would pin each whole payload for that long.

use std::fmt;

use bytes::{BufMut, Bytes};

/// A WAL position (`XLogRecPtr`); `pg_lsn` shows it as its two hex halves, `16/B374D48`.
pub(crate) type Lsn = u64;

/// One `pgoutput` message.
// `Message::Message` is PostgreSQL's own name for a logical decoding message.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// 'B': a transaction starts; its changes follow, then [`Message::Commit`].
    Begin {
        final_lsn: Lsn,
        /// Microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch), as sent.
        commit_time_us: i64,
        xid: u32,
    },
    /// 'C': the transaction that the last [`Message::Begin`] started committed.
    Commit {
        /// Unused by PostgreSQL so far (always 0); kept so nothing is lost.
        flags: u8,
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time_us: i64,
    },
    /// 'O': the transaction was replicated into this server from another one.
    Origin { commit_lsn: Lsn, name: String },
    /// 'R': a relation's columns, sent before its first change in the stream and again
    /// whenever it changed.
    Relation(Relation),
    /// 'Y': a type that is not built in (an enum, a domain), sent before the first
    /// relation that uses it.
    Type {
        oid: u32,
        namespace: String,
        name: String,
    },
    /// 'I'
    Insert { relation: u32, new: Tuple },
    /// 'U': `old` is there only when the replica identity asks for it and, for a key,
    /// only when the key changed.
    Update {
        relation: u32,
        old: Option<OldTuple>,
        new: Tuple,
    },
    /// 'D'
    Delete { relation: u32, old: OldTuple },
    /// 'T'
    Truncate {
        /// Bits: 1 for `CASCADE`, 2 for `RESTART IDENTITY`.
        options: u8,
        relations: Vec<u32>,
    },
    /// 'M': a message from `pg_logical_emit_message`.
    Message {
        /// Transactional messages come between Begin and Commit; others on their own.
        transactional: bool,
        lsn: Lsn,
        prefix: String,
        content: Bytes,
    },
}

/// The old row of an update or a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OldTuple {
    /// 'K': the replica identity's columns; the others are [`ColumnValue::Null`].
    Key(Tuple),
    /// 'O': every column (`REPLICA IDENTITY FULL`).
    Full(Tuple),
}

/// A relation message: how to read the tuples of relation `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) id: u32,
    /// Empty for `pg_catalog`.
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) replica_identity: ReplicaIdentity,
    /// In the order of the values of every tuple of the relation.
    pub(crate) columns: Vec<RelationColumn>,
}

/// `pg_class.relreplident`: which old values updates and deletes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaIdentity {
    /// 'd': the primary key.
    Default,
    /// 'n': none.
    Nothing,
    /// 'f': the whole row.
    Full,
    /// 'i': the columns of a chosen unique index.
    Index,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelationColumn {
    /// The 1 bit of the column's flags. PostgreSQL defines no other; any other is
    /// ignored, since it could only describe the column, never change the layout.
    pub(crate) part_of_key: bool,
    pub(crate) name: String,
    pub(crate) type_oid: u32,
    /// `atttypmod`: -1 when the type has none.
    pub(crate) type_modifier: i32,
}

/// One value per column of the relation, in the relation message's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tuple(pub(crate) Vec<ColumnValue>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnValue {
    /// 'n'
    Null,
    /// 'u': a TOASTed value the change did not touch, so the server did not send it.
    Unchanged,
    /// 't': the type's text output in the client encoding (UTF-8 for the connector).
    /// Not checked here: the caller parses the text by its type anyway, and checks
    /// UTF-8 where it keeps the text as a string.
    Text(Bytes),
    /// 'b': the type's binary send format (only with the `binary` option).
    Binary(Bytes),
}

/// A payload that is not a well-formed `pgoutput` message the connector asked for:
/// the server speaks a protocol other than the one requested, or the stream is
/// corrupt. Retrying the same payload cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// The message type's name; `None` when there is no known tag to name it by.
    message: Option<&'static str>,
    offset: usize,
    problem: Problem,
}

impl DecodeError {
    /// Where in the payload the problem is (the tag is byte 0).
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Truncated {
        field: Field,
        needs: usize,
        left: usize,
    },
    Unterminated {
        field: Field,
        left: usize,
    },
    InvalidUtf8 {
        field: Field,
    },
    NegativeLength {
        field: Field,
        length: i32,
    },
    CountTooLarge {
        field: Field,
        count: u32,
        needs: usize,
        left: usize,
    },
    Unexpected {
        field: Field,
        byte: u8,
        expected: &'static str,
    },
    TrailingBytes {
        left: usize,
    },
    UnknownTag {
        tag: u8,
    },
    Unsupported {
        tag: u8,
        option: &'static str,
    },
}

/// What was being read, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Named(&'static str),
    /// The number of entries of a list ("column count").
    Count(&'static str),
    /// A part of the `index`th entry of a list, counted from 1 ("column 3 value").
    Entry {
        list: &'static str,
        index: usize,
        part: &'static str,
    },
}

impl From<&'static str> for Field {
    fn from(name: &'static str) -> Field {
        Field::Named(name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Named(name) => f.write_str(name),
            Field::Count(list) => write!(f, "{list} count"),
            Field::Entry { list, index, part } => write!(f, "{list} {index} {part}"),
        }
    }
}

/// A byte shown as the character PostgreSQL's docs name it by, when it is one.
struct Tag(u8);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}' (0x{:02x})", self.0 as char, self.0)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

struct ByteCount(usize);

impl fmt::Display for ByteCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message {
            Some(name) => write!(f, "pgoutput {name} message: ")?,
            None => f.write_str("pgoutput message: ")?,
        }
        let at = self.offset;
        match &self.problem {
            Problem::Truncated { field, needs, left } => write!(
                f,
                "truncated {field} at byte {at} (needs {}, {left} left)",
                ByteCount(*needs)
            ),
            Problem::Unterminated { field, left } => write!(
                f,
                "unterminated {field} at byte {at} (no NUL in the {} left)",
                ByteCount(*left)
            ),
            Problem::InvalidUtf8 { field } => write!(f, "{field} is not UTF-8 at byte {at}"),
            Problem::NegativeLength { field, length } => {
                write!(f, "negative {field} {length} at byte {at}")
            }
            Problem::CountTooLarge {
                field,
                count,
                needs,
                left,
            } => write!(
                f,
                "{field} {count} at byte {at} cannot fit (needs at least {}, {left} left)",
                ByteCount(*needs)
            ),
            Problem::Unexpected {
                field,
                byte,
                expected,
            } => write!(
                f,
                "unexpected {field} {} at byte {at} (expected {expected})",
                Tag(*byte)
            ),
            Problem::TrailingBytes { left } => write!(
                f,
                "{} left over at byte {at} after a complete message",
                ByteCount(*left)
            ),
            Problem::UnknownTag { tag } => {
                write!(f, "unknown message type {} at byte {at}", Tag(*tag))
            }
            Problem::Unsupported { tag, option } => write!(
                f,
                "unsupported message type {} at byte {at}: the connector decodes protocol \
                 version 1 only, so replication must be started with `{option}` off",
                Tag(*tag)
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

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

/// The inverse of [`decode`], for tests and the fuzz target's round trip.
///
/// Panics when a list or a value is longer than its count or length field can say
/// (65535 columns, 2 GiB), and writes a name with a NUL in it that no decode gives
/// back: neither comes out of [`decode`].
pub(crate) fn encode(message: &Message) -> Vec<u8> {
    // BufMut's put_* write big-endian, pgoutput's byte order.
    let mut out = Vec::new();
    match message {
        Message::Begin {
            final_lsn,
            commit_time_us,
            xid,
        } => {
            out.put_u8(b'B');
            out.put_u64(*final_lsn);
            out.put_i64(*commit_time_us);
            out.put_u32(*xid);
        }
        Message::Commit {
            flags,
            commit_lsn,
            end_lsn,
            commit_time_us,
        } => {
            out.put_u8(b'C');
            out.put_u8(*flags);
            out.put_u64(*commit_lsn);
            out.put_u64(*end_lsn);
            out.put_i64(*commit_time_us);
        }
        Message::Origin { commit_lsn, name } => {
            out.put_u8(b'O');
            out.put_u64(*commit_lsn);
            put_string(&mut out, name);
        }
        Message::Relation(relation) => {
            out.put_u8(b'R');
            out.put_u32(relation.id);
            put_string(&mut out, &relation.namespace);
            put_string(&mut out, &relation.name);
            out.put_u8(match relation.replica_identity {
                ReplicaIdentity::Default => b'd',
                ReplicaIdentity::Nothing => b'n',
                ReplicaIdentity::Full => b'f',
                ReplicaIdentity::Index => b'i',
            });
            out.put_u16(u16::try_from(relation.columns.len()).expect("at most 65535 columns"));
            for column in &relation.columns {
                out.put_u8(u8::from(column.part_of_key));
                put_string(&mut out, &column.name);
                out.put_u32(column.type_oid);
                out.put_i32(column.type_modifier);
            }
        }
        Message::Type {
            oid,
            namespace,
            name,
        } => {
            out.put_u8(b'Y');
            out.put_u32(*oid);
            put_string(&mut out, namespace);
            put_string(&mut out, name);
        }
        Message::Insert { relation, new } => {
            out.put_u8(b'I');
            out.put_u32(*relation);
            put_tuple(&mut out, b'N', new);
        }
        Message::Update { relation, old, new } => {
            out.put_u8(b'U');
            out.put_u32(*relation);
            if let Some(old) = old {
                put_old_tuple(&mut out, old);
            }
            put_tuple(&mut out, b'N', new);
        }
        Message::Delete { relation, old } => {
            out.put_u8(b'D');
            out.put_u32(*relation);
            put_old_tuple(&mut out, old);
        }
        Message::Truncate { options, relations } => {
            out.put_u8(b'T');
            out.put_u32(u32::try_from(relations.len()).expect("at most 2^32-1 relations"));
            out.put_u8(*options);
            for relation in relations {
                out.put_u32(*relation);
            }
        }
        Message::Message {
            transactional,
            lsn,
            prefix,
            content,
        } => {
            out.put_u8(b'M');
            out.put_u8(u8::from(*transactional));
            out.put_u64(*lsn);
            put_string(&mut out, prefix);
            put_sized(&mut out, content);
        }
    }
    out
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.put_slice(text.as_bytes());
    out.put_u8(0);
}

fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_i32(i32::try_from(bytes.len()).expect("at most 2 GiB"));
    out.put_slice(bytes);
}

fn put_old_tuple(out: &mut Vec<u8>, old: &OldTuple) {
    match old {
        OldTuple::Key(tuple) => put_tuple(out, b'K', tuple),
        OldTuple::Full(tuple) => put_tuple(out, b'O', tuple),
    }
}

fn put_tuple(out: &mut Vec<u8>, marker: u8, tuple: &Tuple) {
    out.put_u8(marker);
    out.put_u16(u16::try_from(tuple.0.len()).expect("at most 65535 columns"));
    for value in &tuple.0 {
        match value {
            ColumnValue::Null => out.put_u8(b'n'),
            ColumnValue::Unchanged => out.put_u8(b'u'),
            ColumnValue::Text(text) => {
                out.put_u8(b't');
                put_sized(out, text);
            }
            ColumnValue::Binary(binary) => {
                out.put_u8(b'b');
                put_sized(out, binary);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(parts: &[&[u8]]) -> Bytes {
        Bytes::from(parts.concat())
    }

    fn hex(text: &str) -> Bytes {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
            .collect::<Vec<u8>>()
            .into()
    }

    fn text(value: &'static str) -> ColumnValue {
        ColumnValue::Text(Bytes::from_static(value.as_bytes()))
    }

    fn error(data: &[u8]) -> DecodeError {
        decode(&Bytes::copy_from_slice(data)).expect_err("malformed")
    }

    /// 2024-01-01 00:00 UTC in PostgreSQL's epoch.
    const NEW_YEAR_2024_US: i64 = 757_382_400_000_000;

    #[test]
    fn begin_carries_final_lsn_commit_time_and_xid() {
        let data = payload(&[
            b"B",
            &0x0000_0001_6B37_4D48u64.to_be_bytes(),
            &NEW_YEAR_2024_US.to_be_bytes(),
            &742u32.to_be_bytes(),
        ]);
        assert_eq!(
            decode(&data),
            Ok(Message::Begin {
                final_lsn: 0x1_6B37_4D48,
                commit_time_us: NEW_YEAR_2024_US,
                xid: 742,
            })
        );
    }

    #[test]
    fn commit_carries_flags_both_lsns_and_commit_time() {
        let data = payload(&[
            b"C\0",
            &0x10u64.to_be_bytes(),
            &0x38u64.to_be_bytes(),
            &(-1i64).to_be_bytes(),
        ]);
        assert_eq!(
            decode(&data),
            Ok(Message::Commit {
                flags: 0,
                commit_lsn: 0x10,
                end_lsn: 0x38,
                commit_time_us: -1,
            })
        );
    }

    #[test]
    fn origin_carries_the_origin_commit_lsn_and_name() {
        let data = payload(&[b"O", &0xABCDEFu64.to_be_bytes(), "ünterwegs\0".as_bytes()]);
        assert_eq!(
            decode(&data),
            Ok(Message::Origin {
                commit_lsn: 0xABCDEF,
                name: "ünterwegs".into(),
            })
        );
    }

    #[test]
    fn relation_carries_replica_identity_and_columns_with_key_flags() {
        let data = payload(&[
            b"R",
            &16391u32.to_be_bytes(),
            b"public\0accounts\0i",
            &2u16.to_be_bytes(),
            b"\x01id\0",
            &20u32.to_be_bytes(),
            &(-1i32).to_be_bytes(),
            // A flag bit PostgreSQL does not define yet does not make a key.
            b"\x02name\0",
            &1043u32.to_be_bytes(),
            &24i32.to_be_bytes(),
        ]);
        assert_eq!(
            decode(&data),
            Ok(Message::Relation(Relation {
                id: 16391,
                namespace: "public".into(),
                name: "accounts".into(),
                replica_identity: ReplicaIdentity::Index,
                columns: vec![
                    RelationColumn {
                        part_of_key: true,
                        name: "id".into(),
                        type_oid: 20,
                        type_modifier: -1,
                    },
                    RelationColumn {
                        part_of_key: false,
                        name: "name".into(),
                        type_oid: 1043,
                        type_modifier: 24,
                    },
                ],
            }))
        );
        for (byte, identity) in [
            (b'd', ReplicaIdentity::Default),
            (b'n', ReplicaIdentity::Nothing),
            (b'f', ReplicaIdentity::Full),
        ] {
            let data = payload(&[b"R\0\0\0\x01\0t\0", &[byte], b"\0\0"]);
            let Ok(Message::Relation(relation)) = decode(&data) else {
                panic!("{byte} does not decode");
            };
            assert_eq!(relation.replica_identity, identity);
            assert_eq!(relation.namespace, "", "pg_catalog's namespace is empty");
        }
    }

    #[test]
    fn type_carries_oid_namespace_and_name() {
        let data = payload(&[b"Y", &16385u32.to_be_bytes(), b"public\0mood\0"]);
        assert_eq!(
            decode(&data),
            Ok(Message::Type {
                oid: 16385,
                namespace: "public".into(),
                name: "mood".into(),
            })
        );
    }

    #[test]
    fn insert_carries_every_kind_of_column_value() {
        let data = payload(&[
            b"I",
            &7u32.to_be_bytes(),
            b"N",
            &4u16.to_be_bytes(),
            b"t\0\0\0\x03ada",
            b"n",
            b"u",
            b"b\0\0\0\x02\x00\xff",
        ]);
        assert_eq!(
            decode(&data),
            Ok(Message::Insert {
                relation: 7,
                new: Tuple(vec![
                    text("ada"),
                    ColumnValue::Null,
                    ColumnValue::Unchanged,
                    ColumnValue::Binary(Bytes::from_static(b"\x00\xff")),
                ]),
            })
        );
    }

    #[test]
    fn column_values_are_slices_of_the_payload() {
        let data = payload(&[b"I\0\0\0\x07N\0\x01t\0\0\0\x05hello"]);
        let Ok(Message::Insert { new, .. }) = decode(&data) else {
            panic!("does not decode");
        };
        let ColumnValue::Text(value) = &new.0[0] else {
            panic!("not text");
        };
        let range = data.as_ptr_range();
        assert!(range.contains(&value.as_ptr()), "the value was copied");
        assert_eq!(&value[..], b"hello");
    }

    #[test]
    fn update_carries_no_old_tuple_a_key_or_a_full_old_row() {
        let new = Tuple(vec![text("2"), text("bob")]);
        let tuple = |marker: &[u8], first: &[u8]| {
            [marker, b"\0\x02t\0\0\0\x01", first, b"t\0\0\0\x03bob"].concat()
        };
        let relation = 9u32.to_be_bytes();
        assert_eq!(
            decode(&payload(&[b"U", &relation, &tuple(b"N", b"2")])),
            Ok(Message::Update {
                relation: 9,
                old: None,
                new: new.clone(),
            })
        );
        assert_eq!(
            decode(&payload(&[
                b"U",
                &relation,
                b"K\0\x02t\0\0\0\x011n",
                &tuple(b"N", b"2")
            ])),
            Ok(Message::Update {
                relation: 9,
                old: Some(OldTuple::Key(Tuple(vec![text("1"), ColumnValue::Null]))),
                new: new.clone(),
            })
        );
        assert_eq!(
            decode(&payload(&[
                b"U",
                &relation,
                &tuple(b"O", b"1"),
                &tuple(b"N", b"2")
            ])),
            Ok(Message::Update {
                relation: 9,
                old: Some(OldTuple::Full(Tuple(vec![text("1"), text("bob")]))),
                new,
            })
        );
    }

    #[test]
    fn update_with_an_old_tuple_needs_the_new_one() {
        let data = b"U\0\0\0\x09K\0\x01nO\0\x01n";
        assert_eq!(
            error(data).to_string(),
            "pgoutput Update message: unexpected new tuple marker 'O' (0x4f) at byte 9 \
             (expected 'N')"
        );
    }

    #[test]
    fn delete_carries_a_key_or_a_full_old_row() {
        assert_eq!(
            decode(&payload(&[
                b"D",
                &9u32.to_be_bytes(),
                b"K\0\x02t\0\0\0\x013n"
            ])),
            Ok(Message::Delete {
                relation: 9,
                old: OldTuple::Key(Tuple(vec![text("3"), ColumnValue::Null])),
            })
        );
        assert_eq!(
            decode(&payload(&[
                b"D",
                &9u32.to_be_bytes(),
                b"O\0\x01t\0\0\0\x013"
            ])),
            Ok(Message::Delete {
                relation: 9,
                old: OldTuple::Full(Tuple(vec![text("3")])),
            })
        );
        assert_eq!(
            error(b"D\0\0\0\x09N\0\0").to_string(),
            "pgoutput Delete message: unexpected tuple marker 'N' (0x4e) at byte 5 \
             (expected 'K' or 'O')"
        );
    }

    #[test]
    fn truncate_carries_options_and_relations() {
        let data = payload(&[
            b"T",
            &2u32.to_be_bytes(),
            &[3],
            &16404u32.to_be_bytes(),
            &16410u32.to_be_bytes(),
        ]);
        assert_eq!(
            decode(&data),
            Ok(Message::Truncate {
                options: 3,
                relations: vec![16404, 16410],
            })
        );
    }

    #[test]
    fn logical_decoding_message_carries_flags_lsn_prefix_and_content() {
        let data = payload(&[
            b"M\x01",
            &0x154_D4F0u64.to_be_bytes(),
            b"weir.test\0",
            &3u32.to_be_bytes(),
            b"\x00\xff\x01",
        ]);
        assert_eq!(
            decode(&data),
            Ok(Message::Message {
                transactional: true,
                lsn: 0x154_D4F0,
                prefix: "weir.test".into(),
                content: Bytes::from_static(b"\x00\xff\x01"),
            })
        );
        let mut flags = data.to_vec();
        flags[1] = 2;
        assert_eq!(
            error(&flags).to_string(),
            "pgoutput logical decoding message: unexpected flags 0x02 at byte 1 (expected 0 or 1)"
        );
    }

    /// Payloads that PostgreSQL 15 sent for `proto_version '1'` (with `messages`, and
    /// one with `binary`), read with `pg_logical_slot_peek_binary_changes`.
    const CAPTURED: [&str; 16] = [
        "42000000000154b460000304b94e753cc2000002db",
        "59000040017075626c6963006d6f6f6400",
        "52000040077075626c6963006163636f756e7473006400050169640000000014ffffffff006e616d65\
         0000000413000000180062616c616e636500000006a4000c0006006665656c696e670000004001ffff\
         ffff006e6f7465730000000019ffffffff",
        "49000040074e00057400000001317400000003616461740000000531322e3530740000000568617070796e",
        "4300000000000154b460000000000154b490000304b94e753cc2",
        "55000040074e00057400000001327400000003626f62740000000539392e393974000000026f6b75",
        "55000040074b00057400000001316e6e6e6e4e00057400000001337400000003616461740000000531\
         322e3530740000000568617070796e",
        "44000040074b00057400000001336e6e6e6e",
        "520000400e7075626c69630061756469740066000201617400000004a0ffffffff0177686174000000\
         0019ffffffff",
        "550000400e4f00027400000016323032342d30312d30312030303a30303a30302b303074000000066f\
         70656e65644e00027400000016323032342d30312d30312030303a30303a30302b3030740000000663\
         6c6f736564",
        "440000400e4f00027400000016323032342d30312d30312030303a30303a30302b3030740000000663\
         6c6f736564",
        "4d01000000000154d4f0776569722e7465737400000000137472616e73616374696f6e616c2068656c6c6f",
        "4d00000000000154d6a8776569722e6e6f6e7478000000000300ff01",
        "540000000203000040140000401a",
        "4f0000000000abcdef757073747265616d00",
        "49000040074e0005620000000800000000000000016200000003616461620000000c00020000000000\
         02000c1388620000000568617070796e",
    ];

    #[test]
    fn payloads_postgresql_sent_decode_and_encode_to_the_same_bytes() {
        for captured in CAPTURED {
            let data = hex(captured);
            let message = decode(&data).unwrap_or_else(|err| panic!("{captured}: {err}"));
            assert_eq!(encode(&message), data, "{message:?}");
        }
        // An update that left the TOASTed `notes` column alone.
        let Ok(Message::Update { old: None, new, .. }) = decode(&hex(CAPTURED[5])) else {
            panic!("not an update without an old tuple");
        };
        assert_eq!(new.0[4], ColumnValue::Unchanged);
        // An update of the key: the old key, with the other columns null.
        let Ok(Message::Update {
            old: Some(OldTuple::Key(key)),
            ..
        }) = decode(&hex(CAPTURED[6]))
        else {
            panic!("not an update of the key");
        };
        assert_eq!(key.0[0], text("1"));
        assert!(key.0[1..].iter().all(|value| *value == ColumnValue::Null));
    }

    #[test]
    fn a_change_of_a_streamed_transaction_is_refused_not_misread() {
        // A Relation message of a streamed transaction (protocol 2): the xid comes first.
        let streamed = hex(
            "52000002f30000400e7075626c69630061756469740066000201617400000004a0ffffffff01776861\
             740000000019ffffffff",
        );
        assert!(decode(&streamed).is_err());
        let start = error(&hex("53000002f301"));
        assert_eq!(
            start.to_string(),
            "pgoutput Stream Start message: unsupported message type 'S' (0x53) at byte 0: the \
             connector decodes protocol version 1 only, so replication must be started with \
             `streaming` off"
        );
        for tag in [b'E', b'c', b'A', b'p'] {
            let err = error(&[tag, 0, 0, 0, 1]).to_string();
            assert!(
                err.contains("unsupported") && err.contains("`streaming` off"),
                "{err}"
            );
        }
        for tag in [b'b', b'P', b'K', b'r'] {
            let err = error(&[tag, 0, 0, 0, 1]).to_string();
            assert!(
                err.contains("unsupported") && err.contains("`two_phase` off"),
                "{err}"
            );
        }
    }

    #[test]
    fn an_unknown_tag_is_named_in_the_error() {
        assert_eq!(
            error(b"Z\0\0").to_string(),
            "pgoutput message: unknown message type 'Z' (0x5a) at byte 0"
        );
        assert_eq!(
            error(b"\x00").to_string(),
            "pgoutput message: unknown message type 0x00 at byte 0"
        );
        assert_eq!(
            error(b"").to_string(),
            "pgoutput message: truncated message type at byte 0 (needs 1 byte, 0 left)"
        );
    }

    #[test]
    fn a_truncated_value_names_its_column_and_offset() {
        let data = b"I\0\0\0\x07N\0\x03nt\0\0\0\x04abcdt\0\0\0\x0cshort";
        assert_eq!(
            error(data).to_string(),
            "pgoutput Insert message: truncated column 3 value at byte 23 (needs 12 bytes, 5 left)"
        );
    }

    fn samples() -> Vec<Message> {
        let tuple = Tuple(vec![
            text("42"),
            ColumnValue::Null,
            ColumnValue::Unchanged,
            ColumnValue::Binary(Bytes::from_static(&[0, 0, 0, 42])),
            text(""),
        ]);
        vec![
            Message::Begin {
                final_lsn: u64::MAX,
                commit_time_us: i64::MIN,
                xid: u32::MAX,
            },
            Message::Commit {
                flags: 0,
                commit_lsn: 1,
                end_lsn: 2,
                commit_time_us: NEW_YEAR_2024_US,
            },
            Message::Origin {
                commit_lsn: 3,
                name: String::new(),
            },
            Message::Relation(Relation {
                id: 1,
                namespace: "ns".into(),
                name: "t".into(),
                replica_identity: ReplicaIdentity::Full,
                columns: vec![RelationColumn {
                    part_of_key: true,
                    name: "c".into(),
                    type_oid: 25,
                    type_modifier: -1,
                }],
            }),
            Message::Relation(Relation {
                id: 2,
                namespace: String::new(),
                name: "empty".into(),
                replica_identity: ReplicaIdentity::Nothing,
                columns: Vec::new(),
            }),
            Message::Type {
                oid: 16385,
                namespace: "public".into(),
                name: "mood".into(),
            },
            Message::Insert {
                relation: 1,
                new: tuple.clone(),
            },
            Message::Insert {
                relation: 1,
                new: Tuple(Vec::new()),
            },
            Message::Update {
                relation: 1,
                old: None,
                new: tuple.clone(),
            },
            Message::Update {
                relation: 1,
                old: Some(OldTuple::Key(tuple.clone())),
                new: tuple.clone(),
            },
            Message::Update {
                relation: 1,
                old: Some(OldTuple::Full(tuple.clone())),
                new: tuple.clone(),
            },
            Message::Delete {
                relation: 1,
                old: OldTuple::Key(tuple.clone()),
            },
            Message::Delete {
                relation: 1,
                old: OldTuple::Full(tuple),
            },
            Message::Truncate {
                options: 0,
                relations: Vec::new(),
            },
            Message::Truncate {
                options: 1,
                relations: vec![1, 2, 3],
            },
            Message::Message {
                transactional: false,
                lsn: 4,
                prefix: "p".into(),
                content: Bytes::new(),
            },
        ]
    }

    #[test]
    fn every_message_decodes_from_its_encoding() {
        for message in samples() {
            let data = Bytes::from(encode(&message));
            assert_eq!(decode(&data), Ok(message));
        }
    }

    #[test]
    fn a_message_cut_short_anywhere_is_an_error() {
        let encodings = samples()
            .into_iter()
            .map(|message| Bytes::from(encode(&message)))
            .chain(CAPTURED.into_iter().map(hex));
        for data in encodings {
            for len in 0..data.len() {
                let err = decode(&data.slice(..len)).expect_err("a prefix decoded");
                assert!(err.offset() <= len, "{err}");
            }
        }
    }

    #[test]
    fn bytes_after_a_complete_message_are_an_error() {
        let mut data = encode(&samples()[0]);
        data.extend_from_slice(b"xy");
        assert_eq!(
            error(&data).to_string(),
            "pgoutput Begin message: 2 bytes left over at byte 21 after a complete message"
        );
    }

    #[test]
    fn a_count_larger_than_the_bytes_left_fails_before_allocating() {
        let relation = error(b"R\0\0\0\x01public\0t\0d\xff\xffabc");
        assert_eq!(
            relation.to_string(),
            "pgoutput Relation message: column count 65535 at byte 15 cannot fit (needs at \
             least 655350 bytes, 3 left)"
        );
        let insert = error(b"I\0\0\0\x01N\xff\xffnnn");
        assert!(matches!(
            insert.problem,
            Problem::CountTooLarge { count: 65535, .. }
        ));
        let truncate = error(b"T\xff\xff\xff\xff\x00\0\0\0\x01");
        assert!(matches!(
            truncate.problem,
            Problem::CountTooLarge {
                count: u32::MAX,
                ..
            }
        ));
    }

    #[test]
    fn a_count_the_bytes_left_can_just_hold_is_read() {
        // Three null columns take three bytes, the least a column can take.
        assert!(decode(&Bytes::from_static(b"I\0\0\0\x01N\0\x03nnn")).is_ok());
        assert!(matches!(
            error(b"I\0\0\0\x01N\0\x04nnn").problem,
            Problem::CountTooLarge { count: 4, .. }
        ));
        // A column with an empty name takes ten.
        let column = b"\0\0\0\0\0\x19\xff\xff\xff\xff";
        assert!(decode(&payload(&[b"R\0\0\0\x01\0t\0d\0\x01", column])).is_ok());
        assert!(matches!(
            error(&payload(&[b"R\0\0\0\x01\0t\0d\0\x02", column])).problem,
            Problem::CountTooLarge { count: 2, .. }
        ));
    }

    #[test]
    fn names_must_be_terminated_utf8() {
        assert_eq!(
            error(b"Y\0\0\0\x01public\0mo\xffd\0").to_string(),
            "pgoutput Type message: type name is not UTF-8 at byte 14"
        );
        assert_eq!(
            error(b"O\0\0\0\0\0\0\0\x01upstream").to_string(),
            "pgoutput Origin message: unterminated origin name at byte 9 (no NUL in the 8 \
             bytes left)"
        );
    }

    #[test]
    fn malformed_fields_are_named() {
        assert_eq!(
            error(b"I\0\0\0\x01N\0\x01t\xff\xff\xff\xff").to_string(),
            "pgoutput Insert message: negative column 1 length -1 at byte 9"
        );
        assert_eq!(
            error(b"I\0\0\0\x01N\0\x02nx").to_string(),
            "pgoutput Insert message: unexpected column 2 kind 'x' (0x78) at byte 9 \
             (expected 'n', 'u', 't' or 'b')"
        );
        assert_eq!(
            error(b"R\0\0\0\x01\0t\0x\0\0").to_string(),
            "pgoutput Relation message: unexpected replica identity 'x' (0x78) at byte 8 \
             (expected 'd', 'n', 'f' or 'i')"
        );
        assert_eq!(
            error(b"M\x01\0\0\0\0\0\0\0\x01p\0\xff\xff\xff\xfe").to_string(),
            "pgoutput logical decoding message: negative content length -2 at byte 12"
        );
    }
}
