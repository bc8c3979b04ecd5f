//! Request extractors whose failures answer with Kafka Connect's JSON error body.
//!
//! axum's own `Json`, `Path` and `Query` reject with plain text; a client of the
//! Connect API parses `{"error_code", "message"}` for every failure, so these wrappers
//! take the same input and turn every rejection into an [`ApiError`] that says what was
//! wrong with the request.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::config::ConfigMap;
use crate::herder::ConfigPatch;

/// A JSON request body. An empty or malformed body is a 400 whose message carries
/// serde's description, with its line and column.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // Kafka Connect insists on `Content-Type: application/json`; the header is not
        // checked here, so `curl -d` without `-H` works too.
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "Request body is empty: send a JSON document",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|err| ApiError::bad_request(format!("Malformed JSON request body: {err}")))
    }
}

/// Path parameters; a segment that is not valid percent-encoded UTF-8 is a 400.
#[derive(Debug)]
pub(crate) struct PathParams<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParams(value))
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
    }
}

/// The query string as its `key=value` pairs, in order; keys may repeat
/// (`?expand=status&expand=info`). Keys no endpoint knows are ignored, as Kafka
/// Connect does; values of known keys are checked by the accessors.
#[derive(Debug, Default)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl<S> FromRequestParts<S> for QueryParams
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(pairs)| QueryParams(pairs))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

impl QueryParams {
    /// Every value of `key`, comma-separated values split.
    pub(crate) fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// Whether `key` was given at all.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// A boolean parameter: `true` or `false` in any case; absent means `default`.
    /// Anything else is a 400 rather than a silent `false`.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        let Some((_, raw)) = self.0.iter().find(|(k, _)| k == key) else {
            return Ok(default);
        };
        if raw.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if raw.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(ApiError::bad_request(format!(
                "Invalid value '{raw}' for query parameter {key}: expected true or false"
            )))
        }
    }
}

/// A connector config from JSON: an object whose values are strings. Numbers and
/// booleans are taken as their text (`"tasks.max": 2` is `"2"`), as Kafka Connect's
/// JSON mapper does, because users write them that way.
pub(crate) fn config_map(value: Value) -> Result<ConfigMap, ApiError> {
    let Value::Object(object) = value else {
        return Err(ApiError::bad_request(format!(
            "A connector config must be a JSON object of string values, not {}",
            kind(&value)
        )));
    };
    let mut config = ConfigMap::new();
    for (key, value) in object {
        match config_text(&key, value, "a string, number or boolean")? {
            Some(text) => config.insert(key, text),
            None => {
                return Err(ApiError::bad_request(format!(
                    "Config value of '{key}' must be a string, number or boolean, not null"
                )))
            }
        };
    }
    Ok(config)
}

/// A config value's text; `None` for null. `expected` names what is accepted.
fn config_text(key: &str, value: Value, expected: &str) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(ApiError::bad_request(format!(
            "Config value of '{key}' must be {expected}, not {}",
            kind(&other)
        ))),
    }
}

/// A config patch from JSON (KIP-477): like [`config_map`], with `null` removing a key.
pub(crate) fn config_patch(value: Value) -> Result<ConfigPatch, ApiError> {
    let Value::Object(object) = value else {
        return Err(ApiError::bad_request(format!(
            "A connector config patch must be a JSON object, not {}",
            kind(&value)
        )));
    };
    let mut patch = ConfigPatch::new();
    for (key, value) in object {
        let text = config_text(&key, value, "a string, number, boolean or null")?;
        patch.insert(key, text);
    }
    Ok(patch)
}

/// "an array", "null", ... for messages about a JSON value of the wrong kind.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn flag_accepts_only_true_or_false() {
        let q = query(&[("includeTasks", "TRUE"), ("onlyFailed", "maybe")]);
        assert_eq!(q.flag("includeTasks", false), Ok(true));
        assert_eq!(q.flag("absent", true), Ok(true));
        let err = q.flag("onlyFailed", false).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(err.message.contains("'maybe'"), "{}", err.message);
    }

    #[test]
    fn values_merge_repeated_and_comma_separated_keys() {
        let q = query(&[("expand", "status"), ("expand", "info, status"), ("x", "y")]);
        assert_eq!(
            q.values("expand").collect::<Vec<_>>(),
            ["status", "info", "status"]
        );
        assert!(q.contains("x"));
        assert!(!q.contains("expand2"));
    }

    #[test]
    fn config_map_takes_scalars_as_text() {
        let config = config_map(json!({"tasks.max": 2, "a": true, "b": "x"})).unwrap();
        assert_eq!(config["tasks.max"], "2");
        assert_eq!(config["a"], "true");
        assert_eq!(config["b"], "x");
    }

    #[test]
    fn config_map_rejects_nested_values_and_non_objects() {
        let err = config_map(json!({"topics": ["a"]})).unwrap_err();
        assert!(err.message.contains("'topics'"), "{}", err.message);
        assert!(err.message.contains("an array"), "{}", err.message);
        assert!(config_map(json!({"a": null})).is_err());
        assert!(config_map(json!(["a"])).is_err());
    }
}
