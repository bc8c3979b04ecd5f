//! The coordinator's one timer task: member sessions, rebalance timeouts, the initial
//! rebalance delay, and offset retention.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::state::{Group, GroupState};
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    use crate::group::{ClientInfo, GroupConfig, GroupCoordinator};
    use crate::metadata::{RegistryOptions, TopicConfigs, TopicDefaults, TopicRegistry};
    use crate::protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use crate::protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use crate::protocol::messages::{JoinGroupRequest, OffsetCommitRequest, SyncGroupRequest};
    use crate::protocol::ErrorCode;

    struct Harness {
        groups: GroupCoordinator,
        _dir: tempfile::TempDir,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    }

    impl Harness {
        async fn start(config: GroupConfig) -> Harness {
            let dir = tempfile::tempdir().unwrap();
            let tasks = TaskTracker::new();
            let shutdown = CancellationToken::new();
            let topics = TopicRegistry::open(
                RegistryOptions {
                    data_dir: dir.path().to_path_buf(),
                    defaults: TopicDefaults::default(),
                    maintenance_interval: Duration::from_secs(3600),
                },
                tasks.clone(),
                shutdown.clone(),
            )
            .unwrap();
            topics
                .create("t", 1, TopicConfigs::default(), false)
                .await
                .unwrap();
            let groups =
                GroupCoordinator::start(config, Arc::new(topics), &tasks, shutdown.clone())
                    .await
                    .unwrap();
            Harness {
                groups,
                _dir: dir,
                shutdown,
                tasks,
            }
        }

        /// A v3 join (no MEMBER_ID_REQUIRED round trip).
        async fn join(
            &self,
            member_id: &str,
            session_ms: i32,
            rebalance_ms: i32,
        ) -> (String, i32, String) {
            let response = self
                .groups
                .join(
                    JoinGroupRequest {
                        group_id: "g".into(),
                        session_timeout_ms: session_ms,
                        rebalance_timeout_ms: rebalance_ms,
                        member_id: member_id.into(),
                        protocol_type: "consumer".into(),
                        protocols: vec![JoinGroupRequestProtocol {
                            name: "range".into(),
                            metadata: Bytes::from_static(b"meta"),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    3,
                    ClientInfo::default(),
                )
                .await;
            assert_eq!(response.error_code, 0, "{response:?}");
            (response.member_id, response.generation_id, response.leader)
        }

        async fn sync(&self, member_id: &str, generation: i32) -> i16 {
            self.groups
                .sync(SyncGroupRequest {
                    group_id: "g".into(),
                    generation_id: generation,
                    member_id: member_id.into(),
                    ..Default::default()
                })
                .await
                .error_code
        }

        async fn state(&self) -> (&'static str, usize) {
            let described = self.groups.describe_groups(&["g".into()]).await;
            (described[0].state, described[0].members.len())
        }

        async fn stop(self) {
            self.shutdown.cancel();
            self.tasks.close();
            self.tasks.wait().await;
        }
    }

    fn quick() -> GroupConfig {
        GroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            min_session_timeout: Duration::from_millis(1),
            ..GroupConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_member_expires_after_its_session_timeout() {
        let h = Harness::start(quick()).await;
        let (me, generation, _) = h.join("", 10_000, 10_000).await;
        assert_eq!(h.sync(&me, generation).await, 0);
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(8)).await;
            let beat = h.groups.heartbeat("g", generation, &me, None).await;
            assert_eq!(beat, ErrorCode::None, "heartbeats keep it alive");
        }
        assert_eq!(h.state().await, ("Stable", 1));
        tokio::time::sleep(Duration::from_millis(10_001)).await;
        assert_eq!(h.state().await, ("Empty", 0));
        let beat = h.groups.heartbeat("g", generation, &me, None).await;
        assert_eq!(beat, ErrorCode::UnknownMemberId);
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_initial_delay_gathers_members_into_one_generation() {
        let h = Harness::start(GroupConfig {
            initial_rebalance_delay: Duration::from_secs(3),
            min_session_timeout: Duration::from_millis(1),
            ..GroupConfig::default()
        })
        .await;
        let started = tokio::time::Instant::now();
        let (a, b) = tokio::join!(h.join("", 10_000, 60_000), async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            h.join("", 10_000, 60_000).await
        });
        // One generation for both; the delay was extended once for the late member.
        assert_eq!((a.1, b.1), (1, 1));
        assert_eq!(a.2, b.2, "same leader");
        assert!(
            started.elapsed() >= Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
        let h = Harness::start(quick()).await;
        let (a, _, _) = h.join("", 30_000, 5_000).await;
        // b joins: a must rejoin; both land in generation 2.
        let (b, a2) = tokio::join!(h.join("", 30_000, 5_000), h.join(&a, 30_000, 5_000));
        assert_eq!((b.1, a2.1), (2, 2));
        let (sa, sb) = tokio::join!(h.sync(&a, 2), h.sync(&b.0, 2));
        assert_eq!((sa, sb), (0, 0));

        // c joins; only a rejoins. After the 5 s rebalance timeout b is dropped.
        let started = tokio::time::Instant::now();
        let (c, a3) = tokio::join!(h.join("", 30_000, 5_000), h.join(&a, 30_000, 5_000));
        assert_eq!((c.1, a3.1), (3, 3));
        assert!(started.elapsed() >= Duration::from_secs(5));
        let described = h.groups.describe_groups(&["g".into()]).await;
        let members: Vec<_> = described[0].members.iter().map(|m| &m.member_id).collect();
        assert_eq!(members.len(), 2);
        assert!(!members.contains(&&b.0));
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_of_an_empty_group_expire_after_retention() {
        let h = Harness::start(GroupConfig {
            offsets_retention: Duration::from_secs(60),
            offsets_retention_check_interval: Duration::from_secs(10),
            ..quick()
        })
        .await;
        let commit = OffsetCommitRequest {
            group_id: "g".into(),
            generation_id_or_member_epoch: -1,
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 42,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let response = h.groups.commit_offsets(commit, 8).await;
        assert_eq!(response.topics[0].partitions[0].error_code, 0);
        tokio::time::sleep(Duration::from_secs(45)).await;
        let fetched = h.groups.fetch_offsets("g", None).await;
        assert_eq!(fetched[0].1[0].offset, 42, "still retained");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(h.groups.fetch_offsets("g", None).await.is_empty());
        assert!(
            h.groups.list_groups(&[]).await.is_empty(),
            "the group is gone"
        );
        h.stop().await;
    }
}
