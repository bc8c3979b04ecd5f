//! FindCoordinator: this broker coordinates every group and every transactional id.

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::protocol::messages::find_coordinator_response::Coordinator;
use crate::protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::ErrorCode;

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

pub(super) fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let answer = |key: String| {
        let mut coordinator = Coordinator {
            key,
            node_id: state.config.node_id,
            host: state.advertised_host.clone(),
            port: state.advertised_port,
            ..Default::default()
        };
        if request.key_type != GROUP_KEY && request.key_type != TRANSACTION_KEY {
            coordinator.error_code = ErrorCode::InvalidRequest.code();
            coordinator.error_message = Some(format!(
                "unknown coordinator key type {} (0 = group, 1 = transaction)",
                request.key_type
            ));
            coordinator.node_id = -1;
            coordinator.host = String::new();
            coordinator.port = -1;
        }
        coordinator
    };
    // v4 batches keys (KIP-699); earlier versions ask for one key at top level.
    if ctx.version >= 4 {
        return FindCoordinatorResponse {
            coordinators: request
                .coordinator_keys
                .iter()
                .cloned()
                .map(answer)
                .collect(),
            ..Default::default()
        };
    }
    let one = answer(request.key.clone());
    FindCoordinatorResponse {
        error_code: one.error_code,
        error_message: one.error_message,
        node_id: one.node_id,
        host: one.host,
        port: one.port,
        ..Default::default()
    }
}
