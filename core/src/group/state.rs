//! One classic group's state machine, without I/O: members, generations, protocol
//! selection, and the transitions Kafka's `GroupMetadata` makes.
//!
//! ```text
//! Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//!   ▲                 ▲      │ (no members left)                    │ leader's sync
//!   └─────────────────┼──────┘                                      ▼ persisted
//!                     └────────── join with changes / member leaves ── Stable
//! ```
//! Dead is represented by the group's absence from the coordinator's map.
//!
//! Callers hold the coordinator's lock; transitions answer waiting members through
//! their oneshot channels and return what must be persisted.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::member::Member;
use super::records::{GroupValue, MemberValue, OffsetValue};
use crate::protocol::messages::join_group_response::JoinGroupResponseMember;
use crate::protocol::messages::JoinGroupResponse;
use crate::protocol::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    /// The names Kafka's tools print and ListGroups filters on.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// The first rebalance of an empty group waits `group.initial.rebalance.delay.ms`,
/// extended by the same delay while new members keep arriving, up to the rebalance
/// timeout (Kafka's `InitialDelayedJoin`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitialDelay {
    pub(crate) delay: Duration,
    pub(crate) remaining: Duration,
    pub(crate) new_member_joined: bool,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) state: GroupState,
    /// Wall-clock ms of the last state change (GroupMetadataValue's
    /// currentStateTimestamp); offsets of an empty group expire relative to it.
    pub(crate) state_since_ms: i64,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) generation: i32,
    pub(crate) leader: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// KIP-394: ids handed out with MEMBER_ID_REQUIRED, with when they lapse.
    pub(crate) pending_members: HashMap<String, Instant>,
    /// KIP-345: `group.instance.id` → the member id currently holding it.
    pub(crate) static_members: HashMap<String, String>,
    pub(crate) initial_delay: Option<InitialDelay>,
    /// When PreparingRebalance gives up on members that have not rejoined, or
    /// CompletingRebalance on members that have not synced.
    pub(crate) rebalance_deadline: Option<Instant>,
    pub(crate) offsets: BTreeMap<(String, i32), OffsetValue>,
}

impl Group {
    pub(crate) fn new(id: String, now_ms: i64) -> Group {
        Group {
            id,
            state: GroupState::Empty,
            state_since_ms: now_ms,
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            static_members: HashMap::new(),
            initial_delay: None,
            rebalance_deadline: None,
            offsets: BTreeMap::new(),
        }
    }

    pub(crate) fn transition(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_since_ms = now_ms;
    }

    /// Whether a member with these protocols may be in the group (else
    /// INCONSISTENT_GROUP_PROTOCOL): the first member sets the protocol type, and every
    /// later one must share it and leave at least one protocol all members support.
    pub(crate) fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(name, _)| self.members.values().all(|m| m.supports(name)))
    }

    /// Each member votes for its most preferred protocol that every member supports;
    /// the most votes wins (ties go to the name first in order, for determinism).
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            let vote = member
                .protocols
                .iter()
                .map(|(name, _)| name.as_str())
                .find(|name| self.members.values().all(|m| m.supports(name)));
            if let Some(vote) = vote {
                *votes.entry(vote).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|&(_, count)| count == best)
            .map(|(name, _)| name.to_owned())
    }

    /// Adds a member; the first member of an empty group sets its protocol type.
    pub(crate) fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_owned());
        }
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.members.insert(member.id.clone(), member);
    }

    /// Removes a member, moving leadership and static identity as needed.
    pub(crate) fn remove_member(&mut self, id: &str) -> Option<Member> {
        let member = self.members.remove(id)?;
        if let Some(instance) = &member.instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(id) {
                self.static_members.remove(instance);
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = self.members.keys().next().cloned();
        }
        Some(member)
    }

    /// KIP-345: whether `member_id` is a stale holder of `instance_id`.
    pub(crate) fn is_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) => current != member_id,
            None => false,
        }
    }

    pub(crate) fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// Starts a rebalance: pending syncs are told to rejoin, and a deadline is set for
    /// the members to do so.
    pub(crate) fn prepare_rebalance(&mut self, now: Instant, now_ms: i64, initial_delay: Duration) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.values_mut() {
                member.assignment = Bytes::new();
                member.fail_sync(ErrorCode::RebalanceInProgress.code());
            }
        }
        if self.state == GroupState::Empty {
            let remaining = self.max_rebalance_timeout().saturating_sub(initial_delay);
            self.initial_delay = Some(InitialDelay {
                delay: initial_delay,
                remaining,
                new_member_joined: false,
            });
            self.rebalance_deadline = Some(now + initial_delay);
        } else {
            self.initial_delay = None;
            self.rebalance_deadline = Some(now + self.max_rebalance_timeout());
        }
        self.transition(GroupState::PreparingRebalance, now_ms);
    }

    /// Every member has rejoined and no member id handed out is still to come back.
    pub(crate) fn all_joined(&self) -> bool {
        self.members.values().all(|m| m.awaiting_join.is_some()) && self.pending_members.is_empty()
    }

    /// Completes the join phase: members that did not rejoin are dropped, the
    /// generation advances, and every waiting member gets its JoinGroup answer (the
    /// leader with everyone's metadata). Returns the group to persist when it ended
    /// up empty; a non-empty group is persisted once the leader's assignment arrives.
    pub(crate) fn complete_join(&mut self, now: Instant, now_ms: i64) -> Option<GroupValue> {
        self.initial_delay = None;
        self.rebalance_deadline = None;
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin in time; removing it");
            self.remove_member(&id);
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            self.transition(GroupState::Empty, now_ms);
            return Some(self.to_value());
        }
        self.protocol_name = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.transition(GroupState::CompletingRebalance, now_ms);
        // Members that never send SyncGroup are dropped after the rebalance timeout.
        self.rebalance_deadline = Some(now + self.max_rebalance_timeout());
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let everyone: Vec<JoinGroupResponseMember> = self
            .members
            .values()
            .map(|m| JoinGroupResponseMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(&protocol),
                ..Default::default()
            })
            .collect();
        for member in self.members.values_mut() {
            member.heartbeat(now);
            let Some(reply) = member.awaiting_join.take() else {
                continue;
            };
            let is_leader = member.id == leader;
            let _ = reply.send(JoinGroupResponse {
                generation_id: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: Some(protocol.clone()),
                leader: leader.clone(),
                member_id: member.id.clone(),
                members: if is_leader {
                    everyone.clone()
                } else {
                    Vec::new()
                },
                ..Default::default()
            });
        }
        None
    }

    /// The JoinGroup answer for a member joining a generation already in progress
    /// (a static member coming back, a follower rejoining with nothing changed).
    pub(crate) fn current_join_response(
        &self,
        member_id: &str,
        leader_skips_assignment: bool,
    ) -> JoinGroupResponse {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let is_leader = self.leader.as_deref() == Some(member_id);
        JoinGroupResponse {
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: Some(protocol.clone()),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_owned(),
            skip_assignment: is_leader && leader_skips_assignment,
            members: if is_leader {
                self.members
                    .values()
                    .map(|m| JoinGroupResponseMember {
                        member_id: m.id.clone(),
                        group_instance_id: m.instance_id.clone(),
                        metadata: m.metadata(&protocol),
                        ..Default::default()
                    })
                    .collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    /// The group's GroupMetadataValue.
    pub(crate) fn to_value(&self) -> GroupValue {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: self.protocol_name.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_since_ms,
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as i32,
                    session_timeout_ms: m.session_timeout.as_millis() as i32,
                    subscription: m.metadata(&protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// The earliest instant at which something in this group times out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let sessions = self
            .members
            .values()
            .filter(|m| !m.is_waiting())
            .map(|m| m.session_deadline);
        sessions
            .chain(self.pending_members.values().copied())
            .chain(self.rebalance_deadline)
            .min()
    }

    /// Topics the members subscribe to, when the group uses the consumer protocol
    /// (`None` for other protocol types, whose metadata is opaque).
    pub(crate) fn subscribed_topics(&self) -> Option<std::collections::HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.clone()?;
        let mut topics = std::collections::HashSet::new();
        for member in self.members.values() {
            topics.extend(super::subscription::topics(&member.metadata(&protocol))?);
        }
        Some(topics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, protocols: &[&str]) -> Member {
        Member {
            id: id.into(),
            instance_id: None,
            client_id: String::new(),
            client_host: String::new(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            protocols: protocols
                .iter()
                .map(|p| (p.to_string(), Bytes::from(p.to_string())))
                .collect(),
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            session_deadline: Instant::now(),
        }
    }

    fn protocols(names: &[&str]) -> Vec<(String, Bytes)> {
        names
            .iter()
            .map(|n| (n.to_string(), Bytes::new()))
            .collect()
    }

    #[test]
    fn the_most_preferred_common_protocol_wins_the_vote() {
        let mut group = Group::new("g".into(), 0);
        group.add_member(member("a", &["cooperative-sticky", "range"]), "consumer");
        group.add_member(member("b", &["range", "cooperative-sticky"]), "consumer");
        group.add_member(
            member("c", &["cooperative-sticky", "range", "roundrobin"]),
            "consumer",
        );
        assert_eq!(
            group.select_protocol().as_deref(),
            Some("cooperative-sticky")
        );
        assert_eq!(group.leader.as_deref(), Some("a"), "the first member leads");
        assert!(group.supports_protocols("consumer", &protocols(&["range"])));
        assert!(!group.supports_protocols("consumer", &protocols(&["roundrobin"])));
        assert!(!group.supports_protocols("connect", &protocols(&["range"])));
        assert!(!group.supports_protocols("consumer", &[]));
    }

    #[test]
    fn removing_the_leader_hands_leadership_on_and_frees_its_instance_id() {
        let mut group = Group::new("g".into(), 0);
        let mut a = member("a", &["range"]);
        a.instance_id = Some("i-a".into());
        group.add_member(a, "consumer");
        group.add_member(member("b", &["range"]), "consumer");
        assert!(group.is_fenced(Some("i-a"), "old-a"));
        assert!(!group.is_fenced(Some("i-a"), "a"));
        group.remove_member("a");
        assert_eq!(group.leader.as_deref(), Some("b"));
        assert!(group.static_members.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn completing_a_join_drops_members_that_did_not_rejoin() {
        let mut group = Group::new("g".into(), 0);
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let mut a = member("a", &["range"]);
        a.awaiting_join = Some(tx);
        group.add_member(a, "consumer");
        group.add_member(member("b", &["range"]), "consumer");
        group.prepare_rebalance(Instant::now(), 1, Duration::ZERO);
        assert!(!group.all_joined());
        assert!(group.complete_join(Instant::now(), 2).is_none());
        assert_eq!(group.state, GroupState::CompletingRebalance);
        assert_eq!(group.generation, 1);
        assert_eq!(group.members.len(), 1);
        let response = rx.try_recv().unwrap();
        assert_eq!(
            response.members.len(),
            1,
            "the leader sees the remaining member"
        );
        // With nobody left the group becomes Empty and must be persisted.
        group.remove_member("a");
        group.prepare_rebalance(Instant::now(), 3, Duration::ZERO);
        let persisted = group.complete_join(Instant::now(), 4).unwrap();
        assert_eq!(group.state, GroupState::Empty);
        assert_eq!(persisted.generation, 2);
    }
}
