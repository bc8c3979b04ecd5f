//! Writing change events straight as JSON text. Building a `serde_json::Value` tree
//! per event (a map per row, per key, per envelope and per `source` block) cost more
//! than everything else on the streaming path together, so events are written once,
//! as the JSON converter would print them, and passed on as `Data::JsonText`.

/// `text` as a JSON string, escaped.
pub(crate) fn string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

pub(crate) fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(crate) fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(crate) fn opt_uint(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => uint(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// Raw JSON text, or `null`.
pub(crate) fn opt_raw(out: &mut Vec<u8>, text: Option<&[u8]>) {
    out.extend_from_slice(text.unwrap_or(b"null"));
}

/// `"name":`, as an object's field is introduced.
pub(crate) fn field_name(name: &str) -> Box<[u8]> {
    let mut out = Vec::with_capacity(name.len() + 3);
    string(&mut out, name);
    out.push(b':');
    out.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_valid_json() {
        let mut out = b"{".to_vec();
        out.extend_from_slice(&field_name("we\"ird\n"));
        string(&mut out, "tab\there");
        out.push(b',');
        out.extend_from_slice(&field_name("n"));
        int(&mut out, i64::MIN);
        out.push(b',');
        out.extend_from_slice(&field_name("u"));
        opt_uint(&mut out, None);
        out.push(b'}');
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"we\"ird\n": "tab\there", "n": i64::MIN, "u": null})
        );
    }
}
