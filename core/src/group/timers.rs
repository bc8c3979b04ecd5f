//! The coordinator's one timer task: member sessions, rebalance timeouts, the initial
//! rebalance delay, and offset retention.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::group::{Group, GroupState};
use super::Inner;

/// How far ahead to sleep when nothing is scheduled; any change wakes the task early.
const IDLE: Duration = Duration::from_secs(3600);

pub(super) async fn run(inner: Arc<Inner>) {
    let mut retention = tokio::time::interval(inner.config.offsets_retention_check_interval);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = {
            let groups = inner.groups.lock().await;
            groups.values().filter_map(Group::next_deadline).min()
        };
        let next = next.unwrap_or_else(|| Instant::now() + IDLE);
        tokio::select! {
            _ = inner.shutdown.cancelled() => break,
            _ = inner.deadlines_changed.notified() => {}
            _ = tokio::time::sleep_until(next) => inner.expire_deadlines().await,
            _ = retention.tick() => inner.expire_offsets().await,
        }
    }
    // Parked JoinGroup and SyncGroup calls watch the same token and answer
    // NOT_COORDINATOR themselves; nothing else is in flight here.
}

impl Inner {
    /// Applies every deadline that has passed.
    async fn expire_deadlines(&self) {
        let mut groups = self.groups.lock().await;
        let now = Instant::now();
        for group in groups.values_mut() {
            if group.next_deadline().is_none_or(|d| d > now) {
                continue;
            }
            self.expire_group_deadlines(group, now).await;
        }
    }

    async fn expire_group_deadlines(&self, group: &mut Group, now: Instant) {
        let now_ms = self.clock.now_ms();
        let pending_before = group.pending_members.len();
        group.pending_members.retain(|_, lapses| *lapses > now);
        let mut changed = group.pending_members.len() != pending_before;
        let expired: Vec<String> = group
            .members
            .values()
            .filter(|m| !m.is_waiting() && m.session_deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %group.id, member = %id, "member session expired");
            group.remove_member(&id);
            changed = true;
        }
        let rebalance_due = group.rebalance_deadline.is_some_and(|d| d <= now);
        match group.state {
            GroupState::PreparingRebalance if rebalance_due => {
                match group.initial_delay.as_mut() {
                    Some(delay) if delay.new_member_joined && !delay.remaining.is_zero() => {
                        // More members arrived during the delay: wait once more.
                        let extension = delay.delay.min(delay.remaining);
                        delay.remaining -= extension;
                        delay.new_member_joined = false;
                        group.rebalance_deadline = Some(now + extension);
                    }
                    _ => {
                        if group.complete_join(now, now_ms).is_some() {
                            let write = self.write_group(group).await;
                            self.finish_in_background(write);
                        }
                    }
                }
            }
            GroupState::CompletingRebalance if rebalance_due => {
                // The leader never sent its assignment, or followers never synced:
                // drop the members that did not sync and start over.
                let unsynced: Vec<String> = group
                    .members
                    .values()
                    .filter(|m| m.awaiting_sync.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                for id in unsynced {
                    tracing::info!(group = %group.id, member = %id, "member did not sync in time");
                    group.remove_member(&id);
                }
                self.membership_changed(group).await;
            }
            _ if changed => self.membership_changed(group).await,
            _ => {}
        }
    }

    /// Offset retention (KIP-211): once a group has been empty for
    /// `offsets.retention.minutes`, its offsets expire (an explicit expiry from an
    /// old OffsetCommit wins), and an empty group without offsets is deleted.
    pub(super) async fn expire_offsets(&self) {
        let mut groups = self.groups.lock().await;
        let now_ms = self.clock.now_ms();
        let retention_ms = self.config.offsets_retention.as_millis() as i64;
        let mut dead = Vec::new();
        for group in groups.values_mut() {
            if group.state != GroupState::Empty || !group.pending_members.is_empty() {
                continue;
            }
            let expired: Vec<(String, i32)> = group
                .offsets
                .iter()
                .filter(|(_, value)| {
                    let expires = value.expire_timestamp.unwrap_or_else(|| {
                        group.state_since_ms.max(value.commit_timestamp) + retention_ms
                    });
                    expires <= now_ms
                })
                .map(|(key, _)| key.clone())
                .collect();
            let mut tombstones = super::offsets::offset_tombstones(&group.id, &expired);
            for key in &expired {
                group.offsets.remove(key);
            }
            if group.offsets.is_empty() {
                tombstones.push((
                    super::records::RecordKey::Group {
                        group: group.id.clone(),
                    },
                    None,
                ));
                dead.push(group.id.clone());
            }
            if !expired.is_empty() {
                tracing::info!(group = %group.id, offsets = expired.len(), "expired committed offsets");
            }
            if !tombstones.is_empty() {
                let write = self.start_write(&group.id, tombstones).await;
                self.finish_in_background(write);
            }
        }
        for id in dead {
            groups.remove(&id);
        }
    }
}
