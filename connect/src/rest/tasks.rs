//! `/connectors/{name}/tasks/...`: the task configs, one task's status, restarting one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use super::extract::PathParams;
use super::SharedHerder;
use crate::herder::ConnectorTaskId;

/// `GET /connectors/{name}/tasks`.
pub(crate) async fn list(
    State(herder): State<SharedHerder>,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    Ok(Json(herder.task_configs(&name).await?).into_response())
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub(crate) async fn status(
    State(herder): State<SharedHerder>,
    PathParams((name, task)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let id = task_id(name, &task)?;
    Ok(Json(herder.task_status(&id).await?).into_response())
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
pub(crate) async fn restart(
    State(herder): State<SharedHerder>,
    PathParams((name, task)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = task_id(name, &task)?;
    herder.restart_task(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The task number from the path. A segment that is not one names no task, so it is
/// a 404 (as in Kafka Connect), not a 400.
fn task_id(connector: String, task: &str) -> Result<ConnectorTaskId, ApiError> {
    match task.parse::<u32>() {
        Ok(task) => Ok(ConnectorTaskId { connector, task }),
        Err(_) => Err(ApiError::not_found(format!(
            "Task {task} of connector {connector} not found: a task id is a number (0, 1, ...)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_is_a_number_or_not_found() {
        assert_eq!(
            task_id("a".into(), "3").unwrap(),
            ConnectorTaskId {
                connector: "a".into(),
                task: 3
            }
        );
        for bad in ["x", "-1", "4294967296", ""] {
            let err = task_id("a".into(), bad).unwrap_err();
            assert_eq!(err.status, StatusCode::NOT_FOUND, "{bad}");
        }
    }
}
