//! `/admin/loggers` (KIP-495): this worker's log levels, read and changed at runtime.
//! Levels are per process (`scope=worker`); they last until the worker restarts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryParams};
use super::SharedHerder;
use crate::logging::{loggers, LevelError};

/// `GET /admin/loggers`: every logger with a level of its own, `root` included.
pub(crate) async fn list(State(_): State<SharedHerder>) -> Response {
    Json(loggers().all()).into_response()
}

/// `GET /admin/loggers/{name}`: `{"level", "last_modified"}`; 404 for a logger
/// without a level of its own.
pub(crate) async fn get(
    State(_): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    let level = loggers()
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("Logger {name} not found.")))?;
    Ok(Json(level).into_response())
}

/// `PUT /admin/loggers/{name}` with `{"level": "DEBUG"}`: the names of the loggers
/// set (the logger and its descendants).
pub(crate) async fn set(
    State(_): State<SharedHerder>,
    PathParams(name): PathParams<String>,
    query: QueryParams,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if let Some(scope) = query.values("scope").next() {
        if scope.eq_ignore_ascii_case("cluster") {
            return Err(ApiError::bad_request(
                "scope=cluster is not supported: set the level on each worker (scope=worker)",
            ));
        }
    }
    let Some(level) = body.get("level").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "Desired 'level' parameter was not specified in request.",
        ));
    };
    match loggers().set(&name, level) {
        Ok(affected) => Ok(Json(affected).into_response()),
        Err(LevelError::Invalid(message)) => Err(ApiError::bad_request(message)),
        Err(LevelError::Unsupported(message)) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message))
        }
    }
}
