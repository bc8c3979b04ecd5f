//! FindCoordinator: this broker coordinates every group; transactions are not served.

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::protocol::messages::find_coordinator_response::Coordinator;
use crate::protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use crate::protocol::ErrorCode;

const GROUP_KEY: i8 = 0;

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
        if request.key_type != GROUP_KEY {
            coordinator.error_code = ErrorCode::CoordinatorNotAvailable.code();
            coordinator.error_message =
                Some("transactions are not supported by this broker yet".into());
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
