//! A YAML document as a tree that remembers the line of every node, so problems in a
//! pipeline point at the line to fix. Built from yaml-rust2's event parser, whose own
//! tree drops positions.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A node and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// Any other scalar, as written: YAML's numbers and booleans are config strings.
    Scalar(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys are kept for the caller to report.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What the node is, for messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Scalar(_) => "a value",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

/// A YAML syntax error at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) message: String,
}

/// The first document of `text`; `None` when it has none.
pub(super) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| syntax_error(e.marker(), e.info()))?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.root)
}

fn syntax_error(mark: &Marker, message: &str) -> SyntaxError {
    SyntaxError {
        line: mark.line(),
        column: mark.col() + 1,
        message: message.to_string(),
    }
}

enum Frame {
    Seq(Node, usize, Vec<Node>),
    Map(Node, usize, Vec<(Node, Node)>, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, entries, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let at = |value| Node {
            line: mark.line(),
            column: mark.col() + 1,
            value,
        };
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let value = if null {
                    Value::Null
                } else {
                    Value::Scalar(text)
                };
                self.complete(at(value), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push(Frame::Seq(at(Value::Null), anchor, Vec::new()))
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Frame::Map(at(Value::Null), anchor, Vec::new(), None))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(mut node, anchor, items)) => {
                    node.value = Value::Seq(items);
                    self.complete(node, anchor);
                }
                Some(Frame::Map(mut node, anchor, entries, _)) => {
                    node.value = Value::Map(entries);
                    self.complete(node, anchor);
                }
                None => {}
            },
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(node) => self.complete(node.clone(), 0),
                None => self.error = Some(syntax_error(&mark, "unknown anchor")),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> (&str, usize) {
        match &node.value {
            Value::Scalar(s) => (s, node.line),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn remembers_the_line_of_every_key_and_value() {
        let root = parse("name: a\nsource:\n  file:\n    paths: [x, 'y']\n  n: 1\n")
            .unwrap()
            .unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("{root:?}")
        };
        assert_eq!(scalar(&entries[0].0), ("name", 1));
        assert_eq!(scalar(&entries[1].0), ("source", 2));
        let Value::Map(source) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(scalar(&source[0].0), ("file", 3));
        assert_eq!(scalar(&source[1].1), ("1", 5));
        let Value::Map(file) = &source[0].1.value else {
            panic!()
        };
        let Value::Seq(paths) = &file[0].1.value else {
            panic!()
        };
        assert_eq!(scalar(&paths[1]), ("y", 4));
    }

    #[test]
    fn nulls_and_quoted_nulls_differ() {
        let root = parse("a:\nb: ~\nc: 'null'\n").unwrap().unwrap();
        let Value::Map(entries) = root.value else {
            panic!()
        };
        assert_eq!(entries[0].1.value, Value::Null);
        assert_eq!(entries[1].1.value, Value::Null);
        assert_eq!(entries[2].1.value, Value::Scalar("null".into()));
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let root = parse("a: &u redis://x\nb: *u\n").unwrap().unwrap();
        let Value::Map(entries) = root.value else {
            panic!()
        };
        assert_eq!(entries[1].1.value, Value::Scalar("redis://x".into()));
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let err = parse("name: a\nsource:\n  topic: [a, b\n").unwrap_err();
        assert_eq!(err.line, 4, "{err:?}");
        let err = parse("a: 'unclosed\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 4), "{err:?}");
        assert_eq!(parse("# nothing\n").unwrap(), None);
    }
}
