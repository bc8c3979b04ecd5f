//! The worker's own metadata lookups.

use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::{Client, ClientContext, DefaultClientContext};

use crate::kafka::{blocking, REQUEST_TIMEOUT};
use crate::runtime::RuntimeSettings;
use crate::ConnectError;

/// The partition ids of a topic, waiting for a topic created just now to show up in
/// metadata.
pub(crate) fn partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<Vec<i32>, String> {
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let found = client
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .map_err(|e| e.to_string())
            .map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                    .unwrap_or_default()
            });
        match found {
            Ok(ids) if !ids.is_empty() => return Ok(ids),
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(_) => return Err(format!("topic {topic} has no partitions in metadata")),
            Err(err) => return Err(err),
        }
    }
}

/// The cluster id, as `GET /` reports it.
pub(crate) async fn cluster_id(
    admin: std::sync::Arc<AdminClient<DefaultClientContext>>,
    settings: &RuntimeSettings,
) -> Result<String, ConnectError> {
    blocking(move || admin.inner().fetch_cluster_id(REQUEST_TIMEOUT))
        .await?
        .ok_or_else(|| {
            ConnectError::external(format!(
                "the Kafka cluster at {} did not tell its cluster id",
                settings.bootstrap_servers
            ))
        })
}
