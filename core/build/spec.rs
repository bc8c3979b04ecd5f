//! The JSON message definitions as Kafka writes them: JSON with `//` comments.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageSpec {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid_versions: String,
    pub(crate) flexible_versions: Option<String>,
    #[serde(default)]
    pub(crate) fields: Vec<FieldSpec>,
    #[serde(default)]
    pub(crate) common_structs: Vec<StructSpec>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StructSpec {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) fields: Vec<FieldSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldSpec {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) ty: String,
    pub(crate) versions: Option<String>,
    pub(crate) nullable_versions: Option<String>,
    pub(crate) tagged_versions: Option<String>,
    pub(crate) tag: Option<u32>,
    pub(crate) flexible_versions: Option<String>,
    pub(crate) default: Option<serde_json::Value>,
    pub(crate) about: Option<String>,
    pub(crate) fields: Option<Vec<FieldSpec>>,
}

pub(crate) fn parse(text: &str) -> Result<MessageSpec, String> {
    serde_json::from_str(&strip_comments(text)).map_err(|e| e.to_string())
}

/// Removes `//` line comments outside string literals ("http://..." stays intact).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            for skipped in chars.by_ref() {
                if skipped == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}
