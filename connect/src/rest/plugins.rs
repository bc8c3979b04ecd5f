//! `/connector-plugins`: which connectors this worker can run, their config keys, and
//! validation of a config before it is submitted.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::error::ApiError;
use super::extract::{config_map, JsonBody, PathParams, QueryParams};
use super::SharedHerder;

/// The config key that names the plugin a connector runs.
const CONNECTOR_CLASS_CONFIG: &str = "connector.class";

/// `GET /connector-plugins[?connectorsOnly=true|false]`. This worker's plugins are all
/// connectors, so `connectorsOnly=false` lists the same plugins; transforms and
/// converters are not listed.
pub(crate) async fn list(
    State(herder): State<SharedHerder>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    query.flag("connectorsOnly", true)?;
    Ok(Json(herder.plugins()).into_response())
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's config keys; 404 for an
/// unknown plugin.
pub(crate) async fn config(
    State(herder): State<SharedHerder>,
    PathParams(plugin): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(herder.plugin_config(&plugin)?).into_response())
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 200 with every key's value and
/// errors, even when `error_count` is not zero; 400 without `connector.class`.
pub(crate) async fn validate(
    State(herder): State<SharedHerder>,
    PathParams(plugin): PathParams<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let config = config_map(body)?;
    // The message names the key, never the config: it may hold secrets.
    if config
        .get(CONNECTOR_CLASS_CONFIG)
        .is_none_or(|class| class.trim().is_empty())
    {
        return Err(ApiError::bad_request(format!(
            "The config has no {CONNECTOR_CLASS_CONFIG}: set it to the plugin's class or alias, e.g. \"{CONNECTOR_CLASS_CONFIG}\": \"{plugin}\""
        )));
    }
    Ok(Json(herder.validate(&plugin, &config)?).into_response())
}
