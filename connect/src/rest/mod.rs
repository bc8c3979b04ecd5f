//! The Connect REST API, with Kafka Connect's paths, verbs, status codes and JSON, so
//! tools written for Kafka Connect (curl scripts, UIs, Terraform providers) drive a
//! Weir worker unchanged.
//!
//! This layer only maps HTTP to the [`Herder`]: the herder decides, the handlers
//! translate its answers and errors (`NotFound` 404, `Conflict` 409, `BadRequest`
//! 400, `Forbidden` 403, `Internal` 500). Every failure, including an unknown path (404), a wrong method
//! (405) and a malformed body (400), has Kafka Connect's body
//! `{"error_code": N, "message": "..."}`. `docs/connect-rest.md` lists the endpoints
//! and where they differ from Kafka Connect.
//!
//! ```no_run
//! # async fn run(herder: std::sync::Arc<dyn weir_connect::herder::Herder>) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8083").await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! weir_connect::rest::serve(listener, herder, shutdown).await
//! # }
//! ```

mod connectors;
mod error;
mod extract;
mod loggers;
mod offsets;
mod plugins;
mod server;
mod tasks;
mod topics;

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::herder::Herder;

/// The state every handler shares.
type SharedHerder = Arc<dyn Herder>;

/// Serves the REST API on `listener` until `shutdown` is cancelled; then stops
/// accepting and returns once the requests in flight are answered.
pub async fn serve(
    listener: TcpListener,
    herder: Arc<dyn Herder>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(herder))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The router, for embedding in another server or serving with other middleware.
pub fn router(herder: Arc<dyn Herder>) -> Router {
    Router::new()
        .route("/", get(server::info))
        .route("/metrics", get(server::metrics))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::info).delete(connectors::delete),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route("/connectors/{name}/status", get(connectors::status))
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route("/connectors/{name}/restart", post(connectors::restart))
        .route("/connectors/{name}/tasks", get(tasks::list))
        .route("/connectors/{name}/tasks/{task}/status", get(tasks::status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(tasks::restart),
        )
        .route(
            "/connectors/{name}/offsets",
            get(offsets::get)
                .patch(offsets::alter)
                .delete(offsets::reset),
        )
        .route("/connectors/{name}/topics", get(topics::get))
        .route("/connectors/{name}/topics/reset", put(topics::reset))
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/admin/loggers", get(loggers::list))
        .route("/admin/loggers/{name}", get(loggers::get).put(loggers::set))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(herder)
}
