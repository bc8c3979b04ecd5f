//! What every connection shares: configuration, identity and the topic registry.

use crate::metadata::TopicRegistry;

use super::BrokerConfig;

#[derive(Debug)]
pub(crate) struct BrokerState {
    pub(crate) config: BrokerConfig,
    pub(crate) cluster_id: String,
    /// The host and port clients are told to connect to.
    pub(crate) advertised_host: String,
    pub(crate) advertised_port: i32,
    pub(crate) topics: TopicRegistry,
}
