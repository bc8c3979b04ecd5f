//! Splits a condition into tokens, each with the column it starts at.
//!
//! A dotted path (`value.user.id`, `header."trace.id"`) is one token, so a digit after
//! a dot (`value.items.0`) is a field name, never the start of a number.

use serde_json::Number;

use super::ConditionError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A word and the dotted segments after it: `value.user.id`, `contains`, `true`.
    Path(Vec<String>),
    Str(String),
    Num(Number),
    LParen,
    RParen,
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`.
    Sym(&'static str),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// 1-based, in characters.
    pub(super) column: usize,
    /// The source text, for "found `...`" in errors.
    pub(super) text: String,
}

impl Token {
    /// How an error names this token.
    pub(super) fn found(&self) -> String {
        match self.tok {
            Tok::End => "the end of the condition".to_string(),
            _ => format!("`{}`", self.text),
        }
    }
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

pub(super) fn tokenize(source: &str) -> Result<Vec<Token>, ConditionError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let column = i + 1;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '"' | '\'' => {
                let (text, end) = string(&chars, i)?;
                i = end;
                Tok::Str(text)
            }
            '0'..='9' | '-' => {
                let (number, end) = number(&chars, i)?;
                i = end;
                Tok::Num(number)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let (segments, end) = path(&chars, i)?;
                i = end;
                Tok::Path(segments)
            }
            _ => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let sym = ["==", "!=", "<=", ">=", "&&", "||"]
                    .into_iter()
                    .find(|s| *s == two)
                    .or_else(|| ["<", ">", "!"].into_iter().find(|s| s.starts_with(c)));
                match sym {
                    Some(sym) => {
                        i += sym.len();
                        Tok::Sym(sym)
                    }
                    None => {
                        let expected = match c {
                            '=' => "`==`",
                            '&' => "`&&`",
                            '|' => "`||`",
                            _ => "an operand, an operator or `(`",
                        };
                        return Err(ConditionError::new(
                            column,
                            format!("expected {expected}, found `{c}`"),
                        ));
                    }
                }
            }
        };
        tokens.push(Token {
            tok,
            column,
            text: chars[start..i].iter().collect(),
        });
    }
    tokens.push(Token {
        tok: Tok::End,
        column: chars.len() + 1,
        text: String::new(),
    });
    Ok(tokens)
}

/// A quoted string from `chars[start]` (its quote) to its closing quote; returns the
/// text and the index after the closing quote.
fn string(chars: &[char], start: usize) -> Result<(String, usize), ConditionError> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            c if c == quote => return Ok((text, i + 1)),
            '\\' => {
                let escaped = match chars.get(i + 1) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some(c @ ('\\' | '"' | '\'')) => *c,
                    other => {
                        let found = other.map_or("the end".to_string(), |c| format!("`{c}`"));
                        return Err(ConditionError::new(
                            i + 2,
                            format!(r#"expected an escape (\", \', \\, \n or \t), found {found}"#),
                        ));
                    }
                };
                text.push(escaped);
                i += 2;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(ConditionError::new(
        start + 1,
        format!("expected a closing {quote} for the string starting here"),
    ))
}

fn number(chars: &[char], start: usize) -> Result<(Number, usize), ConditionError> {
    let mut i = start + usize::from(chars[start] == '-');
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > from
    };
    let mut ok = digits(&mut i);
    let mut integral = true;
    if ok && chars.get(i) == Some(&'.') {
        i += 1;
        integral = false;
        ok = digits(&mut i);
    }
    if ok && matches!(chars.get(i), Some('e' | 'E')) {
        i += 1;
        integral = false;
        if matches!(chars.get(i), Some('+' | '-')) {
            i += 1;
        }
        ok = digits(&mut i);
    }
    let mut end = i;
    while end < chars.len() && word_char(chars[end]) {
        end += 1;
    }
    let text: String = chars[start..end].iter().collect();
    let parsed = if !ok || end > i {
        None
    } else if integral {
        text.parse::<i64>().ok().map(Number::from)
    } else {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    };
    match parsed {
        Some(number) => Ok((number, i)),
        _ => Err(ConditionError::new(
            start + 1,
            format!("expected a number, found `{text}`"),
        )),
    }
}

/// A word followed by `.segment`s, where a segment is a word or a quoted string.
fn path(chars: &[char], start: usize) -> Result<(Vec<String>, usize), ConditionError> {
    let mut i = start;
    let mut segments = Vec::new();
    loop {
        let from = i;
        if matches!(chars.get(i), Some('"' | '\'')) && !segments.is_empty() {
            let (text, end) = string(chars, i)?;
            segments.push(text);
            i = end;
        } else {
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            if i == from {
                let found = chars
                    .get(i)
                    .map_or("the end".to_string(), |c| format!("`{c}`"));
                return Err(ConditionError::new(
                    i + 1,
                    format!("expected a field name after `.`, found {found}"),
                ));
            }
            segments.push(chars[from..i].iter().collect());
        }
        if chars.get(i) != Some(&'.') {
            return Ok((segments, i));
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn splits_paths_literals_and_symbols() {
        assert_eq!(
            toks(r#"value.items.0 >= -1.5 && !(header."x.y" == 'a\'b')"#),
            [
                Tok::Path(vec!["value".into(), "items".into(), "0".into()]),
                Tok::Sym(">="),
                Tok::Num(Number::from_f64(-1.5).unwrap()),
                Tok::Sym("&&"),
                Tok::Sym("!"),
                Tok::LParen,
                Tok::Path(vec!["header".into(), "x.y".into()]),
                Tok::Sym("=="),
                Tok::Str("a'b".into()),
                Tok::RParen,
                Tok::End,
            ]
        );
        assert_eq!(
            toks("header.trace-id!=1e3"),
            [
                Tok::Path(vec!["header".into(), "trace-id".into()]),
                Tok::Sym("!="),
                Tok::Num(Number::from_f64(1000.0).unwrap()),
                Tok::End,
            ]
        );
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let err = |source: &str| tokenize(source).unwrap_err().to_string();
        assert_eq!(err("value.a = 1"), "at column 9: expected `==`, found `=`");
        assert_eq!(
            err("topic == \"logs"),
            "at column 10: expected a closing \" for the string starting here"
        );
        assert_eq!(
            err("value. == 1"),
            "at column 7: expected a field name after `.`, found ` `"
        );
        assert_eq!(
            err("value.a == 12ab"),
            "at column 12: expected a number, found `12ab`"
        );
        assert_eq!(err("a & b"), "at column 3: expected `&&`, found `&`");
    }
}
