//! Joining lines into multiline events, with Filebeat's `multiline.*` semantics.
//!
//! A line *matches* when `multiline.pattern` finds a match in it, inverted by
//! `multiline.negate`. With `multiline.match: after`, a matching line continues the
//! group before it: pattern `^\s` joins the indented frames of a Java stack trace to
//! their exception line, and pattern `^\d{4}-` with `negate: true` joins every line
//! not starting with a date to the dated line before it. With `before`, a matching
//! line is continued by the next one: pattern `\\$` joins lines ending in a backslash
//! with the line after them.
//!
//! The grouping is a pure state machine over [`Line`]s, so the file tailer owns time
//! (`multiline.timeout.ms` calls [`Multiline::flush`]) and positions stay exact: a
//! group's end is its last line's end, and nothing after a pending group is ever
//! acknowledged. A group stops at `multiline.max.lines` lines or before it would exceed
//! `max.line.bytes`; the next line then starts a new group rather than being dropped,
//! so no line of the file is lost.

use regex::Regex;

use super::lines::Line;

/// Whether a matching line joins the group before it or the line after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchMode {
    After,
    Before,
}

/// The `multiline.*` settings.
#[derive(Debug, Clone)]
pub(crate) struct MultilineRule {
    pub(crate) pattern: Regex,
    pub(crate) negate: bool,
    pub(crate) mode: MatchMode,
    pub(crate) max_lines: usize,
    pub(crate) max_bytes: usize,
}

impl MultilineRule {
    fn matches(&self, text: &str) -> bool {
        self.pattern.is_match(text) != self.negate
    }
}

/// One event: a group of lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) text: String,
    pub(crate) first_line: u64,
    /// The byte position just after the group's last line.
    pub(crate) end: u64,
    /// The number of the line starting at `end`.
    pub(crate) next_line: u64,
    lines: usize,
}

impl Group {
    fn new(line: Line) -> Group {
        Group {
            text: line.text,
            first_line: line.number,
            end: line.end,
            next_line: line.next_line,
            lines: 1,
        }
    }

    /// A single line as a group of its own (no multiline rule, or a split line).
    pub(crate) fn single(line: Line) -> Group {
        Group::new(line)
    }

    fn append(&mut self, line: Line) {
        self.text.push('\n');
        self.text.push_str(&line.text);
        self.end = line.end;
        self.next_line = line.next_line;
        self.lines += 1;
    }
}

/// The grouping state of one file.
#[derive(Debug)]
pub(crate) struct Multiline {
    rule: MultilineRule,
    pending: Option<Group>,
}

impl Multiline {
    pub(crate) fn new(rule: MultilineRule) -> Multiline {
        Multiline {
            rule,
            pending: None,
        }
    }

    /// Whether a group is waiting for more lines.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Adds the next line; `emit` receives every group this completes, in order.
    pub(crate) fn push(&mut self, line: Line, emit: &mut impl FnMut(Group)) {
        if line.split {
            // A piece of an over-long line says nothing about grouping: keep it whole
            // and on its own.
            self.flush_into(emit);
            emit(Group::single(line));
            return;
        }
        let matches = self.rule.matches(&line.text);
        match self.rule.mode {
            MatchMode::After => {
                if !matches {
                    self.flush_into(emit);
                }
                self.append_or_start(line, emit);
            }
            MatchMode::Before => {
                self.append_or_start(line, emit);
                if !matches {
                    self.flush_into(emit);
                }
            }
        }
    }

    /// The pending group, if any: its lines are complete and no more are coming in time.
    pub(crate) fn flush(&mut self) -> Option<Group> {
        self.pending.take()
    }

    fn flush_into(&mut self, emit: &mut impl FnMut(Group)) {
        if let Some(group) = self.pending.take() {
            emit(group);
        }
    }

    fn append_or_start(&mut self, line: Line, emit: &mut impl FnMut(Group)) {
        match &mut self.pending {
            Some(group)
                if group.lines < self.rule.max_lines
                    && group.text.len() + 1 + line.text.len() <= self.rule.max_bytes =>
            {
                group.append(line);
            }
            _ => {
                self.flush_into(emit);
                self.pending = Some(Group::new(line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, negate: bool, mode: MatchMode, max_lines: usize) -> Multiline {
        Multiline::new(MultilineRule {
            pattern: Regex::new(pattern).unwrap(),
            negate,
            mode,
            max_lines,
            max_bytes: 1 << 20,
        })
    }

    /// A group as (first line, text).
    type Seen = (u64, String);

    /// Feeds `text`'s lines and returns the groups, then the group still pending.
    fn run(multiline: &mut Multiline, text: &str) -> (Vec<Seen>, Option<Seen>) {
        let mut out = Vec::new();
        let mut end = 0;
        for (i, line) in text.lines().enumerate() {
            end += line.len() as u64 + 1;
            let line = Line {
                text: line.to_string(),
                number: i as u64 + 1,
                end,
                next_line: i as u64 + 2,
                split: false,
            };
            multiline.push(line, &mut |g: Group| out.push((g.first_line, g.text)));
        }
        (out, multiline.flush().map(|g| (g.first_line, g.text)))
    }

    const TRACE: &str = "2024-01-01 ERROR boom\n\
        java.lang.IllegalStateException: bad\n\
        \tat a.B.c(B.java:1)\n\
        \tat a.B.d(B.java:2)\n\
        2024-01-01 INFO next\n";

    #[test]
    fn after_joins_indented_lines_to_the_line_before() {
        let mut m = rule(r"^\s", false, MatchMode::After, 500);
        let (groups, pending) = run(&mut m, TRACE);
        assert_eq!(
            groups,
            [
                (1, "2024-01-01 ERROR boom".into()),
                (
                    2,
                    "java.lang.IllegalStateException: bad\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)"
                        .into()
                ),
            ]
        );
        assert_eq!(pending, Some((5, "2024-01-01 INFO next".into())));
    }

    #[test]
    fn negated_after_joins_every_undated_line_to_the_dated_one() {
        let mut m = rule(r"^\d{4}-", true, MatchMode::After, 500);
        let (groups, pending) = run(&mut m, TRACE);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].0, 1);
        assert_eq!(groups[0].1.lines().count(), 4);
        assert_eq!(pending, Some((5, "2024-01-01 INFO next".into())));
    }

    #[test]
    fn before_joins_a_matching_line_to_the_next() {
        let mut m = rule(r"\\$", false, MatchMode::Before, 500);
        let (groups, pending) = run(&mut m, "a \\\nb \\\nc\nd\ne \\\n");
        assert_eq!(groups, [(1, "a \\\nb \\\nc".into()), (4, "d".into())]);
        assert_eq!(pending, Some((5, "e \\".into())));
    }

    #[test]
    fn a_full_group_ends_and_the_next_line_starts_another() {
        let mut m = rule(r"^\s", false, MatchMode::After, 2);
        let (groups, pending) = run(&mut m, "a\n 1\n 2\n 3\nb\n");
        assert_eq!(groups, [(1, "a\n 1".into()), (3, " 2\n 3".into())]);
        assert_eq!(pending, Some((5, "b".into())));
    }

    #[test]
    fn a_group_never_exceeds_the_byte_limit() {
        let mut m = rule(r"^\s", false, MatchMode::After, 500);
        m.rule.max_bytes = 6;
        let (groups, pending) = run(&mut m, "abc\n d\n e\n");
        assert_eq!(groups, [(1, "abc\n d".into())]);
        assert_eq!(pending, Some((3, " e".into())));
    }

    #[test]
    fn a_group_ends_where_its_last_line_ends() {
        let mut m = rule(r"^\s", false, MatchMode::After, 500);
        let mut out = Vec::new();
        for (text, number, end) in [("a", 1, 2), (" b", 2, 5), ("c", 3, 7)] {
            let line = Line {
                text: text.into(),
                number,
                end,
                next_line: number + 1,
                split: false,
            };
            m.push(line, &mut |g: Group| out.push(g));
        }
        assert_eq!((out[0].end, out[0].next_line), (5, 3));
        assert!(m.has_pending());
    }

    #[test]
    fn a_split_line_stays_on_its_own() {
        let mut m = rule(r"^\s", false, MatchMode::After, 500);
        let mut out = Vec::new();
        let line = |text: &str, number, split| Line {
            text: text.into(),
            number,
            end: 0,
            next_line: number + 1,
            split,
        };
        m.push(line("a", 1, false), &mut |g: Group| out.push(g.text));
        m.push(line(" long", 2, true), &mut |g: Group| out.push(g.text));
        assert_eq!(out, ["a", " long"]);
        assert!(!m.has_pending());
    }
}
