//! JoinGroup: may wait for the rebalance to complete before answering.

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::protocol::messages::{JoinGroupRequest, JoinGroupResponse};

pub(super) async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    state
        .groups
        .join(request, ctx.version, ctx.client_info())
        .await
}
