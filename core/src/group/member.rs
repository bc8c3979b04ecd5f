//! A member of a classic group, as its JoinGroup requests described it.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::protocol::messages::{JoinGroupResponse, SyncGroupResponse};

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: String,
    /// KIP-345 `group.instance.id`: set for static members.
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    /// `(name, metadata)` in the member's order of preference; metadata is opaque.
    pub(crate) protocols: Vec<(String, Bytes)>,
    /// What the leader assigned in the last completed SyncGroup.
    pub(crate) assignment: Bytes,
    /// The member's JoinGroup waiting for the rebalance to complete.
    pub(crate) awaiting_join: Option<oneshot::Sender<JoinGroupResponse>>,
    /// The member's SyncGroup waiting for the leader's assignment.
    pub(crate) awaiting_sync: Option<oneshot::Sender<SyncGroupResponse>>,
    /// When the member is expired unless it heartbeats (or joins, syncs, commits).
    pub(crate) session_deadline: Instant,
}

impl Member {
    pub(crate) fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }

    pub(crate) fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    /// Same protocols with the same metadata, in the same order.
    pub(crate) fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    pub(crate) fn heartbeat(&mut self, now: Instant) {
        self.session_deadline = now + self.session_timeout;
    }

    /// Members with a JoinGroup or SyncGroup outstanding are alive by definition: the
    /// client is blocked on us, not silent.
    pub(crate) fn is_waiting(&self) -> bool {
        self.awaiting_join.is_some() || self.awaiting_sync.is_some()
    }

    /// Answers an outstanding JoinGroup with `error` (the member was removed or fenced).
    pub(crate) fn fail_join(&mut self, error: i16) {
        if let Some(reply) = self.awaiting_join.take() {
            let _ = reply.send(JoinGroupResponse {
                error_code: error,
                member_id: self.id.clone(),
                ..Default::default()
            });
        }
    }

    pub(crate) fn fail_sync(&mut self, error: i16) {
        if let Some(reply) = self.awaiting_sync.take() {
            let _ = reply.send(SyncGroupResponse {
                error_code: error,
                ..Default::default()
            });
        }
    }
}
