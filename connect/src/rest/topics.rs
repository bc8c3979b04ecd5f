//! `/connectors/{name}/topics` (KIP-558): the topics a connector's tasks have used,
//! and their reset.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use super::extract::PathParams;
use super::SharedHerder;
use crate::herder::ActiveTopicsInfo;

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
pub(crate) async fn get(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    let topics = herder.active_topics(&name)?;
    let body = BTreeMap::from([(name, ActiveTopicsInfo { topics })]);
    Ok(Json(body).into_response())
}

/// `PUT /connectors/{name}/topics/reset`: 202 with no body, as Kafka Connect.
pub(crate) async fn reset(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    herder.reset_active_topics(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
