//! PostgreSQL's text formats for arrays (`{1,2,NULL}`, `{"a b","c\"d"}`,
//! `[0:1]={1,2}`, `{{1,2},{3,4}}`) and `hstore` (`"k"=>"v", "n"=>NULL`).
//!
//! A multi-dimensional array comes out flattened in row-major order: PostgreSQL gives
//! `int4[]` and `int4[][]` one type, so a column's Connect schema cannot know the
//! dimensions, and a flat array of elements is what that schema describes.

use std::borrow::Cow;

use super::Bad;

const BAD_ARRAY: Bad = Bad::Malformed("not an array literal");
const BAD_HSTORE: Bad = Bad::Malformed("not an hstore literal");

/// One element: `None` for an unquoted `NULL`. Borrowed unless it had escapes.
pub(super) type Element<'a> = Option<Cow<'a, str>>;

/// The elements of an array's text, flattened. `delimiter` is the element type's
/// `typdelim`: `,` for every built-in type but `box`, which uses `;`.
pub(super) fn parse_array(text: &str, delimiter: u8) -> Result<Vec<Element<'_>>, Bad> {
    // A lower bound other than 1 is written as a `[lo:hi]…=` prefix; the bounds do not
    // survive into a Connect array.
    let body = if text.starts_with('[') {
        &text[text.find('=').ok_or(BAD_ARRAY)? + 1..]
    } else {
        text
    };
    let b = body.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(BAD_ARRAY);
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth = depth.checked_sub(1).ok_or(BAD_ARRAY)?;
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            c if c == delimiter || c.is_ascii_whitespace() => i += 1,
            b'"' => {
                let (element, next) = quoted(body, i).ok_or(BAD_ARRAY)?;
                out.push(Some(element));
                i = next;
            }
            _ => {
                let start = i;
                while i < b.len() && b[i] != delimiter && b[i] != b'}' && b[i] != b'{' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let raw = body.get(start..i.min(b.len())).ok_or(BAD_ARRAY)?.trim_end();
                if raw.eq_ignore_ascii_case("NULL") {
                    out.push(None);
                } else {
                    out.push(Some(unescape(raw)));
                }
            }
        }
    }
    if depth != 0 || skip_space(b, i) != b.len() {
        return Err(BAD_ARRAY);
    }
    Ok(out)
}

/// The pairs of an `hstore`'s text, in the order PostgreSQL wrote them.
pub(super) fn parse_hstore(text: &str) -> Result<Vec<(Cow<'_, str>, Element<'_>)>, Bad> {
    let b = text.as_bytes();
    let mut pairs = Vec::new();
    let mut i = skip_space(b, 0);
    while i < b.len() {
        if b[i] != b'"' {
            return Err(BAD_HSTORE);
        }
        let (key, next) = quoted(text, i).ok_or(BAD_HSTORE)?;
        i = skip_space(b, next);
        if !b[i..].starts_with(b"=>") {
            return Err(BAD_HSTORE);
        }
        i = skip_space(b, i + 2);
        let value = if b.get(i) == Some(&b'"') {
            let (value, next) = quoted(text, i).ok_or(BAD_HSTORE)?;
            i = next;
            Some(value)
        } else if b.len() >= i + 4 && b[i..i + 4].eq_ignore_ascii_case(b"NULL") {
            i += 4;
            None
        } else {
            return Err(BAD_HSTORE);
        };
        pairs.push((key, value));
        i = skip_space(b, i);
        match b.get(i) {
            None => break,
            Some(b',') => i = skip_space(b, i + 1),
            Some(_) => return Err(BAD_HSTORE),
        }
    }
    Ok(pairs)
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The double-quoted string starting at `start`, its escapes undone, and the index
/// after its closing quote.
fn quoted(text: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let b = text.as_bytes();
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((unescape(&text[start + 1..i]), i + 1)),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Drops each backslash and keeps the byte after it.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<Option<String>> {
        parse_array(text, b',')
            .unwrap()
            .into_iter()
            .map(|e| e.map(Cow::into_owned))
            .collect()
    }

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some(v.to_string())).collect()
    }

    #[test]
    fn arrays_read_nulls_and_quoting() {
        assert_eq!(elements("{}"), Vec::<Option<String>>::new());
        assert_eq!(
            elements("{1,2,NULL}"),
            vec![Some("1".into()), Some("2".into()), None]
        );
        assert_eq!(
            elements(r#"{"a b","c\"d","e\\f"}"#),
            some(&["a b", "c\"d", "e\\f"])
        );
        // A quoted "NULL" is the string, not a null.
        assert_eq!(
            elements(r#"{"NULL",null}"#),
            vec![Some("NULL".into()), None]
        );
        assert_eq!(elements(r#"{"",""}"#), some(&["", ""]));
        assert_eq!(elements(r#"{"{x}","a,b"}"#), some(&["{x}", "a,b"]));
        assert_eq!(elements("{é,日本}"), some(&["é", "日本"]));
        assert_eq!(elements("{ 1 , 2 }"), some(&["1", "2"]));
    }

    #[test]
    fn nested_arrays_flatten_row_major() {
        assert_eq!(elements("{{1,2},{3,4}}"), some(&["1", "2", "3", "4"]));
        assert_eq!(
            elements("{{{1},{NULL}},{{3},{4}}}"),
            vec![Some("1".into()), None, Some("3".into()), Some("4".into())]
        );
    }

    #[test]
    fn dimension_prefixes_are_skipped() {
        assert_eq!(elements("[0:1]={1,2}"), some(&["1", "2"]));
        assert_eq!(
            elements("[0:1][1:2]={{1,2},{3,4}}"),
            some(&["1", "2", "3", "4"])
        );
    }

    #[test]
    fn box_arrays_use_semicolons() {
        let boxes: Vec<_> = parse_array("{(1,1),(0,0);(2,2),(1,1)}", b';')
            .unwrap()
            .into_iter()
            .map(|e| e.unwrap().into_owned())
            .collect();
        assert_eq!(boxes, ["(1,1),(0,0)", "(2,2),(1,1)"]);
    }

    #[test]
    fn malformed_arrays_are_refused() {
        for bad in ["", "1,2", "{1,2", "{1,2}}", "{\"a}", "[0:1]{1}", "{1} x"] {
            assert!(parse_array(bad, b',').is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hstore_pairs_keep_order_nulls_and_escapes() {
        let pairs = parse_hstore(r#""b"=>"1", "a"=>NULL, "q\"k"=>"v\\w""#).unwrap();
        let pairs: Vec<_> = pairs
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.map(Cow::into_owned)))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("b".into(), Some("1".into())),
                ("a".into(), None),
                ("q\"k".into(), Some("v\\w".into())),
            ]
        );
        assert!(parse_hstore("").unwrap().is_empty());
        for bad in [r#""a"=>"#, r#""a""b""#, r#"a=>b"#, r#""a"=>"b" "c"=>"d""#] {
            assert!(parse_hstore(bad).is_err(), "{bad:?}");
        }
    }
}
