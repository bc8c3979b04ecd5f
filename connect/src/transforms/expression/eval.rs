//! Evaluates a parsed condition against a record. Never fails: a missing field, a
//! value that is not an object, or operands of different types make a comparison
//! false.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::parser::{Expr, Op, Operand};
use crate::{Data, Record};

impl Expr {
    pub(super) fn eval(&self, record: &Record) -> bool {
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.eval(record)),
            Expr::And(terms) => terms.iter().all(|t| t.eval(record)),
            Expr::Not(inner) => !inner.eval(record),
            Expr::IsNull(operand) => resolve(operand, record).is_null(),
            Expr::Truthy(operand) => *resolve(operand, record) == Value::Bool(true),
            Expr::Matches(operand, regex) => match &*resolve(operand, record) {
                Value::String(text) => regex.is_match(text),
                _ => false,
            },
            Expr::Compare(op, left, right) => {
                compare(*op, &resolve(left, record), &resolve(right, record))
            }
        }
    }
}

/// The value an operand stands for in `record`; null when absent.
fn resolve<'r>(operand: &'r Operand, record: &'r Record) -> Cow<'r, Value> {
    match operand {
        Operand::Literal(value) => Cow::Borrowed(value),
        Operand::Value(path) => walk(&record.value, path),
        Operand::Key(path) => walk(&record.key, path),
        Operand::Topic => Cow::Owned(Value::from(record.topic.as_str())),
        Operand::Timestamp => Cow::Owned(record.timestamp.map_or(Value::Null, Value::from)),
        Operand::Partition => Cow::Owned(record.partition.map_or(Value::Null, Value::from)),
        Operand::Header(name) => Cow::Owned(
            record
                .header(name)
                .and_then(|h| h.value.as_ref())
                .map_or(Value::Null, |v| {
                    Value::from(String::from_utf8_lossy(v).into_owned())
                }),
        ),
    }
}

/// Follows `path` into a key or value: object fields by name, array items by index.
/// Bytes are read as UTF-8 text when the path is empty.
fn walk<'r>(data: &'r Data, path: &[String]) -> Cow<'r, Value> {
    const NULL: &Value = &Value::Null;
    let root = match data {
        Data::Null => return Cow::Borrowed(NULL),
        Data::Bytes(bytes) if path.is_empty() => {
            return Cow::Owned(Value::from(String::from_utf8_lossy(bytes).into_owned()))
        }
        Data::Bytes(_) => return Cow::Borrowed(NULL),
        Data::Json(value) => value,
        // Only reached outside a chain, which parses JSON text first.
        Data::JsonText(text) => {
            let parsed: Value = serde_json::from_slice(text).unwrap_or(Value::Null);
            return Cow::Owned(follow(&parsed, path).into_owned());
        }
    };
    follow(root, path)
}

fn follow<'r>(root: &'r Value, path: &[String]) -> Cow<'r, Value> {
    const NULL: &Value = &Value::Null;
    let found = path
        .iter()
        .try_fold(root, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        });
    Cow::Borrowed(found.unwrap_or(NULL))
}

/// Comparisons with a null operand are false; null checks are parsed to
/// [`Expr::IsNull`] instead.
fn compare(op: Op, left: &Value, right: &Value) -> bool {
    if left.is_null() || right.is_null() {
        return false;
    }
    match op {
        Op::Eq => equal(left, right),
        Op::Ne => !equal(left, right),
        Op::Lt => order(left, right) == Some(Ordering::Less),
        Op::Le => matches!(order(left, right), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order(left, right) == Some(Ordering::Greater),
        Op::Ge => matches!(
            order(left, right),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        Op::Contains => match (left, right) {
            (Value::String(text), Value::String(part)) => text.contains(part.as_str()),
            (Value::Array(items), item) => items.iter().any(|i| equal(i, item)),
            _ => false,
        },
        Op::StartsWith => match (left, right) {
            (Value::String(text), Value::String(prefix)) => text.starts_with(prefix.as_str()),
            _ => false,
        },
        Op::EndsWith => match (left, right) {
            (Value::String(text), Value::String(suffix)) => text.ends_with(suffix.as_str()),
            _ => false,
        },
    }
}

/// JSON equality, with numbers equal by value (`1 == 1.0`).
fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(_), Value::Number(_)) => order(left, right) == Some(Ordering::Equal),
        _ => left == right,
    }
}

/// Numbers by value, strings by their characters; anything else is unordered.
fn order(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
        },
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}
