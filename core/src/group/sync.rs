//! SyncGroup: the leader's assignment is persisted, then handed to every member.

use std::collections::HashMap;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::state::{Group, GroupState};
use super::{GroupCoordinator, QueuedWrite};
use crate::protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use crate::protocol::ErrorCode;

fn error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.code(),
        ..Default::default()
    }
}

enum Synced {
    Reply(SyncGroupResponse),
    /// Wait for the assignment; the leader also completes this write first.
    Wait(Option<QueuedWrite>),
}

impl GroupCoordinator {
    pub async fn sync(&self, request: SyncGroupRequest) -> SyncGroupResponse {
        let inner = &self.inner;
        let (reply, answer) = oneshot::channel();
        let group_id = request.group_id.clone();
        let generation = request.generation_id;
        let synced = {
            let mut groups = inner.groups.lock().await;
            let now = Instant::now();
            match groups.get_mut(&request.group_id) {
                None => Synced::Reply(error(ErrorCode::UnknownMemberId)),
                Some(group) => match check(group, &request) {
                    Err(code) => Synced::Reply(error(code)),
                    Ok(()) => match group.state {
                        GroupState::Empty => Synced::Reply(error(ErrorCode::UnknownMemberId)),
                        GroupState::PreparingRebalance => {
                            Synced::Reply(error(ErrorCode::RebalanceInProgress))
                        }
                        GroupState::Stable => {
                            let member =
                                group.members.get_mut(&request.member_id).expect("checked");
                            member.heartbeat(now);
                            let assignment = member.assignment.clone();
                            Synced::Reply(response(group, assignment))
                        }
                        GroupState::CompletingRebalance => {
                            let is_leader =
                                group.leader.as_deref() == Some(request.member_id.as_str());
                            let member =
                                group.members.get_mut(&request.member_id).expect("checked");
                            member.heartbeat(now);
                            member.fail_sync(ErrorCode::RebalanceInProgress.code());
                            member.awaiting_sync = Some(reply);
                            if is_leader {
                                let assignments: HashMap<String, Bytes> = request
                                    .assignments
                                    .into_iter()
                                    .map(|a| (a.member_id, a.assignment))
                                    .collect();
                                for member in group.members.values_mut() {
                                    member.assignment =
                                        assignments.get(&member.id).cloned().unwrap_or_default();
                                }
                                Synced::Wait(Some(inner.write_group(group).await))
                            } else {
                                Synced::Wait(None)
                            }
                        }
                    },
                },
            }
        };
        let write = match synced {
            Synced::Reply(response) => return response,
            Synced::Wait(write) => write,
        };
        if let Some(write) = write {
            let result = match write {
                Ok(write) => write.wait().await,
                Err(code) => Err(code),
            };
            let mut groups = inner.groups.lock().await;
            if let Some(group) = groups.get_mut(&group_id) {
                if group.generation == generation && group.state == GroupState::CompletingRebalance
                {
                    let now_ms = inner.clock.now_ms();
                    match result {
                        Ok(()) => propagate_assignments(group, Instant::now(), now_ms),
                        Err(code) => {
                            // Kafka's answer to a failed write: everyone rejoins.
                            for member in group.members.values_mut() {
                                member.assignment = Bytes::new();
                                member.fail_sync(code.code());
                            }
                            group.prepare_rebalance(
                                Instant::now(),
                                now_ms,
                                inner.config.initial_rebalance_delay,
                            );
                        }
                    }
                    inner.deadlines_changed.notify_one();
                }
            }
        }
        tokio::select! {
            response = answer => response.unwrap_or_else(|_| error(ErrorCode::RebalanceInProgress)),
            _ = inner.shutdown.cancelled() => error(ErrorCode::NotCoordinator),
        }
    }
}

/// Checks who is syncing, in Kafka's order of precedence.
fn check(group: &Group, request: &SyncGroupRequest) -> Result<(), ErrorCode> {
    if group.is_fenced(request.group_instance_id.as_deref(), &request.member_id) {
        return Err(ErrorCode::FencedInstanceId);
    }
    if !group.members.contains_key(&request.member_id) {
        return Err(ErrorCode::UnknownMemberId);
    }
    if request.generation_id != group.generation {
        return Err(ErrorCode::IllegalGeneration);
    }
    // v5 names the protocol the member joined with; a mismatch is a confused client.
    let mismatch = |asked: &Option<String>, have: &Option<String>| {
        asked.as_ref().is_some_and(|a| Some(a) != have.as_ref())
    };
    if mismatch(&request.protocol_type, &group.protocol_type)
        || mismatch(&request.protocol_name, &group.protocol_name)
    {
        return Err(ErrorCode::InconsistentGroupProtocol);
    }
    Ok(())
}

fn response(group: &Group, assignment: Bytes) -> SyncGroupResponse {
    SyncGroupResponse {
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol_name.clone(),
        assignment,
        ..Default::default()
    }
}

/// The assignment is durable: the group is stable and every waiting member gets its
/// share. Members that sync later get it straight from the Stable state.
fn propagate_assignments(group: &mut Group, now: tokio::time::Instant, now_ms: i64) {
    group.transition(GroupState::Stable, now_ms);
    group.rebalance_deadline = None;
    let (protocol_type, protocol_name) = (group.protocol_type.clone(), group.protocol_name.clone());
    for member in group.members.values_mut() {
        member.heartbeat(now);
        if let Some(reply) = member.awaiting_sync.take() {
            let _ = reply.send(SyncGroupResponse {
                protocol_type: protocol_type.clone(),
                protocol_name: protocol_name.clone(),
                assignment: member.assignment.clone(),
                ..Default::default()
            });
        }
    }
}
