//! DescribeCluster: this node is the whole cluster and its controller.

use super::authorized_operations;
use crate::broker::state::BrokerState;
use crate::protocol::messages::describe_cluster_response::DescribeClusterBroker;
use crate::protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use crate::protocol::ErrorCode;

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
        cluster_authorized_operations: authorized_operations::cluster(
            request.include_cluster_authorized_operations,
        ),
        ..Default::default()
    }
}
