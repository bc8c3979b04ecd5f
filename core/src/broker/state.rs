//! What every connection shares: configuration, identity, the topic registry and the
//! group and transaction coordinators.

use std::sync::Arc;

use crate::group::GroupCoordinator;
use crate::metadata::TopicRegistry;
use crate::txn::TransactionCoordinator;

use super::BrokerConfig;

#[derive(Debug)]
pub(crate) struct BrokerState {
    pub(crate) config: BrokerConfig,
    pub(crate) cluster_id: String,
    /// The host and port clients are told to connect to.
    pub(crate) advertised_host: String,
    pub(crate) advertised_port: i32,
    /// Shared with the group coordinator, which writes `__consumer_offsets`.
    pub(crate) topics: Arc<TopicRegistry>,
    pub(crate) groups: GroupCoordinator,
    pub(crate) txns: TransactionCoordinator,
}
