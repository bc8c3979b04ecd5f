//! JoinGroup: new, pending (KIP-394), known and static (KIP-345) members.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::member::Member;
use super::state::{Group, GroupState};
use super::{new_member_id, ClientInfo, GroupCoordinator, Inner, QueuedWrite};
use crate::protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use crate::protocol::ErrorCode;

/// What a join does once the lock is released.
enum Joined {
    /// Answer now.
    Reply(JoinGroupResponse),
    /// Answer once the group's metadata is persisted (a static member replaced).
    ReplyAfterWrite(JoinGroupResponse, QueuedWrite),
    /// Wait for the rebalance to complete.
    Wait,
}

fn error(code: ErrorCode, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code.code(),
        member_id: member_id.to_owned(),
        ..Default::default()
    }
}

/// A JoinGroup's parameters, normalized across versions.
struct JoinParams {
    member_id: String,
    instance_id: Option<String>,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    client: ClientInfo,
    /// KIP-394 (v4+): a member without an id is given one and must rejoin with it.
    require_known_member_id: bool,
    /// KIP-814 (v9+): a static leader rejoining a stable group need not reassign.
    supports_skip_assignment: bool,
}

impl GroupCoordinator {
    pub async fn join(
        &self,
        request: JoinGroupRequest,
        version: i16,
        client: ClientInfo,
    ) -> JoinGroupResponse {
        let inner = &self.inner;
        if request.group_id.is_empty() {
            return error(ErrorCode::InvalidGroupId, &request.member_id);
        }
        let session = Duration::from_millis(request.session_timeout_ms.max(0) as u64);
        if request.session_timeout_ms < 0
            || session < inner.config.min_session_timeout
            || session > inner.config.max_session_timeout
        {
            return error(ErrorCode::InvalidSessionTimeout, &request.member_id);
        }
        // v0 has no rebalance timeout: the session timeout bounded the rebalance.
        let rebalance_timeout = if request.rebalance_timeout_ms > 0 {
            Duration::from_millis(request.rebalance_timeout_ms as u64)
        } else {
            session
        };
        let params = JoinParams {
            member_id: request.member_id,
            instance_id: request.group_instance_id.filter(|i| !i.is_empty()),
            protocol_type: request.protocol_type,
            protocols: request
                .protocols
                .into_iter()
                .map(|p| (p.name, p.metadata))
                .collect(),
            session_timeout: session,
            rebalance_timeout,
            client,
            require_known_member_id: version >= 4,
            supports_skip_assignment: version >= 9,
        };
        let member_id = params.member_id.clone();
        let (reply, answer) = oneshot::channel();
        let joined = {
            let mut groups = inner.groups.lock().await;
            let joined = inner
                .join_locked(&mut groups, request.group_id, params, reply)
                .await;
            inner.deadlines_changed.notify_one();
            joined
        };
        match joined {
            Joined::Reply(response) => response,
            Joined::ReplyAfterWrite(response, write) => {
                let result = match write {
                    Ok(write) => write.wait().await,
                    Err(code) => Err(code),
                };
                match result {
                    Ok(()) => response,
                    Err(code) => error(code, &response.member_id),
                }
            }
            Joined::Wait => tokio::select! {
                response = answer => response.unwrap_or_else(|_| {
                    error(ErrorCode::RebalanceInProgress, &member_id)
                }),
                _ = inner.shutdown.cancelled() => error(ErrorCode::NotCoordinator, &member_id),
            },
        }
    }
}

impl Inner {
    async fn join_locked(
        &self,
        groups: &mut std::collections::HashMap<String, Group>,
        group_id: String,
        params: JoinParams,
        reply: oneshot::Sender<JoinGroupResponse>,
    ) -> Joined {
        let now = Instant::now();
        let now_ms = self.clock.now_ms();
        if !groups.contains_key(&group_id) {
            if !params.member_id.is_empty() {
                return Joined::Reply(error(ErrorCode::UnknownMemberId, &params.member_id));
            }
            groups.insert(group_id.clone(), Group::new(group_id.clone(), now_ms));
        }
        let group = groups.get_mut(&group_id).expect("present");
        if !group.supports_protocols(&params.protocol_type, &params.protocols) {
            if group.members.is_empty() && group.offsets.is_empty() && group.generation == 0 {
                // Created just now for this join; do not leave an empty shell behind.
                groups.remove(&group_id);
            }
            return Joined::Reply(error(
                ErrorCode::InconsistentGroupProtocol,
                &params.member_id,
            ));
        }

        if params.member_id.is_empty() {
            if let Some(instance) = params.instance_id.clone() {
                if let Some(old_id) = group.static_members.get(&instance).cloned() {
                    return self
                        .replace_static_member(group, old_id, params, reply, now, now_ms)
                        .await;
                }
                let id = new_member_id(&params.client.client_id);
                self.add_member_and_rebalance(group, id, params, reply, now, now_ms);
                return Joined::Wait;
            }
            let id = new_member_id(&params.client.client_id);
            if params.require_known_member_id {
                group
                    .pending_members
                    .insert(id.clone(), now + params.session_timeout);
                return Joined::Reply(error(ErrorCode::MemberIdRequired, &id));
            }
            self.add_member_and_rebalance(group, id, params, reply, now, now_ms);
            return Joined::Wait;
        }

        let member_id = params.member_id.clone();
        if group.pending_members.remove(&member_id).is_some() {
            self.add_member_and_rebalance(group, member_id, params, reply, now, now_ms);
            return Joined::Wait;
        }
        if group.is_fenced(params.instance_id.as_deref(), &member_id) {
            return Joined::Reply(error(ErrorCode::FencedInstanceId, &member_id));
        }
        let Some(member) = group.members.get_mut(&member_id) else {
            return Joined::Reply(error(ErrorCode::UnknownMemberId, &member_id));
        };
        let unchanged = member.same_protocols(&params.protocols);
        let is_leader = group.leader.as_deref() == Some(member_id.as_str());
        match group.state {
            GroupState::CompletingRebalance | GroupState::Stable
                if unchanged && !(group.state == GroupState::Stable && is_leader) =>
            {
                // A follower rejoining with nothing new (or a lost JoinGroup answer):
                // hand back the current generation instead of rebalancing everyone.
                member.heartbeat(now);
                Joined::Reply(group.current_join_response(&member_id, false))
            }
            GroupState::Empty => Joined::Reply(error(ErrorCode::UnknownMemberId, &member_id)),
            _ => {
                update_member(member, params, reply, now);
                if group.state != GroupState::PreparingRebalance {
                    group.prepare_rebalance(now, now_ms, self.config.initial_rebalance_delay);
                }
                self.maybe_complete_join(group, now, now_ms).await;
                Joined::Wait
            }
        }
    }

    fn add_member_and_rebalance(
        &self,
        group: &mut Group,
        id: String,
        params: JoinParams,
        reply: oneshot::Sender<JoinGroupResponse>,
        now: Instant,
        now_ms: i64,
    ) {
        let member = Member {
            id,
            instance_id: params.instance_id,
            client_id: params.client.client_id,
            client_host: params.client.client_host,
            session_timeout: params.session_timeout,
            rebalance_timeout: params.rebalance_timeout,
            protocols: params.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(reply),
            awaiting_sync: None,
            session_deadline: now + params.session_timeout,
        };
        if let Some(delay) = group.initial_delay.as_mut() {
            delay.new_member_joined = true;
        }
        group.add_member(member, &params.protocol_type);
        if group.state != GroupState::PreparingRebalance {
            group.prepare_rebalance(now, now_ms, self.config.initial_rebalance_delay);
            if group.initial_delay.is_some_and(|d| d.delay.is_zero()) {
                group.initial_delay = None;
            }
        }
        // Completing here never empties the group, so there is nothing to persist.
        if group.initial_delay.is_none() && group.all_joined() {
            let _ = group.complete_join(now, now_ms);
        }
    }

    /// KIP-345: a known `group.instance.id` joining without a member id is the same
    /// instance restarted. It takes a new member id, fences the old one, and brings
    /// its protocols and timeouts up to date.
    ///
    /// As in Kafka's `updateStaticMemberAndRebalance`: in a Stable group it takes its
    /// old place and assignment without a rebalance, unless that changes the group's
    /// selected protocol. Its protocol metadata may well differ from before (the
    /// sticky assignors put owned partitions in it; a group loaded from
    /// `__consumer_offsets` keeps only the selected protocol), so that is no reason
    /// to rebalance. In CompletingRebalance it forces a rebalance: the leader may be
    /// assigning to the old member id, which would leave the new one with nothing.
    async fn replace_static_member(
        &self,
        group: &mut Group,
        old_id: String,
        params: JoinParams,
        reply: oneshot::Sender<JoinGroupResponse>,
        now: Instant,
        now_ms: i64,
    ) -> Joined {
        let Some(mut member) = group.members.remove(&old_id) else {
            return Joined::Reply(error(ErrorCode::UnknownMemberId, ""));
        };
        member.fail_join(ErrorCode::FencedInstanceId.code());
        member.fail_sync(ErrorCode::FencedInstanceId.code());
        let new_id = new_member_id(&params.client.client_id);
        let instance = params.instance_id.clone().unwrap_or_default();
        let skip = params.supports_skip_assignment;
        let previous_leader = group.leader.clone();
        member.id = new_id.clone();
        update_member(&mut member, params, reply, now);
        if group.leader.as_deref() == Some(old_id.as_str()) {
            group.leader = Some(new_id.clone());
        }
        group.static_members.insert(instance, new_id.clone());
        group.members.insert(new_id.clone(), member);
        tracing::info!(group = %group.id, old = %old_id, new = %new_id, "static member rejoined");
        if group.state == GroupState::Stable && group.select_protocol() == group.protocol_name {
            // Answered from the current generation below, not by a rebalance.
            let member = group.members.get_mut(&new_id).expect("inserted");
            drop(member.awaiting_join.take());
            let write = self.write_group(group).await;
            let mut response = group.current_join_response(&new_id, skip);
            if !skip {
                // Before JoinGroup v9 a leader cannot be told to skip the assignment,
                // and what it would assign is not broadcast by a Stable group. As in
                // Kafka, it is answered with the leader id it had, so no member takes
                // itself for the leader (a client that did would assign from whatever
                // metadata it has yet, and rejoin when its metadata changes).
                response.leader = previous_leader.unwrap_or_default();
                response.members.clear();
            }
            return Joined::ReplyAfterWrite(response, write);
        }
        if group.state != GroupState::PreparingRebalance {
            group.prepare_rebalance(now, now_ms, self.config.initial_rebalance_delay);
        }
        self.maybe_complete_join(group, now, now_ms).await;
        Joined::Wait
    }

    /// Completes the join phase when every member is back; persists the group if
    /// that left it empty (the write is queued, and finishes in the background of the
    /// caller's answer).
    pub(super) async fn maybe_complete_join(&self, group: &mut Group, now: Instant, now_ms: i64) {
        if group.state == GroupState::PreparingRebalance
            && group.initial_delay.is_none()
            && group.all_joined()
            && group.complete_join(now, now_ms).is_some()
        {
            let write = self.write_group(group).await;
            self.finish_in_background(write);
        }
    }
}

fn update_member(
    member: &mut Member,
    params: JoinParams,
    reply: oneshot::Sender<JoinGroupResponse>,
    now: Instant,
) {
    member.protocols = params.protocols;
    member.session_timeout = params.session_timeout;
    member.rebalance_timeout = params.rebalance_timeout;
    member.client_id = params.client.client_id;
    member.client_host = params.client.client_host;
    // A second JoinGroup replaces the first; the client stopped waiting on it.
    member.fail_join(ErrorCode::RebalanceInProgress.code());
    member.awaiting_join = Some(reply);
    member.heartbeat(now);
}
