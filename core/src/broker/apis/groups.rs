//! ListGroups, DescribeGroups and DeleteGroups: the admin view of groups.

use super::{authorized_operations, RequestContext};
use crate::broker::state::BrokerState;
use crate::protocol::messages::delete_groups_response::DeletableGroupResult;
use crate::protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use crate::protocol::messages::list_groups_response::ListedGroup;
use crate::protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    ListGroupsRequest, ListGroupsResponse,
};

/// Every group here is a classic group (KIP-848 groups are "consumer").
const CLASSIC: &str = "classic";

pub(super) async fn list(state: &BrokerState, request: ListGroupsRequest) -> ListGroupsResponse {
    let classic_wanted = request.types_filter.is_empty()
        || request
            .types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case(CLASSIC));
    let groups = if classic_wanted {
        state.groups.list_groups(&request.states_filter).await
    } else {
        Vec::new()
    };
    ListGroupsResponse {
        groups: groups
            .into_iter()
            .map(|g| ListedGroup {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                group_state: g.state.to_owned(),
                group_type: CLASSIC.to_owned(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(super) async fn describe(
    state: &BrokerState,
    ctx: &RequestContext,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let described = state.groups.describe_groups(&request.groups).await;
    let operations =
        authorized_operations::group(request.include_authorized_operations && ctx.version >= 3);
    DescribeGroupsResponse {
        groups: described
            .into_iter()
            .map(|g| DescribedGroup {
                group_id: g.group_id,
                group_state: g.state.to_owned(),
                protocol_type: g.protocol_type,
                protocol_data: g.protocol,
                members: g
                    .members
                    .into_iter()
                    .map(|m| DescribedGroupMember {
                        member_id: m.member_id,
                        group_instance_id: m.instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                        ..Default::default()
                    })
                    .collect(),
                authorized_operations: operations,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(super) async fn delete(
    state: &BrokerState,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let codes = state.groups.delete_groups(&request.groups_names).await;
    DeleteGroupsResponse {
        results: request
            .groups_names
            .into_iter()
            .zip(codes)
            .map(|(group_id, code)| DeletableGroupResult {
                group_id,
                error_code: code.code(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
