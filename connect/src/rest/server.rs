//! `GET /` (which worker and cluster this is) and `GET /metrics` (Prometheus).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use super::SharedHerder;
use crate::herder::ServerInfo;

/// Prometheus' text exposition format.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /`: Weir's version, the commit it was built from (when the build set
/// `WEIR_GIT_COMMIT`) and the Kafka cluster the worker uses.
pub(crate) async fn info(State(herder): State<SharedHerder>) -> Result<Response, ApiError> {
    let info = ServerInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: option_env!("WEIR_GIT_COMMIT")
            .unwrap_or("unknown")
            .to_owned(),
        kafka_cluster_id: herder.kafka_cluster_id().await?,
    };
    Ok(Json(info).into_response())
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(herder): State<SharedHerder>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
        )],
        herder.metrics(),
    )
        .into_response()
}
