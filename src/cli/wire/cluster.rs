//! The cluster as the admin commands see it: a bootstrap connection for metadata and
//! coordinator look-ups, and one connection per broker, opened when first needed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use weir_core::protocol::messages::find_coordinator_response::Coordinator;
use weir_core::protocol::messages::metadata_request::MetadataRequestTopic;
use weir_core::protocol::messages::{FindCoordinatorRequest, MetadataRequest, MetadataResponse};
use weir_core::protocol::{ApiKey, ErrorCode};

use super::{Connection, WireError};

/// FindCoordinator's key type for transactional ids (0 is consumer groups).
const TRANSACTION_KEY: i8 = 1;

/// Connections to a cluster's brokers.
#[derive(Debug)]
pub(crate) struct Cluster {
    timeout: Duration,
    bootstrap: Connection,
    /// `host:port` of every broker by node id, from the last metadata response.
    brokers: BTreeMap<i32, String>,
    connections: HashMap<i32, Connection>,
}

impl Cluster {
    /// Connects to the first reachable address of `bootstrap` (`host:port[,...]`) and
    /// learns the cluster's brokers.
    pub(crate) async fn connect(bootstrap: &str, timeout: Duration) -> Result<Cluster, WireError> {
        let mut first_error = None;
        for addr in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Connection::open(addr, timeout).await {
                Ok(connection) => {
                    let mut cluster = Cluster {
                        timeout,
                        bootstrap: connection,
                        brokers: BTreeMap::new(),
                        connections: HashMap::new(),
                    };
                    cluster.metadata(Some(&[])).await?;
                    return Ok(cluster);
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.unwrap_or(WireError::NoBootstrap))
    }

    /// Metadata for `topics` (`None`: every topic), never creating one. The broker
    /// list it carries replaces the one known so far.
    pub(crate) async fn metadata(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<MetadataResponse, WireError> {
        let request = MetadataRequest {
            topics: topics.map(|names| {
                names
                    .iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let response = self.bootstrap.send(&request).await?;
        self.brokers = response
            .brokers
            .iter()
            .map(|b| (b.node_id, format!("{}:{}", b.host, b.port)))
            .collect();
        Ok(response)
    }

    /// Node ids of every broker, ascending.
    pub(crate) fn broker_ids(&self) -> Vec<i32> {
        self.brokers.keys().copied().collect()
    }

    /// The connection to broker `id`, opened if there is none yet.
    pub(crate) async fn broker(&mut self, id: i32) -> Result<&mut Connection, WireError> {
        let Some(addr) = self.brokers.get(&id).cloned() else {
            return Err(WireError::UnknownBroker {
                id,
                known: self.broker_ids(),
            });
        };
        self.connection_to(id, &addr).await
    }

    async fn connection_to(&mut self, id: i32, addr: &str) -> Result<&mut Connection, WireError> {
        let stale = self.connections.get(&id).is_some_and(|c| c.addr() != addr);
        if stale {
            self.connections.remove(&id);
        }
        if !self.connections.contains_key(&id) {
            let connection = Connection::open(addr, self.timeout).await?;
            self.connections.insert(id, connection);
        }
        Ok(self.connections.get_mut(&id).expect("inserted above"))
    }

    /// The coordinator of `transactional_id`: its node id and a connection to it.
    ///
    /// A coordinator that is loading or moving is asked again until the request
    /// timeout has passed; any other error is returned with the broker's code.
    pub(crate) async fn coordinator(
        &mut self,
        transactional_id: &str,
    ) -> Result<(i32, &mut Connection), WireError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let found = loop {
            let found = self.find_coordinator(transactional_id).await?;
            let retriable = ErrorCode::from_i16(found.error_code).is_some_and(|code| {
                matches!(
                    code,
                    ErrorCode::CoordinatorNotAvailable
                        | ErrorCode::CoordinatorLoadInProgress
                        | ErrorCode::NotCoordinator
                )
            });
            if !retriable || tokio::time::Instant::now() >= deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        if found.error_code != 0 {
            return Err(WireError::Coordinator {
                transactional_id: transactional_id.to_owned(),
                error: super::kafka_error(found.error_code, found.error_message.as_deref()),
            });
        }
        let addr = format!("{}:{}", found.host, found.port);
        let connection = self.connection_to(found.node_id, &addr).await?;
        Ok((found.node_id, connection))
    }

    /// One FindCoordinator round trip, in the request layout the version needs:
    /// v4 and later batch keys (KIP-699), earlier versions ask for one.
    async fn find_coordinator(&mut self, key: &str) -> Result<Coordinator, WireError> {
        let version = self.bootstrap.version(ApiKey::FindCoordinator)?;
        let mut request = FindCoordinatorRequest {
            key_type: TRANSACTION_KEY,
            ..Default::default()
        };
        if version >= 4 {
            request.coordinator_keys = vec![key.to_owned()];
        } else {
            request.key = key.to_owned();
        }
        let response = self.bootstrap.send_at(&request, version).await?;
        if version >= 4 {
            let answer = response.coordinators.into_iter().find(|c| c.key == key);
            return Ok(answer.unwrap_or_else(|| Coordinator {
                key: key.to_owned(),
                node_id: -1,
                error_code: ErrorCode::CoordinatorNotAvailable.code(),
                error_message: Some("the broker's answer names no coordinator".into()),
                ..Default::default()
            }));
        }
        Ok(Coordinator {
            key: key.to_owned(),
            node_id: response.node_id,
            host: response.host,
            port: response.port,
            error_code: response.error_code,
            error_message: response.error_message,
            ..Default::default()
        })
    }
}
