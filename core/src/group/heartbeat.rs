//! Heartbeat and LeaveGroup: keeping a membership alive and ending it.

use tokio::time::Instant;

use super::state::{Group, GroupState};
use super::{GroupCoordinator, Inner};
use crate::protocol::ErrorCode;

/// One member leaving: by member id, or by `group.instance.id` for static members.
#[derive(Debug, Clone)]
pub struct LeavingMember {
    pub member_id: String,
    pub instance_id: Option<String>,
}

impl GroupCoordinator {
    pub async fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> ErrorCode {
        let mut groups = self.inner.groups.lock().await;
        let Some(group) = groups.get_mut(group_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if group.is_fenced(instance_id, member_id) {
            return ErrorCode::FencedInstanceId;
        }
        if group.state == GroupState::Empty {
            return ErrorCode::UnknownMemberId;
        }
        let Some(member) = group.members.get_mut(member_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if generation != group.generation {
            return ErrorCode::IllegalGeneration;
        }
        member.heartbeat(Instant::now());
        match group.state {
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            _ => ErrorCode::None,
        }
    }

    /// Removes members; answers one code per member, in order. An unknown group
    /// answers UNKNOWN_MEMBER_ID for each.
    pub async fn leave(&self, group_id: &str, leaving: &[LeavingMember]) -> Vec<ErrorCode> {
        let inner = &self.inner;
        let mut groups = inner.groups.lock().await;
        let Some(group) = groups.get_mut(group_id) else {
            return vec![ErrorCode::UnknownMemberId; leaving.len()];
        };
        let mut codes = Vec::with_capacity(leaving.len());
        let mut changed = false;
        for who in leaving {
            let code = remove(group, who);
            changed |= code == ErrorCode::None;
            codes.push(code);
        }
        if changed {
            inner.membership_changed(group).await;
            inner.deadlines_changed.notify_one();
        }
        codes
    }
}

fn remove(group: &mut Group, who: &LeavingMember) -> ErrorCode {
    let id = match who.instance_id.as_deref().filter(|i| !i.is_empty()) {
        Some(instance) => match group.static_members.get(instance) {
            None => return ErrorCode::UnknownMemberId,
            Some(current) if !who.member_id.is_empty() && *current != who.member_id => {
                return ErrorCode::FencedInstanceId
            }
            Some(current) => current.clone(),
        },
        None => {
            if group.pending_members.remove(&who.member_id).is_some() {
                return ErrorCode::None;
            }
            who.member_id.clone()
        }
    };
    match group.remove_member(&id) {
        Some(mut member) => {
            tracing::info!(group = %group.id, member = %id, "member left");
            member.fail_join(ErrorCode::UnknownMemberId.code());
            member.fail_sync(ErrorCode::UnknownMemberId.code());
            ErrorCode::None
        }
        None => ErrorCode::UnknownMemberId,
    }
}

impl Inner {
    /// After members went away: a settled group rebalances; a rebalancing one may now
    /// have everyone it is waiting for.
    pub(super) async fn membership_changed(&self, group: &mut Group) {
        let now = Instant::now();
        let now_ms = self.clock.now_ms();
        if matches!(
            group.state,
            GroupState::Stable | GroupState::CompletingRebalance
        ) {
            group.prepare_rebalance(now, now_ms, self.config.initial_rebalance_delay);
        }
        self.maybe_complete_join(group, now, now_ms).await;
    }
}
