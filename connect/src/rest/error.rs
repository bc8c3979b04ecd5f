//! Error responses: every failure, whether from the herder, a malformed request or the
//! router itself (unknown path, wrong method), answers with Kafka Connect's JSON body
//! `{"error_code": N, "message": "..."}`, so clients parse one shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::herder::{ErrorMessage, HerderError};

/// A failed request: the status code and the message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<HerderError> for ApiError {
    fn from(err: HerderError) -> ApiError {
        let status = match &err {
            HerderError::NotFound(_) => StatusCode::NOT_FOUND,
            HerderError::Conflict(_) => StatusCode::CONFLICT,
            HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::Forbidden(_) => StatusCode::FORBIDDEN,
            HerderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(error = %err, "REST request failed in the worker");
        }
        ApiError::new(status, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorMessage {
            error_code: self.status.as_u16(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// The router's fallback for a path no route matches; Kafka Connect's text.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("HTTP 404 Not Found")
}

/// The fallback for a known path with a method it does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderValue};

    use super::*;

    #[test]
    fn herder_errors_map_to_kafka_connect_status_codes() {
        let cases = [
            (HerderError::NotFound("Connector a not found".into()), 404),
            (
                HerderError::Conflict("Connector a already exists".into()),
                409,
            ),
            (HerderError::BadRequest("bad".into()), 400),
            (
                HerderError::Forbidden("Topic tracking is disabled.".into()),
                403,
            ),
            (HerderError::Internal("cluster unreachable".into()), 500),
        ];
        for (err, code) in cases {
            let message = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status.as_u16(), code);
            assert_eq!(api.message, message);
        }
    }

    #[test]
    fn error_response_carries_code_and_message() {
        let response = ApiError::bad_request("name is required").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            HeaderValue::from_static("application/json")
        );
    }
}
