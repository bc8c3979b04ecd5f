//! `/connectors` and `/connectors/{name}/...`: creating, configuring, inspecting,
//! pausing, stopping, restarting and deleting connectors.
//!
//! Handlers only translate HTTP to [`Herder`] calls: the name checks Kafka Connect
//! makes at its REST edge (a config's `name` must match the connector's) are here,
//! everything about the connector itself is the herder's.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::extract::{config_map, config_patch, kind, JsonBody, PathParams, QueryParams};
use super::SharedHerder;
use crate::config::ConfigMap;
use crate::herder::{ExpandedConnectors, Herder, HerderError, TargetState};

/// The config key that names the connector.
const NAME_CONFIG: &str = "name";

/// `GET /connectors`, or with `?expand=status` / `?expand=info` a map from name to the
/// expanded objects.
pub(crate) async fn list(
    State(herder): State<SharedHerder>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let names = herder.connectors().await;
    if !query.contains("expand") {
        return Ok(Json(names).into_response());
    }
    let mut status = false;
    let mut info = false;
    for expansion in query.values("expand") {
        match expansion {
            "status" => status = true,
            "info" => info = true,
            other => {
                return Err(ApiError::bad_request(format!(
                "Unknown expansion '{other}' for query parameter expand: expected status or info"
            )))
            }
        }
    }
    let mut out = ExpandedConnectors::new();
    for name in names {
        match expand(herder.as_ref(), &name, status, info).await {
            Ok(expanded) => {
                out.insert(name, expanded);
            }
            // Deleted between listing and expanding: it is simply no longer there.
            Err(HerderError::NotFound(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Json(out).into_response())
}

async fn expand(
    herder: &dyn Herder,
    name: &str,
    status: bool,
    info: bool,
) -> Result<BTreeMap<String, Value>, HerderError> {
    let mut expanded = BTreeMap::new();
    if status {
        let value = herder.connector_status(name).await?;
        expanded.insert("status".to_owned(), to_value(&value)?);
    }
    if info {
        let value = herder.connector_info(name).await?;
        expanded.insert("info".to_owned(), to_value(&value)?);
    }
    Ok(expanded)
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, HerderError> {
    serde_json::to_value(value).map_err(|err| HerderError::Internal(err.to_string()))
}

/// `POST /connectors` with `{"name": ..., "config": {...}}`: 201 and the new
/// connector's info, 409 when the name is taken.
pub(crate) async fn create(
    State(herder): State<SharedHerder>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::bad_request(format!(
            "The request body must be a JSON object {{\"name\": ..., \"config\": {{...}}}}, not {}",
            kind(&body)
        )));
    };
    let name = match body.remove("name") {
        Some(Value::String(name)) => name.trim().to_owned(),
        None | Some(Value::Null) => String::new(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Connector name must be a string, not {}",
                kind(&other)
            )))
        }
    };
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "Connector name is required: give \"name\" in the request body",
        ));
    }
    let initial = initial_state(&mut body)?;
    let mut config = match body.remove("config") {
        Some(value) => config_map(value)?,
        None => {
            return Err(ApiError::bad_request(format!(
            "Connector config is required: give \"config\" with the settings of connector {name}"
        )))
        }
    };
    put_name(&name, &mut config)?;
    let upserted = herder.create_connector(&name, config, initial).await?;
    Ok(created(&name, Json(upserted.info)))
}

/// Kafka Connect's `initial_state` (KIP-980): RUNNING (the default), PAUSED or
/// STOPPED.
fn initial_state(body: &mut Map<String, Value>) -> Result<TargetState, ApiError> {
    match body.remove("initial_state") {
        None | Some(Value::Null) => Ok(TargetState::Started),
        Some(Value::String(state)) => match state.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(TargetState::Started),
            "PAUSED" => Ok(TargetState::Paused),
            "STOPPED" => Ok(TargetState::Stopped),
            _ => Err(ApiError::bad_request(format!(
                "Invalid initial_state {state}: expected RUNNING, PAUSED or STOPPED"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid initial_state {other}: expected RUNNING, PAUSED or STOPPED"
        ))),
    }
}

/// The config's `name` must be the connector's; it is added when absent.
fn put_name(name: &str, config: &mut ConfigMap) -> Result<(), ApiError> {
    match config.get(NAME_CONFIG) {
        Some(included) if included != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            config.insert(NAME_CONFIG.to_owned(), name.to_owned());
            Ok(())
        }
    }
}

/// 201 with `Location: /connectors/<name>`.
fn created(name: &str, body: impl IntoResponse) -> Response {
    let location = format!("/connectors/{}", encode_segment(name));
    let mut response = (StatusCode::CREATED, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Percent-encodes a path segment: everything but RFC 3986's unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /connectors/{name}`.
pub(crate) async fn info(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(herder.connector_info(&name).await?).into_response())
}

/// `GET /connectors/{name}/config`: secrets come back masked by the herder.
pub(crate) async fn config(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(herder.connector_config(&name).await?).into_response())
}

/// `PUT /connectors/{name}/config`: 201 when this created the connector, 200 when it
/// replaced the config of an existing one.
pub(crate) async fn put_config(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let mut config = config_map(body)?;
    put_name(&name, &mut config)?;
    let upserted = herder.put_connector_config(&name, config, true).await?;
    if upserted.created {
        Ok(created(&name, Json(upserted.info)))
    } else {
        Ok(Json(upserted.info).into_response())
    }
}

/// `PATCH /connectors/{name}/config` (KIP-477): 200 with the connector's info; keys
/// given `null` are removed, the others set, the rest kept.
pub(crate) async fn patch_config(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let patch = config_patch(body)?;
    if let Some(Some(given)) = patch.get(NAME_CONFIG) {
        if *given != name {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
            )));
        }
    }
    Ok(Json(herder.patch_connector_config(&name, patch).await?).into_response())
}

/// `DELETE /connectors/{name}`: 204.
pub(crate) async fn delete(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    herder.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/status`.
pub(crate) async fn status(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(herder.connector_status(&name).await?).into_response())
}

/// `PUT /connectors/{name}/pause`: 202, the tasks go idle.
pub(crate) async fn pause(
    herder: State<SharedHerder>,
    name: PathParams<String>,
) -> Result<StatusCode, ApiError> {
    set_target_state(herder, name, TargetState::Paused).await
}

/// `PUT /connectors/{name}/resume`: 202.
pub(crate) async fn resume(
    herder: State<SharedHerder>,
    name: PathParams<String>,
) -> Result<StatusCode, ApiError> {
    set_target_state(herder, name, TargetState::Started).await
}

/// `PUT /connectors/{name}/stop`: 202, the tasks shut down and offsets may be altered.
pub(crate) async fn stop(
    herder: State<SharedHerder>,
    name: PathParams<String>,
) -> Result<StatusCode, ApiError> {
    set_target_state(herder, name, TargetState::Stopped).await
}

async fn set_target_state(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
    state: TargetState,
) -> Result<StatusCode, ApiError> {
    herder.set_target_state(&name, state).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /connectors/{name}/restart?includeTasks=&onlyFailed=`: without either flag
/// only the connector restarts and the answer is 204, as before KIP-745; with one, 202
/// and the status showing what is restarting.
pub(crate) async fn restart(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let include_tasks = query.flag("includeTasks", false)?;
    let only_failed = query.flag("onlyFailed", false)?;
    let status = herder
        .restart_connector(&name, include_tasks, only_failed)
        .await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_segment_is_percent_encoded() {
        assert_eq!(encode_segment("orders-sink_1.v2"), "orders-sink_1.v2");
        assert_eq!(encode_segment("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn config_name_must_match_the_connector() {
        let mut config = ConfigMap::new();
        put_name("a", &mut config).unwrap();
        assert_eq!(config["name"], "a");
        config.insert("name".into(), "b".into());
        let err = put_name("a", &mut config).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("(b)") && err.message.contains("(a)"));
    }

    #[test]
    fn initial_state_takes_kafka_connects_three_states() {
        let mut body = Map::new();
        assert_eq!(initial_state(&mut body).unwrap(), TargetState::Started);
        for (given, state) in [
            ("running", TargetState::Started),
            ("PAUSED", TargetState::Paused),
            ("STOPPED", TargetState::Stopped),
        ] {
            body.insert("initial_state".into(), Value::from(given));
            assert_eq!(initial_state(&mut body).unwrap(), state);
            assert!(body.is_empty(), "the key is taken out of the body");
        }
        body.insert("initial_state".into(), Value::from("SLEEPING"));
        let err = initial_state(&mut body).unwrap_err();
        assert!(
            err.message.contains("RUNNING, PAUSED or STOPPED"),
            "{}",
            err.message
        );
        body.insert("initial_state".into(), Value::from(3));
        assert!(initial_state(&mut body).is_err());
    }
}
