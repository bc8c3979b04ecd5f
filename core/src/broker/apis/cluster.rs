//! DescribeCluster: this node is the whole cluster and its controller.

use super::metadata::OPERATIONS_NOT_REQUESTED;
use crate::broker::state::BrokerState;
use crate::protocol::messages::describe_cluster_response::DescribeClusterBroker;
use crate::protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use crate::protocol::ErrorCode;

/// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS and
/// IDEMPOTENT_WRITE: with no authorizer, everything is allowed.
const CLUSTER_OPERATIONS: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub(super) fn describe(
    state: &BrokerState,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    DescribeClusterResponse {
        error_code: ErrorCode::None.code(),
        endpoint_type: request.endpoint_type,
        cluster_id: state.cluster_id.clone(),
        controller_id: state.config.node_id,
        brokers: vec![DescribeClusterBroker {
            broker_id: state.config.node_id,
            host: state.advertised_host.clone(),
            port: state.advertised_port,
            rack: None,
            ..Default::default()
        }],
        cluster_authorized_operations: if request.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS
        } else {
            OPERATIONS_NOT_REQUESTED
        },
        ..Default::default()
    }
}
