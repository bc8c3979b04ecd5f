//! Reading a `_bulk` response and deciding what each item's outcome means.
//!
//! The server answers a bulk request as a whole (HTTP status) and per action (each
//! item's `status` and `error`). The whole answer sorts into: accepted (2xx, items to
//! read), worth retrying (429, 5xx), or not (401/403: credentials; 413: too large; other
//! 4xx). Each item sorts into:
//!
//! - done: 2xx; a 409 version conflict on a versioned or `create` action (the server
//!   already has this write or a later one: a replay, which is what external versions
//!   are for); a 404 on a delete (nothing to delete);
//! - retry: 429 (the server is shedding load) and 5xx;
//! - malformed: the document cannot be parsed or mapped (`mapper_parsing_exception`,
//!   `document_parsing_exception`, `illegal_argument_exception`, …), which
//!   `behavior.on.malformed.documents` decides;
//! - rejected: any other refusal of that one action, a failure of its record;
//! - blocked: `cluster_block_exception` (an index made read-only, e.g. by the disk
//!   watermark), which no record can fix and which ends when an operator acts: the
//!   whole batch waits and is retried.
//!
//! The decoder is bounded: the body is the size the server sent, and the number of
//! items must be the number of actions sent, checked before any item is used.

use serde::Deserialize;
use serde_json::Value;

/// One item's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemOutcome {
    Done,
    Retry(String),
    Malformed(String),
    Rejected(String),
    Blocked(String),
}

/// Error types Confluent's connector treats as malformed documents, and the newer
/// names Elasticsearch 8 gives the same failures.
const MALFORMED: &[&str] = &[
    "mapper_parsing_exception",
    "document_parsing_exception",
    "illegal_argument_exception",
    "action_request_validation_exception",
    "strict_dynamic_mapping_exception",
    "x_content_parse_exception",
    "not_x_content_exception",
];

#[derive(Deserialize)]
struct BulkResponse {
    #[serde(default)]
    errors: bool,
    items: Vec<Item>,
}

#[derive(Deserialize)]
enum Item {
    #[serde(rename = "index")]
    Index(ItemResult),
    #[serde(rename = "create")]
    Create(ItemResult),
    #[serde(rename = "update")]
    Update(ItemResult),
    #[serde(rename = "delete")]
    Delete(ItemResult),
}

#[derive(Deserialize)]
struct ItemResult {
    status: u16,
    #[serde(default)]
    error: Option<Value>,
}

/// A bulk response that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub(crate) String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one sent action was, for reading its item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    /// An index or delete with an external version, or a create: a 409 means the
    /// server already has this write or a newer one.
    pub(crate) conflict_is_done: bool,
    pub(crate) delete: bool,
}

/// The outcome of each action of a 2xx bulk response, in the order sent.
pub(crate) fn read_bulk(body: &[u8], sent: &[Sent]) -> Result<Vec<ItemOutcome>, DecodeError> {
    let response: BulkResponse = serde_json::from_slice(body).map_err(|e| {
        DecodeError(format!(
            "the bulk response is not what Elasticsearch sends: {e}"
        ))
    })?;
    if response.items.len() != sent.len() {
        return Err(DecodeError(format!(
            "the bulk response has {} items for {} actions",
            response.items.len(),
            sent.len()
        )));
    }
    if !response.errors {
        // The server says every item succeeded; trust the statuses anyway.
        if response
            .items
            .iter()
            .all(|item| (200..300).contains(&item.result().status))
        {
            return Ok(vec![ItemOutcome::Done; sent.len()]);
        }
    }
    Ok(response
        .items
        .iter()
        .zip(sent)
        .map(|(item, sent)| outcome(item.result(), *sent))
        .collect())
}

impl Item {
    fn result(&self) -> &ItemResult {
        match self {
            Item::Index(r) | Item::Create(r) | Item::Update(r) | Item::Delete(r) => r,
        }
    }
}

fn outcome(result: &ItemResult, sent: Sent) -> ItemOutcome {
    let status = result.status;
    let kind = result
        .error
        .as_ref()
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    match status {
        200..=299 => ItemOutcome::Done,
        404 if sent.delete => ItemOutcome::Done,
        409 if sent.conflict_is_done && kind.starts_with("version_conflict") => ItemOutcome::Done,
        429 | 500..=599 => ItemOutcome::Retry(describe(status, result.error.as_ref())),
        // An update racing another writer of the same document: writing again helps.
        409 => ItemOutcome::Retry(describe(status, result.error.as_ref())),
        _ if kind == "cluster_block_exception" => {
            ItemOutcome::Blocked(describe(status, result.error.as_ref()))
        }
        _ if MALFORMED.contains(&kind) => {
            ItemOutcome::Malformed(describe(status, result.error.as_ref()))
        }
        _ => ItemOutcome::Rejected(describe(status, result.error.as_ref())),
    }
}

/// `type: reason (caused by type: reason)`, as the server put it, with the status.
pub(crate) fn describe(status: u16, error: Option<&Value>) -> String {
    let Some(error) = error else {
        return format!("status {status}");
    };
    let mut text = format!("status {status}, {}", cause(error));
    let mut next = error.get("caused_by");
    let mut depth = 0;
    while let (Some(caused), true) = (next, depth < 4) {
        text.push_str(&format!(" (caused by {})", cause(caused)));
        next = caused.get("caused_by");
        depth += 1;
    }
    text
}

fn cause(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        _ => {
            let kind = error.get("type").and_then(Value::as_str).unwrap_or("error");
            match error.get("reason").and_then(Value::as_str) {
                Some(reason) => format!("{kind}: {reason}"),
                None => kind.to_string(),
            }
        }
    }
}

/// The reason in an error response body (`{"error":{…},"status":…}`), or its start.
pub(crate) fn error_body(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("error").is_some() => describe(status, value.get("error")),
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
            if text.trim().is_empty() {
                format!("status {status}")
            } else {
                format!("status {status}, {}", text.trim())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYED: Sent = Sent {
        conflict_is_done: true,
        delete: false,
    };
    const PLAIN: Sent = Sent {
        conflict_is_done: false,
        delete: false,
    };
    const DELETE: Sent = Sent {
        conflict_is_done: true,
        delete: true,
    };

    #[test]
    fn reads_each_items_outcome_in_order() {
        let body = br#"{"took":1,"errors":true,"items":[
            {"index":{"_id":"a","status":201,"result":"created"}},
            {"index":{"_id":"a","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[a]: version conflict"}}},
            {"delete":{"_id":"c","status":404,"result":"not_found"}},
            {"index":{"_id":"d","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [f] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"text\""}}}},
            {"update":{"_id":"e","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected"}}},
            {"index":{"_id":"f","status":400,"error":{"type":"invalid_index_name_exception","reason":"must be lowercase"}}},
            {"index":{"_id":"g","status":403,"error":{"type":"cluster_block_exception","reason":"index [x] blocked by: [FORBIDDEN/8/index write (api)]"}}}
        ]}"#;
        let outcomes =
            read_bulk(body, &[KEYED, KEYED, DELETE, KEYED, PLAIN, KEYED, KEYED]).unwrap();
        assert_eq!(outcomes[0], ItemOutcome::Done);
        assert_eq!(outcomes[1], ItemOutcome::Done, "a replayed older write");
        assert_eq!(outcomes[2], ItemOutcome::Done, "deleting what is not there");
        assert_eq!(
            outcomes[3],
            ItemOutcome::Malformed(
                "status 400, mapper_parsing_exception: failed to parse field [f] of type [long] \
                 (caused by illegal_argument_exception: For input string: \"text\")"
                    .into()
            )
        );
        assert!(matches!(outcomes[4], ItemOutcome::Retry(_)));
        assert!(matches!(outcomes[5], ItemOutcome::Rejected(_)));
        assert!(matches!(outcomes[6], ItemOutcome::Blocked(_)));
    }

    #[test]
    fn a_conflict_on_an_unversioned_write_is_retried() {
        let body = br#"{"errors":true,"items":[{"update":{"status":409,"error":{"type":"version_conflict_engine_exception"}}}]}"#;
        assert!(matches!(
            read_bulk(body, &[PLAIN]).unwrap()[0],
            ItemOutcome::Retry(_)
        ));
    }

    #[test]
    fn refuses_a_response_with_another_number_of_items_or_not_json() {
        let body = br#"{"errors":false,"items":[{"index":{"status":201}}]}"#;
        assert!(read_bulk(body, &[KEYED, KEYED])
            .unwrap_err()
            .0
            .contains("1 items for 2"));
        assert!(read_bulk(b"<html>", &[KEYED]).is_err());
        assert!(read_bulk(br#"{"items":[{"bogus":{"status":200}}]}"#, &[KEYED]).is_err());
    }

    #[test]
    fn error_bodies_give_the_servers_reason() {
        let body = br#"{"error":{"type":"security_exception","reason":"unable to authenticate user [elastic]"},"status":401}"#;
        assert_eq!(
            error_body(401, body),
            "status 401, security_exception: unable to authenticate user [elastic]"
        );
        assert_eq!(error_body(502, b"Bad Gateway"), "status 502, Bad Gateway");
        assert_eq!(error_body(503, b""), "status 503");
    }
}
