//! OffsetCommit.

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

pub(super) async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    state.groups.commit_offsets(request, ctx.version).await
}
