//! LeaveGroup: one member (v0–v2) or a batch of members by id or instance id (v3+).

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::group::LeavingMember;
use crate::protocol::messages::leave_group_response::MemberResponse;
use crate::protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

pub(super) async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    if ctx.version < 3 {
        let leaving = [LeavingMember {
            member_id: request.member_id,
            instance_id: None,
        }];
        let codes = state.groups.leave(&request.group_id, &leaving).await;
        return LeaveGroupResponse {
            error_code: codes[0].code(),
            ..Default::default()
        };
    }
    let leaving: Vec<LeavingMember> = request
        .members
        .iter()
        .map(|m| LeavingMember {
            member_id: m.member_id.clone(),
            instance_id: m.group_instance_id.clone(),
        })
        .collect();
    let codes = state.groups.leave(&request.group_id, &leaving).await;
    LeaveGroupResponse {
        members: request
            .members
            .into_iter()
            .zip(codes)
            .map(|(m, code)| MemberResponse {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                error_code: code.code(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
