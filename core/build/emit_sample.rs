//! Emits test-only `sample(version)` constructors: every field present in the version
//! holds a non-default value, so round-trip tests exercise every field's encoding,
//! including tagged fields (which are only written when they differ from default).

use std::fmt::Write;

use crate::emit_struct::{default_expr, int_default};
use crate::model::{Field, Message, Prim, Struct, Ty};

pub(crate) fn sample_impl(m: &Message, s: &Struct) -> String {
    let mut out = String::new();
    writeln!(out, "    #[cfg(test)]\n    impl {} {{", s.name).unwrap();
    let mut body = String::new();
    for (i, f) in s.fields.iter().enumerate() {
        let value = sample_value(f, i);
        let value = if f.is_option() {
            format!("Some({value})")
        } else {
            value
        };
        let expr = match f.versions.condition(m.valid) {
            None => value,
            // `if c { true } else { false }` is just `c` (clippy::needless_bool).
            Some(c) if value == "true" && default_expr(f) == "false" => c,
            Some(c) if value == "false" && default_expr(f) == "true" => negate(&c),
            Some(c) if c == "false" => default_expr(f),
            Some(c) => format!("if {c} {{ {value} }} else {{ {} }}", default_expr(f)),
        };
        writeln!(body, "                {}: {expr},", f.rust_name).unwrap();
    }
    if m.ever_flexible() {
        let unknown = "vec![crate::protocol::RawTaggedField { tag: 90, data: Bytes::from_static(b\"\\x2a\") }]";
        let expr = match m.flexible.condition(m.valid) {
            None => unknown.to_owned(),
            Some(c) => format!("if {c} {{ {unknown} }} else {{ Vec::new() }}"),
        };
        writeln!(body, "                unknown_tagged_fields: {expr},").unwrap();
    }
    let version = if crate::emit_codec::mentions(&body, "version") {
        "version"
    } else {
        "_version"
    };
    writeln!(
        out,
        "        /// A value with every field of `version` set to a non-default value."
    )
    .unwrap();
    writeln!(
        out,
        "        pub(crate) fn sample({version}: i16) -> Self {{\n            Self {{"
    )
    .unwrap();
    out.push_str(&body);
    out.push_str("            }\n        }\n    }\n\n");
    out
}

fn sample_value(f: &Field, i: usize) -> String {
    match &f.ty {
        Ty::Prim(p) => prim_sample(f, *p, i),
        Ty::Struct(name) => format!("{name}::sample(version)"),
        Ty::Array(elem) => match &**elem {
            Ty::Struct(name) => format!("vec![{name}::sample(version), {name}::sample(version)]"),
            Ty::Prim(Prim::String) => "vec![\"a\".to_owned(), format!(\"b{version}\")]".to_owned(),
            Ty::Prim(Prim::Bytes) => "vec![Bytes::from_static(b\"\\x01\\x02\")]".to_owned(),
            Ty::Prim(Prim::Bool) => "vec![true, false]".to_owned(),
            Ty::Prim(Prim::Uuid) => "vec![crate::protocol::Uuid([7; 16])]".to_owned(),
            Ty::Prim(Prim::Float64) => "vec![1.5, -2.25]".to_owned(),
            Ty::Prim(_) => "vec![3, 1, 4]".to_owned(),
            Ty::Array(_) => unreachable!("nested arrays are rejected by the model"),
        },
    }
}

fn prim_sample(f: &Field, p: Prim, i: usize) -> String {
    match p {
        Prim::Bool => (f.default.as_deref() != Some("true")).to_string(),
        Prim::Int8 | Prim::Int16 | Prim::Int32 | Prim::Int64 | Prim::Uint16 | Prim::Uint32 => {
            let mut v = 10 + i as i128;
            if v == int_default(f) {
                v += 1;
            }
            v.to_string()
        }
        Prim::Float64 => "2.5".to_owned(),
        Prim::Uuid => format!("crate::protocol::Uuid([{}; 16])", i + 1),
        Prim::String => format!("format!(\"{}-{{version}}\")", f.json_name),
        Prim::Bytes => "Bytes::from_static(b\"\\x00\\xff\\x10\")".to_owned(),
        Prim::Records => "Bytes::from_static(b\"opaque record batches\")".to_owned(),
    }
}

/// A test-only visitor over every message's sample constructor.
pub(crate) fn visit_all(messages: &[Message]) -> String {
    let mut out = String::from(
        "\n/// Calls `visitor` with every message's sample constructor.\n#[cfg(test)]\n",
    );
    out.push_str("pub(crate) fn visit_samples(visitor: &mut impl SampleVisitor) {\n");
    for m in messages {
        writeln!(out, "    visitor.visit::<{0}>({0}::sample);", m.name).unwrap();
    }
    out.push_str("}\n");
    out
}

/// The negation of a condition produced by `Versions::condition`, in the form clippy
/// prefers (`version < 4`, not `!(version >= 4)`).
fn negate(cond: &str) -> String {
    for (op, neg) in [(" >= ", " < "), (" <= ", " > "), (" == ", " != ")] {
        if let Some((lhs, rhs)) = cond.split_once(op) {
            return format!("{lhs}{neg}{rhs}");
        }
    }
    format!("!{cond}")
}
