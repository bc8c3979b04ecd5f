//! OffsetDelete.

use crate::broker::state::BrokerState;
use crate::protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

pub(super) async fn handle(
    state: &BrokerState,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    state.groups.delete_offsets(request).await
}
