//! The type model the emitters work from: messages, structs, fields and wire types,
//! resolved from the raw definitions with version ranges parsed.

use crate::spec::{FieldSpec, MessageSpec};
use crate::versions::Versions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    Uuid,
    String,
    Bytes,
    Records,
}

impl Prim {
    fn parse(s: &str) -> Option<Prim> {
        Some(match s {
            "bool" => Prim::Bool,
            "int8" => Prim::Int8,
            "int16" => Prim::Int16,
            "int32" => Prim::Int32,
            "int64" => Prim::Int64,
            "uint16" => Prim::Uint16,
            "uint32" => Prim::Uint32,
            "float64" => Prim::Float64,
            "uuid" => Prim::Uuid,
            "string" => Prim::String,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            _ => return None,
        })
    }

    /// Whether the type can be null on the wire.
    pub(crate) fn may_be_null(self) -> bool {
        matches!(self, Prim::String | Prim::Bytes | Prim::Records)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Prim(Prim),
    Struct(String),
    Array(Box<Ty>),
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) json_name: String,
    pub(crate) rust_name: String,
    pub(crate) ty: Ty,
    /// Versions in which the field exists at all.
    pub(crate) versions: Versions,
    pub(crate) nullable: Versions,
    /// The tag and the versions in which the field travels in the tagged buffer.
    pub(crate) tag: Option<(u32, Versions)>,
    /// A per-field override of the message's flexible versions (strings and bytes).
    pub(crate) flexible: Option<Versions>,
    pub(crate) default: Option<String>,
    pub(crate) about: String,
}

impl Field {
    /// The Rust type is an `Option` when the field may be null in any version.
    pub(crate) fn is_option(&self) -> bool {
        match &self.ty {
            Ty::Prim(Prim::Records) => true,
            Ty::Prim(p) => p.may_be_null() && !self.nullable.is_empty(),
            Ty::Array(_) => !self.nullable.is_empty(),
            Ty::Struct(_) => false,
        }
    }

    /// Versions in which the field is written in the struct's regular position.
    pub(crate) fn regular_versions(&self) -> Versions {
        match self.tag {
            None => self.versions,
            Some((_, tagged)) if tagged.min > self.versions.min => Versions {
                min: self.versions.min,
                max: tagged.min - 1,
            },
            Some(_) => Versions::NONE,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Struct {
    pub(crate) name: String,
    pub(crate) about: String,
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) name: String,
    pub(crate) module: String,
    /// "request", "response", "header" or "data".
    pub(crate) kind: String,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid: Versions,
    pub(crate) flexible: Versions,
    /// The top-level struct first, then nested and common structs.
    pub(crate) structs: Vec<Struct>,
}

impl Message {
    pub(crate) fn from_spec(spec: MessageSpec) -> Result<Message, String> {
        let valid = Versions::parse(&spec.valid_versions)?;
        let flexible = match &spec.flexible_versions {
            Some(v) => Versions::parse(v)?,
            None => Versions::NONE,
        };
        let mut structs = Vec::new();
        let top = build_struct(&spec.name, "", &spec.fields, &mut structs)?;
        structs.insert(0, top);
        for common in &spec.common_structs {
            let s = build_struct(&common.name, "", &common.fields, &mut structs)?;
            structs.push(s);
        }
        let message = Message {
            module: snake_case(&spec.name),
            name: spec.name,
            kind: spec.kind,
            api_key: spec.api_key,
            valid,
            flexible,
            structs,
        };
        message.check()?;
        Ok(message)
    }

    /// The first flexible version inside the valid versions, if any.
    pub(crate) fn first_flexible(&self) -> Option<i16> {
        let f = self.flexible.intersect(self.valid);
        (!f.is_empty()).then_some(f.min)
    }

    pub(crate) fn ever_flexible(&self) -> bool {
        self.first_flexible().is_some()
    }

    /// Every struct type a field refers to must be defined in the message.
    fn check(&self) -> Result<(), String> {
        for s in &self.structs {
            for f in &s.fields {
                let mut ty = &f.ty;
                while let Ty::Array(inner) = ty {
                    ty = inner;
                }
                if let Ty::Struct(name) = ty {
                    if !self.structs.iter().any(|d| &d.name == name) {
                        return Err(format!(
                            "field {} refers to unknown struct {name}",
                            f.json_name
                        ));
                    }
                }
                if let Some((_, tagged)) = f.tag {
                    if tagged.intersect(self.valid).is_empty() || tagged.max < f.versions.max {
                        return Err(format!(
                            "tagged field {} has unsupported taggedVersions",
                            f.json_name
                        ));
                    }
                    let flexible = self.flexible.intersect(self.valid);
                    if tagged.intersect(self.valid).min < flexible.min || flexible.is_empty() {
                        return Err(format!(
                            "field {} is tagged in a non-flexible version",
                            f.json_name
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn build_struct(
    name: &str,
    about: &str,
    fields: &[FieldSpec],
    nested: &mut Vec<Struct>,
) -> Result<Struct, String> {
    let mut out = Vec::new();
    for f in fields {
        out.push(build_field(f, nested)?);
    }
    Ok(Struct {
        name: name.to_owned(),
        about: about.to_owned(),
        fields: out,
    })
}

fn build_field(f: &FieldSpec, nested: &mut Vec<Struct>) -> Result<Field, String> {
    let (is_array, base) = match f.ty.strip_prefix("[]") {
        Some(inner) => (true, inner),
        None => (false, f.ty.as_str()),
    };
    let base_ty = match Prim::parse(base) {
        Some(p) => Ty::Prim(p),
        None => {
            if let Some(fields) = &f.fields {
                let about = f.about.clone().unwrap_or_default();
                let s = build_struct(base, &about, fields, nested)?;
                if nested.iter().any(|d| d.name == s.name) {
                    return Err(format!("struct {base} is defined twice"));
                }
                nested.push(s);
            }
            Ty::Struct(base.to_owned())
        }
    };
    if is_array && matches!(base_ty, Ty::Prim(Prim::Records)) {
        return Err(format!(
            "field {}: arrays of records are not supported",
            f.name
        ));
    }
    let ty = if is_array {
        Ty::Array(Box::new(base_ty))
    } else {
        base_ty
    };
    let versions = Versions::parse(
        f.versions
            .as_deref()
            .ok_or_else(|| format!("field {} has no versions", f.name))?,
    )?;
    let nullable = match &f.nullable_versions {
        Some(v) => Versions::parse(v)?,
        None => Versions::NONE,
    };
    if !nullable.is_empty()
        && !matches!(
            ty,
            Ty::Array(_) | Ty::Prim(Prim::String | Prim::Bytes | Prim::Records)
        )
    {
        return Err(format!(
            "field {}: nullable {} is not supported",
            f.name, f.ty
        ));
    }
    let tag = match (f.tag, &f.tagged_versions) {
        (Some(tag), Some(v)) => Some((tag, Versions::parse(v)?)),
        (None, None) => None,
        _ => {
            return Err(format!(
                "field {}: tag and taggedVersions come together",
                f.name
            ))
        }
    };
    let flexible = match &f.flexible_versions {
        Some(v) => Some(Versions::parse(v)?),
        None => None,
    };
    let default = match &f.default {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(Field {
        json_name: f.name.clone(),
        rust_name: field_name(&f.name),
        ty,
        versions,
        nullable,
        tag,
        flexible,
        default,
        about: f.about.clone().unwrap_or_default(),
    })
}

/// `TopicData` → `topic_data`, `ISRNodes` → `isr_nodes`, `timeoutMs` → `timeout_ms`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn field_name(name: &str) -> String {
    let snake = snake_case(name);
    const KEYWORDS: &[&str] = &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "unknown_tagged_fields",
    ];
    if KEYWORDS.contains(&snake.as_str()) {
        format!("{snake}_")
    } else {
        snake
    }
}
