//! `/connectors/{name}/offsets` (KIP-875): reading, altering and resetting the
//! positions a connector resumes from. Altering and resetting need the connector
//! stopped; the herder enforces it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::SharedHerder;
use crate::herder::ConnectorOffsets;

/// Kafka Connect's `{"message": "..."}` answer to an offsets change.
#[derive(Debug, Serialize)]
struct Message {
    message: &'static str,
}

/// `GET /connectors/{name}/offsets`.
pub(crate) async fn get(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(herder.offsets(&name).await?).into_response())
}

/// `PATCH /connectors/{name}/offsets` with `{"offsets": [{"partition", "offset"}]}`;
/// a null offset removes that partition's offset.
pub(crate) async fn alter(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
    JsonBody(offsets): JsonBody<ConnectorOffsets>,
) -> Result<Response, ApiError> {
    herder.alter_offsets(&name, offsets).await?;
    Ok(Json(Message {
        message: "The offsets for this connector have been altered successfully",
    })
    .into_response())
}

/// `DELETE /connectors/{name}/offsets`: every offset of the connector is removed.
pub(crate) async fn reset(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    herder.reset_offsets(&name).await?;
    Ok(Json(Message {
        message: "The offsets for this connector have been reset successfully",
    })
    .into_response())
}
