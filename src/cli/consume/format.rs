//! kcat-style output templates for `weir consume --format`.

use std::io::Write as _;

use anyhow::bail;
use rdkafka::message::{Headers as _, Message};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Key,
    Value,
    KeyLength,
    ValueLength,
    Partition,
    Offset,
    Timestamp,
    Headers,
    Topic,
}

/// A template parsed once, rendered per record without re-parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `%k %v %p %o %T %h %t %K %S %%` and the escapes `\n \t \r \\`.
    pub(super) fn parse(text: &str) -> anyhow::Result<Template> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' => match chars.next() {
                    Some('k') => Piece::Key,
                    Some('v' | 's') => Piece::Value,
                    Some('K') => Piece::KeyLength,
                    Some('S') => Piece::ValueLength,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('T') => Piece::Timestamp,
                    Some('h') => Piece::Headers,
                    Some('t') => Piece::Topic,
                    Some('%') => {
                        literal.push(b'%');
                        continue;
                    }
                    Some(other) => bail!("unknown format placeholder %{other} in {text:?}"),
                    None => bail!("format {text:?} ends with a lone %"),
                },
                '\\' => {
                    let escaped = match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('\\') => '\\',
                        Some(other) => bail!("unknown escape \\{other} in {text:?}"),
                        None => '\\',
                    };
                    let mut buf = [0; 4];
                    literal.extend_from_slice(escaped.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                other => {
                    let mut buf = [0; 4];
                    literal.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// Appends the rendering of `message` to `out` (no trailing newline).
    pub(super) fn render(&self, message: &impl Message, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            // Writing into a Vec cannot fail.
            let _ = match piece {
                Piece::Literal(bytes) => out.write_all(bytes),
                Piece::Key => out.write_all(message.key().unwrap_or_default()),
                Piece::Value => out.write_all(message.payload().unwrap_or_default()),
                Piece::KeyLength => write!(out, "{}", message.key().map_or(-1, len)),
                Piece::ValueLength => write!(out, "{}", message.payload().map_or(-1, len)),
                Piece::Partition => write!(out, "{}", message.partition()),
                Piece::Offset => write!(out, "{}", message.offset()),
                Piece::Timestamp => {
                    write!(out, "{}", message.timestamp().to_millis().unwrap_or(-1))
                }
                Piece::Topic => out.write_all(message.topic().as_bytes()),
                Piece::Headers => {
                    if let Some(headers) = message.headers() {
                        for (i, h) in headers.iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            out.extend_from_slice(h.key.as_bytes());
                            out.push(b'=');
                            out.extend_from_slice(h.value.unwrap_or_default());
                        }
                    }
                    Ok(())
                }
            };
        }
    }
}

fn len(bytes: &[u8]) -> i64 {
    i64::try_from(bytes.len()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placeholders_literals_and_escapes() {
        let t = Template::parse("%k=%v\\t%p@%o %%").unwrap();
        assert_eq!(
            t.pieces,
            vec![
                Piece::Key,
                Piece::Literal(b"=".to_vec()),
                Piece::Value,
                Piece::Literal(b"\t".to_vec()),
                Piece::Partition,
                Piece::Literal(b"@".to_vec()),
                Piece::Offset,
                Piece::Literal(b" %".to_vec()),
            ]
        );
    }

    #[test]
    fn rejects_unknown_placeholder() {
        assert!(Template::parse("%x").is_err());
        assert!(Template::parse("abc%").is_err());
    }
}
