//! Splitting a file's bytes into lines, with the byte position and line number each
//! one ends at, so every record can carry the exact position to resume from.
//!
//! Only complete lines (ending in `\n`) come out: a partial last line stays buffered
//! until the writer finishes it. A line longer than `max.line.bytes` is the exception:
//! it comes out in pieces of at most that many bytes (cut on a UTF-8 character
//! boundary), so one runaway line neither exhausts memory nor becomes a record the log
//! refuses. Splitting rather than truncating keeps every byte of the file in the topic.

use memchr::memchr;

/// A line, or a piece of an over-long one, as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The text without its `\n` or `\r\n`; invalid UTF-8 is replaced (U+FFFD).
    pub(crate) text: String,
    /// The 1-based number of the line this text belongs to.
    pub(crate) number: u64,
    /// The byte position just after this text (after its newline, when it has one).
    pub(crate) end: u64,
    /// The number of the line starting at `end`: `number + 1`, or `number` after a
    /// piece that does not finish its line.
    pub(crate) next_line: u64,
    /// A piece of a line longer than `max.line.bytes`.
    pub(crate) split: bool,
}

/// The bytes of one file read so far and not yet returned as lines.
#[derive(Debug)]
pub(crate) struct LineReader {
    buf: Vec<u8>,
    /// Index in `buf` of the first byte not yet returned.
    start: usize,
    /// `buf[start..start + scanned]` is known to hold no newline.
    scanned: usize,
    /// The file position of `buf[start]`: just after the last line returned.
    pos: u64,
    /// The number of the line starting at `pos`.
    line: u64,
    max_bytes: usize,
    /// A piece of the current line was returned; the rest of it comes out as pieces.
    in_split: bool,
}

impl LineReader {
    /// A reader positioned at byte `pos`, where line number `line` starts.
    pub(crate) fn new(pos: u64, line: u64, max_bytes: usize) -> LineReader {
        LineReader {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            pos,
            line,
            max_bytes: max_bytes.max(1),
            in_split: false,
        }
    }

    /// The file position to read from next: after every buffered byte.
    pub(crate) fn read_pos(&self) -> u64 {
        self.pos + (self.buf.len() - self.start) as u64
    }

    /// Forgets everything buffered and starts again at `pos` (a truncated file).
    pub(crate) fn reset(&mut self, pos: u64, line: u64) {
        *self = LineReader::new(pos, line, self.max_bytes);
    }

    /// Appends bytes read at [`LineReader::read_pos`].
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // Only a partial line is left before `start`'s successor bytes; moving it
            // down is cheaper than letting the buffer grow with consumed lines.
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line or piece, if the buffer holds one.
    pub(crate) fn next_line(&mut self) -> Option<Line> {
        let rest = &self.buf[self.start..];
        let newline = memchr(b'\n', &rest[self.scanned..]).map(|i| self.scanned + i);
        match newline {
            Some(at) => {
                let content = if at > 0 && rest[at - 1] == b'\r' {
                    at - 1
                } else {
                    at
                };
                if content > self.max_bytes {
                    return Some(self.piece());
                }
                Some(self.take(content, at + 1, true))
            }
            None => {
                self.scanned = rest.len();
                // One byte of slack: a `\r` that turns out to precede the newline.
                if rest.len() > self.max_bytes + 1 {
                    Some(self.piece())
                } else {
                    None
                }
            }
        }
    }

    /// The buffered bytes of an unfinished last line, for a file that will not grow
    /// again (deleted or rotated away).
    pub(crate) fn take_partial(&mut self) -> Option<Line> {
        let len = self.buf.len() - self.start;
        if len == 0 {
            return None;
        }
        Some(self.take(len, len, false))
    }

    /// The first `max.line.bytes` of an over-long line, cut on a character boundary.
    fn piece(&mut self) -> Line {
        let rest = &self.buf[self.start..];
        let mut cut = self.max_bytes;
        // A UTF-8 continuation byte (0b10xx_xxxx) cannot start a piece.
        while cut > 0 && rest[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        if cut == 0 {
            cut = self.max_bytes;
        }
        self.in_split = true;
        let mut line = self.take(cut, cut, false);
        line.split = true;
        line
    }

    /// Returns `rest[..content]` as a line and consumes `consumed` bytes.
    fn take(&mut self, content: usize, consumed: usize, ends_line: bool) -> Line {
        let bytes = &self.buf[self.start..self.start + content];
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        };
        let number = self.line;
        self.start += consumed;
        self.scanned = 0;
        self.pos += consumed as u64;
        let split = self.in_split;
        if ends_line {
            self.line += 1;
            self.in_split = false;
        }
        Line {
            text,
            number,
            end: self.pos,
            next_line: self.line,
            split,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(reader: &mut LineReader) -> Vec<(String, u64, u64, bool)> {
        std::iter::from_fn(|| reader.next_line())
            .map(|l| (l.text, l.number, l.end, l.split))
            .collect()
    }

    #[test]
    fn returns_complete_lines_with_positions_and_keeps_the_partial_one() {
        let mut reader = LineReader::new(0, 1, 100);
        reader.extend(b"one\r\ntwo\nthr");
        assert_eq!(
            lines(&mut reader),
            [("one".into(), 1, 5, false), ("two".into(), 2, 9, false)]
        );
        assert_eq!(reader.read_pos(), 12);
        reader.extend(b"ee\n\n");
        assert_eq!(
            lines(&mut reader),
            [
                ("three".into(), 3, 15, false),
                (String::new(), 4, 16, false)
            ]
        );
        assert_eq!(reader.next_line(), None);
    }

    #[test]
    fn resumes_numbering_from_a_stored_position() {
        let mut reader = LineReader::new(100, 7, 100);
        reader.extend(b"x\n");
        assert_eq!(lines(&mut reader), [("x".into(), 7, 102, false)]);
    }

    #[test]
    fn splits_a_line_longer_than_the_limit_into_pieces() {
        let mut reader = LineReader::new(0, 1, 4);
        reader.extend(b"abcdefghij\nok\n");
        assert_eq!(
            lines(&mut reader),
            [
                ("abcd".into(), 1, 4, true),
                ("efgh".into(), 1, 8, true),
                ("ij".into(), 1, 11, true),
                ("ok".into(), 2, 14, false),
            ]
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_whole() {
        let mut reader = LineReader::new(0, 1, 4);
        reader.extend(b"abcd\r\n");
        assert_eq!(lines(&mut reader), [("abcd".into(), 1, 6, false)]);
    }

    #[test]
    fn splits_an_unfinished_long_line_before_its_newline_arrives() {
        let mut reader = LineReader::new(0, 1, 4);
        reader.extend(b"abcdef");
        assert_eq!(lines(&mut reader), [("abcd".into(), 1, 4, true)]);
        reader.extend(b"g\n");
        assert_eq!(lines(&mut reader), [("efg".into(), 1, 8, true)]);
    }

    #[test]
    fn cuts_pieces_on_character_boundaries() {
        let mut reader = LineReader::new(0, 1, 4);
        reader.extend("aéé\n".as_bytes());
        assert_eq!(
            lines(&mut reader),
            [("aé".into(), 1, 3, true), ("é".into(), 1, 6, true)]
        );
    }

    #[test]
    fn replaces_invalid_utf8() {
        let mut reader = LineReader::new(0, 1, 100);
        reader.extend(b"a\xffb\n");
        assert_eq!(lines(&mut reader), [("a\u{fffd}b".into(), 1, 4, false)]);
    }

    #[test]
    fn hands_over_the_partial_line_of_a_finished_file() {
        let mut reader = LineReader::new(0, 1, 100);
        reader.extend(b"a\nlast");
        assert_eq!(lines(&mut reader).len(), 1);
        let last = reader.take_partial().unwrap();
        assert_eq!((last.text.as_str(), last.number, last.end), ("last", 2, 6));
        assert_eq!(reader.take_partial(), None);
    }
}
