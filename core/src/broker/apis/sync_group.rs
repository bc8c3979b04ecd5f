//! SyncGroup: followers wait for the leader's assignment.

use crate::broker::state::BrokerState;
use crate::protocol::messages::{SyncGroupRequest, SyncGroupResponse};

pub(super) async fn handle(state: &BrokerState, request: SyncGroupRequest) -> SyncGroupResponse {
    state.groups.sync(request).await
}
