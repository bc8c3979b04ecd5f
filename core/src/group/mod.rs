//! The group coordinator: Kafka's classic consumer-group protocol (JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, static membership) and committed offsets, kept in
//! the compacted internal topic `__consumer_offsets`.
//!
//! Layering: this module sits between `metadata` (it creates and writes the offsets
//! topic through the [`TopicRegistry`]) and `broker` (whose API files are thin adapters
//! over [`GroupCoordinator`]). The group protocol's answers are Kafka error codes by
//! nature (ILLEGAL_GENERATION is the protocol, not a failure), so they are produced
//! here rather than mapped from an error enum at the edge.
//!
//! All groups share one async mutex. Every operation is a short, non-blocking
//! transition of in-memory state; appends to `__consumer_offsets` are *queued* under
//! the lock (so the log holds changes in the order they were made) and awaited after
//! it is released. JoinGroup and SyncGroup park a oneshot sender in the member and
//! await it outside the lock. One timer task owns every deadline (sessions, rebalance
//! timeouts, the initial rebalance delay) and offset retention.
//!
//! ```no_run
//! # async fn example(topics: std::sync::Arc<weir_core::metadata::TopicRegistry>)
//! # -> Result<(), weir_core::group::StoreError> {
//! use weir_core::group::{GroupConfig, GroupCoordinator};
//! let tasks = tokio_util::task::TaskTracker::new();
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let groups = GroupCoordinator::start(GroupConfig::default(), topics, &tasks, shutdown).await?;
//! # Ok(()) }
//! ```

mod admin;
mod clock;
mod config;
mod heartbeat;
mod join;
mod load;
mod member;
mod offsets;
mod records;
mod state;
mod store;
mod subscription;
mod sync;
mod timers;
mod txn_offsets;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use admin::{DescribedGroup, DescribedMember, ListedGroup};
pub use config::GroupConfig;
pub use heartbeat::LeavingMember;
pub use offsets::FetchedOffset;
pub use store::{StoreError, OFFSETS_TOPIC};
pub use txn_offsets::refuse_txn_offsets;

use self::clock::Clock;
use self::records::RecordKey;
use self::state::Group;
use self::store::{OffsetsLog, PendingWrite};
use crate::metadata::TopicRegistry;
use crate::protocol::ErrorCode;

/// The partition of an internal topic with `partitions` partitions that holds `key`
/// (a group id, a transactional id): Java's `String.hashCode`, as Kafka places them.
pub fn partition_for_key(key: &str, partitions: i32) -> i32 {
    records::partition_for(key, partitions)
}

/// Who sent a request, as DescribeGroups reports members.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub client_id: String,
    /// The peer address as Kafka prints it, e.g. `/127.0.0.1`.
    pub client_host: String,
}

/// The coordinator of every group on this broker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: GroupConfig,
    log: OffsetsLog,
    clock: Clock,
    groups: Mutex<HashMap<String, Group>>,
    /// Transactional offsets awaiting their transaction's marker, by producer id.
    pending_txn_offsets: std::sync::Mutex<HashMap<i64, txn_offsets::PendingOffsets>>,
    /// Wakes the timer task when a deadline may have moved earlier.
    deadlines_changed: Notify,
    shutdown: CancellationToken,
    /// Runs the timer task and waits on writes whose outcome only needs logging.
    tasks: TaskTracker,
}

/// A write queued on `__consumer_offsets`, or why it could not be.
type QueuedWrite = Result<PendingWrite, ErrorCode>;

impl GroupCoordinator {
    /// Replays `__consumer_offsets` (if it exists) to rebuild every group and its
    /// offsets, then starts the timer task on `tasks`; it stops when `shutdown` fires,
    /// which also answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR.
    pub async fn start(
        config: GroupConfig,
        topics: Arc<TopicRegistry>,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<GroupCoordinator, StoreError> {
        let log = OffsetsLog::new(topics, config.offsets_topic_partitions);
        let clock = Clock::new();
        let loaded = log.load().await?;
        let groups = load::rebuild(loaded.records, tokio::time::Instant::now(), clock.now_ms());
        let pending = load::pending_txn_offsets(loaded.open_txns);
        if !groups.is_empty() {
            tracing::info!(groups = groups.len(), "loaded groups from {OFFSETS_TOPIC}");
        }
        let inner = Arc::new(Inner {
            config,
            log,
            clock,
            groups: Mutex::new(groups),
            pending_txn_offsets: std::sync::Mutex::new(pending),
            deadlines_changed: Notify::new(),
            shutdown,
            tasks: tasks.clone(),
        });
        tasks.spawn(timers::run(inner.clone()));
        Ok(GroupCoordinator { inner })
    }
}

impl Inner {
    /// Queues a write of `group`'s records; call with the groups lock held.
    async fn start_write(
        &self,
        group: &str,
        records: Vec<(RecordKey, Option<Vec<u8>>)>,
    ) -> QueuedWrite {
        self.log
            .start_write(group, records, self.clock.now_ms(), None)
            .await
    }

    /// Queues a write of a group's metadata record.
    async fn write_group(&self, group: &Group) -> QueuedWrite {
        let value = records::encode_group_value(&group.to_value());
        self.start_write(
            &group.id,
            vec![(
                RecordKey::Group {
                    group: group.id.clone(),
                },
                Some(value),
            )],
        )
        .await
    }

    /// Lets a queued write finish without holding up the caller (who may hold the
    /// lock); a failure is logged.
    fn finish_in_background(&self, write: QueuedWrite) {
        self.tasks.spawn(finish_quietly(write));
    }
}

/// Waits for a queued write, logging a failure; for writes nobody answers to.
async fn finish_quietly(write: QueuedWrite) {
    let result = match write {
        Ok(write) => write.wait().await,
        Err(code) => Err(code),
    };
    if let Err(code) = result {
        tracing::warn!(error = code.name(), "persisting group state failed");
    }
}

/// A fresh member id: the client id and 128 random bits, as Kafka's
/// `clientId-<uuid>`. The std hasher's per-process random keys are the entropy.
fn new_member_id(client_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut parts = [0u64; 2];
    for (i, part) in parts.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.write_usize(i);
        *part = hasher.finish();
    }
    let prefix = if client_id.is_empty() {
        "member"
    } else {
        client_id
    };
    format!(
        "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        parts[0] >> 32,
        (parts[0] >> 16) & 0xffff,
        parts[0] & 0xffff,
        parts[1] >> 48,
        parts[1] & 0xffff_ffff_ffff
    )
}

/// An error with its causes, for logs.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
