//! Recursive descent from tokens to a condition tree, with precedence `!` over
//! comparisons over `&&` over `||`:
//!
//! ```text
//! condition  = or END
//! or         = and { "||" and }
//! and        = not { "&&" not }
//! not        = "!" not | "(" or ")" | comparison
//! comparison = operand [ operator operand ]
//! operator   = "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains"
//!            | "startsWith" | "starts_with" | "endsWith" | "ends_with" | "matches"
//! operand    = string | number | "true" | "false" | "null" | "topic" | "timestamp"
//!            | "partition" | "header." name | "value" { "." name } | "key" { "." name }
//! ```
//!
//! Comparisons with the `null` literal become null checks here, and a `matches`
//! pattern is compiled here, so evaluation never fails.

use regex::Regex;
use serde_json::Value;

use super::lexer::{Tok, Token};
use super::ConditionError;
use crate::transforms::regex_router::whole_match;

#[derive(Debug, Clone)]
pub(super) enum Expr {
    /// Two or more alternatives; a list, so a long chain does not nest.
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Op, Operand, Operand),
    IsNull(Operand),
    Matches(Operand, Regex),
    /// An operand on its own: true when it is the boolean `true`.
    Truthy(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Literal(Value),
    /// A path into the value; empty for the whole value.
    Value(Vec<String>),
    Key(Vec<String>),
    Topic,
    Header(String),
    Timestamp,
    Partition,
}

const OPERATORS: &str = "==, !=, <, <=, >, >=, contains, startsWith, endsWith, matches";

pub(super) fn parse(tokens: &[Token]) -> Result<Expr, ConditionError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    let next = parser.peek();
    if next.tok != Tok::End {
        return Err(parser.expected(next, "`&&`, `||` or the end of the condition"));
    }
    Ok(expr)
}

/// How deep `(` and `!` may nest: parsing and evaluation recurse once per level, so a
/// bound keeps a hostile condition from exhausting the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
}

/// What may start an operand, for errors.
const OPERAND: &str =
    "value, key, topic, header.<name>, timestamp, partition, a string, a number, true, false, null, `!` or `(`";

impl<'t> Parser<'t> {
    fn peek(&self) -> &'t Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> &'t Token {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn eat(&mut self, sym: &str) -> bool {
        let hit = matches!(self.peek().tok, Tok::Sym(s) if s == sym);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expected(&self, token: &Token, what: &str) -> ConditionError {
        ConditionError::new(
            token.column,
            format!("expected {what}, found {}", token.found()),
        )
    }

    fn or(&mut self) -> Result<Expr, ConditionError> {
        let mut terms = vec![self.and()?];
        while self.eat("||") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, ConditionError> {
        let mut terms = vec![self.not()?];
        while self.eat("&&") {
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn not(&mut self) -> Result<Expr, ConditionError> {
        let token = self.peek();
        if matches!(token.tok, Tok::LParen | Tok::Sym("!")) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ConditionError::new(
                    token.column,
                    format!("expected at most {MAX_DEPTH} nested `(` and `!`"),
                ));
            }
            let inner = self.nested();
            self.depth -= 1;
            return inner;
        }
        self.comparison()
    }

    /// A `!` or a parenthesized condition, one nesting level down.
    fn nested(&mut self) -> Result<Expr, ConditionError> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        let open = self.next();
        let inner = self.or()?;
        let close = self.next();
        if close.tok != Tok::RParen {
            return Err(self.expected(
                close,
                &format!(
                    "`&&`, `||` or `)` to close the `(` at column {}",
                    open.column
                ),
            ));
        }
        Ok(inner)
    }

    fn comparison(&mut self) -> Result<Expr, ConditionError> {
        let left = self.operand()?;
        let token = self.peek();
        let word = match &token.tok {
            Tok::Path(words) if words.len() == 1 => words[0].as_str(),
            _ => "",
        };
        let op = match (&token.tok, word) {
            (Tok::Sym("=="), _) => Op::Eq,
            (Tok::Sym("!="), _) => Op::Ne,
            (Tok::Sym("<"), _) => Op::Lt,
            (Tok::Sym("<="), _) => Op::Le,
            (Tok::Sym(">"), _) => Op::Gt,
            (Tok::Sym(">="), _) => Op::Ge,
            (_, "contains") => Op::Contains,
            (_, "startsWith" | "starts_with") => Op::StartsWith,
            (_, "endsWith" | "ends_with") => Op::EndsWith,
            (_, "matches") => {
                self.pos += 1;
                return self.matches(left);
            }
            (Tok::Sym("&&" | "||") | Tok::RParen | Tok::End, _) => return Ok(Expr::Truthy(left)),
            _ => {
                return Err(self.expected(
                    token,
                    &format!("an operator ({OPERATORS}), `&&`, `||` or the end"),
                ))
            }
        };
        self.pos += 1;
        let right = self.operand()?;
        let null = Operand::Literal(Value::Null);
        if left != null && right != null {
            return Ok(Expr::Compare(op, left, right));
        }
        let other = if left == null { right } else { left };
        match op {
            Op::Eq => Ok(Expr::IsNull(other)),
            Op::Ne => Ok(Expr::Not(Box::new(Expr::IsNull(other)))),
            _ => Err(ConditionError::new(
                token.column,
                format!(
                    "expected `==` or `!=` before or after null, found {}",
                    token.found()
                ),
            )),
        }
    }

    fn matches(&mut self, left: Operand) -> Result<Expr, ConditionError> {
        let token = self.next();
        let Tok::Str(pattern) = &token.tok else {
            return Err(self.expected(token, "a quoted regular expression after `matches`"));
        };
        let regex = whole_match(pattern).map_err(|why| ConditionError::new(token.column, why))?;
        Ok(Expr::Matches(left, regex))
    }

    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let token = self.next();
        let words = match &token.tok {
            Tok::Str(text) => return Ok(Operand::Literal(Value::from(text.as_str()))),
            Tok::Num(number) => return Ok(Operand::Literal(Value::Number(number.clone()))),
            Tok::Path(words) => words,
            _ => return Err(self.expected(token, OPERAND)),
        };
        let rest = &words[1..];
        let single = |operand: Operand| {
            if rest.is_empty() {
                Ok(operand)
            } else {
                Err(ConditionError::new(
                    token.column,
                    format!("expected `{}` alone, found `{}`", words[0], token.text),
                ))
            }
        };
        match words[0].as_str() {
            "value" => Ok(Operand::Value(rest.to_vec())),
            "key" => Ok(Operand::Key(rest.to_vec())),
            "topic" => single(Operand::Topic),
            "timestamp" => single(Operand::Timestamp),
            "partition" => single(Operand::Partition),
            "true" => single(Operand::Literal(Value::Bool(true))),
            "false" => single(Operand::Literal(Value::Bool(false))),
            "null" => single(Operand::Literal(Value::Null)),
            "header" => match rest {
                [name] => Ok(Operand::Header(name.clone())),
                _ => Err(ConditionError::new(
                    token.column,
                    format!("expected header.<name>, found `{}`", token.text),
                )),
            },
            _ => Err(self.expected(token, OPERAND)),
        }
    }
}
