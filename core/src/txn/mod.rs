//! The transaction coordinator: transactional ids, their producer ids and epochs, and
//! the two-phase end of every transaction (Kafka's `TransactionCoordinator`).
//!
//! Layering: above `group` (commit markers on `__consumer_offsets` go through the
//! group coordinator, which applies the transaction's offsets) and below `broker`,
//! whose API files are thin adapters. State lives in memory and in the compacted
//! `__transaction_state` topic; each change is acknowledged by the log before the
//! client hears of it, and the replay at startup finishes every transaction that was
//! being decided (PrepareCommit / PrepareAbort) before the first connection.
//!
//! Ending a transaction: the decision (PrepareCommit or PrepareAbort) is written
//! first, then a marker to every partition of the transaction, then the completion.
//! A crash anywhere in between is finished after the restart from the decision, so
//! a transaction is never half committed.
//!
//! Concurrency: each transactional id has its own async mutex, held for the whole of
//! an operation on it (writes and markers included); different ids never wait for
//! each other. Requests for one id are serialised instead of being answered
//! CONCURRENT_TRANSACTIONS, which clients would only retry.

mod admin;
mod config;
mod ops;
pub mod records;
mod state;
mod store;
mod timers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use admin::{DescribedTxn, ListedTxn};
pub use config::TxnConfig;
pub use ops::ProducerIdAndEpoch;
pub use state::{TxnMetadata, TxnState};
pub use store::{TxnStoreError, TRANSACTION_STATE_TOPIC};

use self::store::TxnLog;
use crate::group::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::batch::control::{ControlType, EndTxnMarker};
use crate::metadata::{ProducerIdManager, TopicRegistry};
use crate::protocol::ErrorCode;

/// Markers carry the coordinator's epoch so a partition can refuse a deposed
/// coordinator's markers. A single node is always the same coordinator; the cluster
/// will use the leader epoch of the `__transaction_state` partition.
const COORDINATOR_EPOCH: i32 = 0;

/// The transaction coordinator of this broker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TransactionCoordinator {
    inner: Arc<Inner>,
}

type Slot = Arc<Mutex<Option<TxnMetadata>>>;

#[derive(Debug)]
struct Inner {
    config: TxnConfig,
    log: TxnLog,
    producer_ids: Arc<ProducerIdManager>,
    groups: GroupCoordinator,
    /// One slot per transactional id; `None` inside means not (or no longer) known.
    txns: StdMutex<HashMap<String, Slot>>,
}

impl TransactionCoordinator {
    /// Replays `__transaction_state`, finishes the transactions that were being
    /// decided, and starts the timer task (timeouts, expiration) on `tasks`; it stops
    /// when `shutdown` fires.
    pub async fn start(
        config: TxnConfig,
        topics: Arc<TopicRegistry>,
        groups: GroupCoordinator,
        producer_ids: Arc<ProducerIdManager>,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<TransactionCoordinator, TxnStoreError> {
        let log = TxnLog::new(topics, config.state_log_partitions);
        let loaded = log.load().await?;
        let count = loaded.len();
        let txns = loaded
            .into_iter()
            .map(|meta| {
                (
                    meta.transactional_id.clone(),
                    Arc::new(Mutex::new(Some(meta))),
                )
            })
            .collect();
        let coordinator = TransactionCoordinator {
            inner: Arc::new(Inner {
                config,
                log,
                producer_ids,
                groups,
                txns: StdMutex::new(txns),
            }),
        };
        if count > 0 {
            tracing::info!(
                transactional_ids = count,
                "loaded transactions from {TRANSACTION_STATE_TOPIC}"
            );
        }
        let finished = coordinator.finish_decided().await;
        if finished > 0 {
            tracing::info!(
                transactions = finished,
                "finished transactions decided before the restart"
            );
        }
        tasks.spawn(timers::run(coordinator.clone(), shutdown));
        Ok(coordinator)
    }

    /// The `__transaction_state` partition a transactional id lives on.
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        self.inner.log.partition_for(transactional_id)
    }

    fn slot(&self, transactional_id: &str) -> Slot {
        let mut txns = self.inner.txns.lock().unwrap_or_else(|e| e.into_inner());
        txns.entry(transactional_id.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(None)))
            .clone()
    }

    fn existing_slot(&self, transactional_id: &str) -> Option<Slot> {
        let txns = self.inner.txns.lock().unwrap_or_else(|e| e.into_inner());
        txns.get(transactional_id).cloned()
    }

    fn all_slots(&self) -> Vec<Slot> {
        let txns = self.inner.txns.lock().unwrap_or_else(|e| e.into_inner());
        txns.values().cloned().collect()
    }

    /// Completes every transaction in PrepareCommit or PrepareAbort (after a restart,
    /// or after a marker write failed). Returns how many.
    async fn finish_decided(&self) -> usize {
        let mut finished = 0;
        for slot in self.all_slots() {
            let mut guard = slot.lock().await;
            let Some(meta) = guard.as_mut() else { continue };
            if matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                && self.complete(meta).await.is_ok()
            {
                finished += 1;
            }
        }
        finished
    }

    /// Persists `meta` as it now is.
    async fn persist(&self, meta: &TxnMetadata) -> Result<(), ErrorCode> {
        self.inner
            .log
            .write(
                &meta.transactional_id,
                Some(meta),
                crate::partition::now_ms(),
            )
            .await
    }

    /// Writes `meta`'s decision (PrepareCommit or PrepareAbort) then completes it.
    /// On a failed decision write `meta` is left as it was.
    async fn decide(&self, meta: &mut TxnMetadata, commit: bool) -> Result<(), ErrorCode> {
        let before = meta.clone();
        meta.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        meta.last_update_ms = crate::partition::now_ms();
        if let Err(code) = self.persist(meta).await {
            *meta = before;
            return Err(code);
        }
        // The decision is durable: from here the transaction ends as decided, now or
        // (if a marker cannot be written) by the timer task or the next start.
        if let Err(code) = self.complete(meta).await {
            tracing::warn!(transactional_id = %meta.transactional_id, error = code.name(), "transaction decided, markers pending; will retry");
        }
        Ok(())
    }

    /// Writes the markers of a decided transaction and records its completion.
    async fn complete(&self, meta: &mut TxnMetadata) -> Result<(), ErrorCode> {
        let commit = match meta.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return Ok(()),
        };
        self.write_markers(meta, commit).await?;
        meta.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        meta.partitions.clear();
        meta.start_ms = -1;
        meta.last_update_ms = crate::partition::now_ms();
        self.persist(meta).await
    }

    async fn write_markers(&self, meta: &TxnMetadata, commit: bool) -> Result<(), ErrorCode> {
        let marker = EndTxnMarker {
            control_type: if commit {
                ControlType::Commit
            } else {
                ControlType::Abort
            },
            coordinator_epoch: COORDINATOR_EPOCH,
        };
        let (producer_id, epoch) = (meta.producer_id, meta.producer_epoch);
        let mut failed = None;
        for (topic, partition) in &meta.partitions {
            if topic == OFFSETS_TOPIC {
                if let Err(code) = self
                    .inner
                    .groups
                    .complete_txn(*partition, producer_id, epoch, marker)
                    .await
                {
                    failed = Some(code);
                }
                continue;
            }
            let Some(handle) = self
                .inner
                .log
                .registry()
                .get(topic)
                .and_then(|t| t.partition(*partition).cloned())
            else {
                // A deleted topic keeps no data to decide.
                continue;
            };
            match handle.write_marker(producer_id, epoch, marker).await {
                Ok(_) => {}
                Err(crate::partition::PartitionError::Closed { .. }) => {}
                Err(crate::partition::PartitionError::Log(error)) if !error.is_storage_error() => {
                    // A partition that already saw a newer epoch has had this
                    // producer's transaction ended by it; nothing is left to decide.
                    tracing::warn!(%error, topic, partition, "transaction marker refused");
                }
                Err(error) => {
                    tracing::warn!(%error, topic, partition, "writing a transaction marker failed");
                    failed = Some(ErrorCode::KafkaStorageError);
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}
