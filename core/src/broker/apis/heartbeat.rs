//! Heartbeat.

use crate::broker::state::BrokerState;
use crate::protocol::messages::{HeartbeatRequest, HeartbeatResponse};

pub(super) async fn handle(state: &BrokerState, request: HeartbeatRequest) -> HeartbeatResponse {
    let code = state
        .groups
        .heartbeat(
            &request.group_id,
            request.generation_id,
            &request.member_id,
            request.group_instance_id.as_deref(),
        )
        .await;
    HeartbeatResponse {
        error_code: code.code(),
        ..Default::default()
    }
}
