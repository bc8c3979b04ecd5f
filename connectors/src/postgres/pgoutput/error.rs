//! Why a payload is not a `pgoutput` message, said as precisely as the bytes allow.

use std::fmt;

/// A payload that is not a well-formed `pgoutput` message the connector asked for:
/// the server speaks a protocol other than the one requested, or the stream is
/// corrupt. Retrying the same payload cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// The message type's name; `None` when there is no known tag to name it by.
    pub(super) message: Option<&'static str>,
    pub(super) offset: usize,
    pub(super) problem: Problem,
}

impl DecodeError {
    /// Where in the payload the problem is (the tag is byte 0).
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
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
pub(super) enum Field {
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
