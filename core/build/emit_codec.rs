//! Emits the `Encodable` and `Decodable` impls of one struct.
//!
//! Generated decoders read each field into a local (`f_<name>`) and build the struct
//! at the end; fields absent in the version take their default. Flexible versions end
//! every struct with the tagged-field buffer: known tags are decoded into their
//! fields, unknown ones are kept as raw bytes.

use std::fmt::Write;

use crate::emit_struct::default_expr;
use crate::model::{Field, Message, Prim, Struct, Ty};
use crate::versions::Versions;

/// The expression for the `compact` flag of a field outside the tagged buffer.
fn compact_expr(m: &Message, f: &Field) -> String {
    match f.flexible {
        Some(v) => v.intersect(m.flexible).condition_expr(m.valid),
        None => "compact".to_owned(),
    }
}

/// Whether null is allowed, evaluated where the field is known to be present.
fn nullable_expr(m: &Message, f: &Field) -> String {
    f.nullable.condition_expr(f.versions.intersect(m.valid))
}

/// An expression reading the field's value from `buf` (a `&mut Bytes` expression).
fn read_expr(m: &Message, f: &Field, buf: &str, compact: &str) -> String {
    let wrap = |raw: String| {
        if f.is_option() {
            format!("nullable({raw}, {})?", nullable_expr(m, f))
        } else {
            format!("non_null({raw})?")
        }
    };
    match &f.ty {
        Ty::Prim(p) if !p.may_be_null() => format!("{}({buf})?", fixed_reader(*p)),
        Ty::Prim(Prim::String) => wrap(format!("get_string({buf}, {compact})?")),
        Ty::Prim(_) => wrap(format!("get_bytes({buf}, {compact})?")),
        Ty::Struct(name) => format!("{name}::decode({buf}, version)?"),
        Ty::Array(elem) => {
            let element = match &**elem {
                Ty::Prim(p) if !p.may_be_null() => fixed_reader(*p).to_owned(),
                Ty::Prim(Prim::String) => format!("|b| non_null(get_string(b, {compact})?)"),
                Ty::Prim(_) => format!("|b| non_null(get_bytes(b, {compact})?)"),
                Ty::Struct(name) => format!("|b| {name}::decode(b, version)"),
                Ty::Array(_) => panic!("field {}: nested arrays are not supported", f.json_name),
            };
            wrap(format!("get_array({buf}, {compact}, {element})?"))
        }
    }
}

fn fixed_reader(p: Prim) -> &'static str {
    match p {
        Prim::Bool => "get_bool",
        Prim::Int8 => "get_i8",
        Prim::Int16 => "get_i16",
        Prim::Int32 => "get_i32",
        Prim::Int64 => "get_i64",
        Prim::Uint16 => "get_u16",
        Prim::Uint32 => "get_u32",
        Prim::Float64 => "get_f64",
        Prim::Uuid => "get_uuid",
        _ => unreachable!("not a fixed-size type"),
    }
}

fn fixed_writer(p: Prim) -> &'static str {
    match p {
        Prim::Bool => "put_bool",
        Prim::Int8 => "put_i8",
        Prim::Int16 => "put_i16",
        Prim::Int32 => "put_i32",
        Prim::Int64 => "put_i64",
        Prim::Uint16 => "put_u16",
        Prim::Uint32 => "put_u32",
        Prim::Float64 => "put_f64",
        Prim::Uuid => "put_uuid",
        _ => unreachable!("not a fixed-size type"),
    }
}

/// A statement writing `self.<field>` to `buf`.
fn write_stmt(f: &Field, buf: &str, compact: &str) -> String {
    let value = format!("self.{}", f.rust_name);
    match &f.ty {
        Ty::Prim(p) if !p.may_be_null() => format!("{}({buf}, {value});", fixed_writer(*p)),
        Ty::Prim(Prim::String) if f.is_option() => {
            format!("put_string({buf}, {value}.as_deref(), {compact});")
        }
        Ty::Prim(Prim::String) => format!("put_string({buf}, Some({value}.as_str()), {compact});"),
        Ty::Prim(_) if f.is_option() => format!("put_bytes({buf}, {value}.as_deref(), {compact});"),
        Ty::Prim(_) => format!("put_bytes({buf}, Some(&{value}[..]), {compact});"),
        Ty::Struct(_) => format!("{value}.encode({buf}, version);"),
        Ty::Array(elem) => {
            let items = if f.is_option() {
                format!("{value}.as_deref()")
            } else {
                format!("Some({value}.as_slice())")
            };
            let element = match &**elem {
                Ty::Prim(p) if !p.may_be_null() => format!("|b, e| {}(b, *e)", fixed_writer(*p)),
                Ty::Prim(Prim::String) => {
                    format!("|b, e| put_string(b, Some(e.as_str()), {compact})")
                }
                Ty::Prim(_) => format!("|b, e| put_bytes(b, Some(&e[..]), {compact})"),
                Ty::Struct(_) => "|b, e| e.encode(b, version)".to_owned(),
                Ty::Array(_) => panic!("field {}: nested arrays are not supported", f.json_name),
            };
            format!("put_array({buf}, {items}, {compact}, {element});")
        }
    }
}

fn tagged_versions(f: &Field) -> Option<(u32, Versions)> {
    f.tag.map(|(tag, v)| (tag, v.intersect(f.versions)))
}

pub(crate) fn encode_impl(m: &Message, s: &Struct) -> String {
    let mut body = String::new();
    for f in &s.fields {
        let stmt = write_stmt(f, "buf", &compact_expr(m, f));
        match f.regular_versions().condition(m.valid) {
            None => writeln!(body, "        {stmt}").unwrap(),
            Some(c) if c == "false" => {}
            Some(c) => writeln!(body, "        if {c} {{\n            {stmt}\n        }}").unwrap(),
        }
    }
    if m.ever_flexible() {
        let mut tagged = String::new();
        let known: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_some()).collect();
        if known.is_empty() {
            tagged.push_str("TaggedWriter::default().finish(buf, &self.unknown_tagged_fields);\n");
        } else {
            tagged.push_str("let mut tagged = TaggedWriter::default();\n");
            tagged.push_str("let defaults = Self::default();\n");
            for f in known {
                let (tag, versions) = tagged_versions(f).unwrap();
                let differs = format!("self.{0} != defaults.{0}", f.rust_name);
                let cond = match versions.condition(m.valid) {
                    None => differs,
                    Some(c) => format!("{c} && {differs}"),
                };
                let stmt = write_stmt(f, "buf", "true");
                writeln!(
                    tagged,
                    "if {cond} {{\n    tagged.field({tag}, |buf| {{ {stmt} }});\n}}"
                )
                .unwrap();
            }
            tagged.push_str("tagged.finish(buf, &self.unknown_tagged_fields);\n");
        }
        let tagged = indent(&tagged, 8);
        match m.flexible.condition(m.valid) {
            None => body.push_str(&tagged),
            Some(c) => {
                writeln!(body, "        if {c} {{\n{}        }}", indent(&tagged, 4)).unwrap()
            }
        }
    }
    let mut out = String::new();
    writeln!(out, "    impl Encodable for {} {{", s.name).unwrap();
    let (buf, version) = param_names(&body);
    writeln!(
        out,
        "        fn encode(&self, {buf}: &mut BytesMut, {version}: i16) {{"
    )
    .unwrap();
    if mentions(&body, "compact") {
        writeln!(
            out,
            "            let compact = {};",
            m.flexible.condition_expr(m.valid)
        )
        .unwrap();
    }
    out.push_str(&indent(&body, 4));
    out.push_str("        }\n    }\n\n");
    out
}

pub(crate) fn decode_impl(m: &Message, s: &Struct, top: bool) -> String {
    let mut body = String::new();
    if top {
        body.push_str(
            "        if !<Self as crate::protocol::Message>::VERSIONS.contains(version) {\n            \
             return Err(DecodeError::UnsupportedVersion {\n                \
             message: <Self as crate::protocol::Message>::NAME,\n                version,\n            \
             });\n        }\n",
        );
    }
    for f in &s.fields {
        let local = format!("f_{}", f.rust_name);
        let read = read_expr(m, f, "buf", &compact_expr(m, f));
        let mutable = if f.tag.is_some() { "mut " } else { "" };
        match f.regular_versions().condition(m.valid) {
            None => writeln!(body, "        let {mutable}{local} = {read};").unwrap(),
            Some(c) if c == "false" => {
                writeln!(body, "        let {mutable}{local} = {};", default_expr(f)).unwrap()
            }
            Some(c) => writeln!(
                body,
                "        let {mutable}{local} = if {c} {{\n            {read}\n        }} else {{\n            {}\n        }};",
                default_expr(f)
            )
            .unwrap(),
        }
    }
    if m.ever_flexible() {
        body.push_str(&tagged_decode(m, s));
    }
    body.push_str("        Ok(Self {\n");
    for f in &s.fields {
        writeln!(body, "            {}: f_{},", f.rust_name, f.rust_name).unwrap();
    }
    if m.ever_flexible() {
        body.push_str("            unknown_tagged_fields,\n");
    }
    body.push_str("        })\n");

    let mut out = String::new();
    writeln!(out, "    impl Decodable for {} {{", s.name).unwrap();
    let (buf, version) = param_names(&body);
    writeln!(
        out,
        "        fn decode({buf}: &mut Bytes, {version}: i16) -> Result<Self, DecodeError> {{"
    )
    .unwrap();
    if mentions(&body, "compact") {
        writeln!(
            out,
            "            let compact = {};",
            m.flexible.condition_expr(m.valid)
        )
        .unwrap();
    }
    out.push_str(&indent(&body, 4));
    out.push_str("        }\n    }\n\n");
    out
}

fn tagged_decode(m: &Message, s: &Struct) -> String {
    let known: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_some()).collect();
    let mut lp = String::from("for _ in 0..get_tagged_count(buf)? {\n");
    if known.is_empty() {
        lp.push_str("    let (tag, data) = get_tagged_field(buf)?;\n");
        lp.push_str(
            "    unknown_tagged_fields.push(crate::protocol::RawTaggedField { tag, data });\n",
        );
    } else {
        lp.push_str("    let (tag, mut data) = get_tagged_field(buf)?;\n    match tag {\n");
        for f in known {
            let (tag, versions) = tagged_versions(f).unwrap();
            let guard = match versions.condition(m.valid) {
                None => String::new(),
                Some(c) => format!(" if {c}"),
            };
            let read = read_expr(m, f, "&mut data", "true");
            writeln!(
                lp,
                "        {tag}{guard} => {{\n            f_{} = {read};\n            finish_tagged_field(tag, &data)?;\n        }}",
                f.rust_name
            )
            .unwrap();
        }
        lp.push_str("        _ => unknown_tagged_fields.push(crate::protocol::RawTaggedField { tag, data }),\n    }\n");
    }
    lp.push_str("}\n");
    let mut out = String::from("        let mut unknown_tagged_fields = Vec::new();\n");
    match m.flexible.condition(m.valid) {
        None => out.push_str(&indent(&lp, 8)),
        Some(c) => writeln!(out, "        if {c} {{\n{}        }}", indent(&lp, 12)).unwrap(),
    }
    out
}

/// `buf` and `version` parameter names, prefixed with `_` when the body ignores them.
fn param_names(body: &str) -> (&'static str, &'static str) {
    let buf = if mentions(body, "buf") { "buf" } else { "_buf" };
    let version = if mentions(body, "version") {
        "version"
    } else {
        "_version"
    };
    (buf, version)
}

/// Whether `ident` occurs in `code` as a whole identifier.
pub(crate) fn mentions(code: &str, ident: &str) -> bool {
    code.match_indices(ident).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + ident.len()..].chars().next();
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !is_ident(before) && !is_ident(after)
    })
}

pub(crate) fn indent(code: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    code.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}
