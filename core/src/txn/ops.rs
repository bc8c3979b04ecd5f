//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and the produce-time
//! check that a transactional batch's partition belongs to its open transaction
//! (KIP-890), with the error codes Kafka answers.

use super::state::{TxnMetadata, TxnState};
use super::TransactionCoordinator;
use crate::group::OFFSETS_TOPIC;
use crate::protocol::ErrorCode;

/// A producer id and epoch handed to a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// The epoch at which a producer id is exhausted and replaced (Kafka bumps to a new id
/// rather than reach `i16::MAX`, which marks "no epoch" in some fields).
const MAX_EPOCH: i16 = i16::MAX - 1;

impl TransactionCoordinator {
    /// InitProducerId. Without a transactional id: a fresh producer id at epoch 0.
    /// With one: the id's producer id with its epoch bumped (fencing any older
    /// producer), after aborting its open transaction; `expected` (KIP-360, v3+) is the
    /// producer's current id and epoch when it asks for a bump itself.
    pub async fn init_producer_id(
        &self,
        transactional_id: Option<&str>,
        timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
    ) -> Result<ProducerIdAndEpoch, ErrorCode> {
        let Some(transactional_id) = transactional_id.filter(|id| !id.is_empty()) else {
            return Ok(ProducerIdAndEpoch {
                producer_id: self.generate_producer_id()?,
                producer_epoch: 0,
            });
        };
        if timeout_ms <= 0 || timeout_ms > self.inner.config.max_timeout_ms {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        let slot = self.slot(transactional_id);
        let mut guard = slot.lock().await;
        let now_ms = crate::partition::now_ms();
        let Some(meta) = guard.as_mut() else {
            let meta = TxnMetadata::new(
                transactional_id.to_owned(),
                self.generate_producer_id()?,
                timeout_ms,
                now_ms,
            );
            self.persist(&meta).await?;
            let answer = ProducerIdAndEpoch {
                producer_id: meta.producer_id,
                producer_epoch: meta.producer_epoch,
            };
            *guard = Some(meta);
            return Ok(answer);
        };
        if let Some(expected) = expected.filter(|e| e.producer_id >= 0) {
            let current = (meta.producer_id, meta.producer_epoch);
            let previous = (meta.last_producer_id, meta.last_producer_epoch);
            let asked = (expected.producer_id, expected.producer_epoch);
            if asked == previous && meta.state.is_idle() {
                // A retry of a bump that already happened.
                return Ok(ProducerIdAndEpoch {
                    producer_id: current.0,
                    producer_epoch: current.1,
                });
            }
            if asked != current {
                return Err(ErrorCode::ProducerFenced);
            }
        }
        match meta.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => self.complete(meta).await?,
            TxnState::Ongoing | TxnState::PrepareEpochFence => {
                // The old producer is fenced first (markers carry the bumped epoch, so
                // its late writes are refused everywhere), then its transaction aborted.
                self.bump_epoch(meta)?;
                self.decide(meta, false).await?;
                if meta.state != TxnState::CompleteAbort {
                    return Err(ErrorCode::ConcurrentTransactions);
                }
            }
            _ => {}
        }
        let before = meta.clone();
        self.bump_epoch(meta)?;
        meta.state = TxnState::Empty;
        meta.timeout_ms = timeout_ms;
        meta.partitions.clear();
        meta.start_ms = -1;
        meta.last_update_ms = now_ms;
        if let Err(code) = self.persist(meta).await {
            *meta = before;
            return Err(code);
        }
        Ok(ProducerIdAndEpoch {
            producer_id: meta.producer_id,
            producer_epoch: meta.producer_epoch,
        })
    }

    pub(super) fn bump_epoch(&self, meta: &mut TxnMetadata) -> Result<(), ErrorCode> {
        meta.last_producer_id = meta.producer_id;
        meta.last_producer_epoch = meta.producer_epoch;
        if meta.producer_epoch >= MAX_EPOCH {
            meta.producer_id = self.generate_producer_id()?;
            meta.producer_epoch = 0;
        } else {
            meta.producer_epoch += 1;
        }
        Ok(())
    }

    fn generate_producer_id(&self) -> Result<i64, ErrorCode> {
        self.inner.producer_ids.generate().map_err(|error| {
            tracing::error!(%error, "cannot allocate a producer id");
            ErrorCode::CoordinatorNotAvailable
        })
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, as the group's offsets partition):
    /// one code for each partition, in order. `verify_only` (v4+, KIP-890) answers
    /// whether each is already in the open transaction without adding it.
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
        verify_only: bool,
    ) -> Vec<ErrorCode> {
        let all = |code: ErrorCode| vec![code; partitions.len()];
        let Some(slot) = self.existing_slot(transactional_id) else {
            return all(ErrorCode::InvalidProducerIdMapping);
        };
        let mut guard = slot.lock().await;
        let Some(meta) = guard.as_mut() else {
            return all(ErrorCode::InvalidProducerIdMapping);
        };
        if let Err(code) = check_producer(meta, producer_id, producer_epoch) {
            return all(code);
        }
        if verify_only {
            return partitions
                .iter()
                .map(|p| {
                    if meta.state == TxnState::Ongoing && meta.partitions.contains(p) {
                        ErrorCode::None
                    } else {
                        ErrorCode::InvalidTxnState
                    }
                })
                .collect();
        }
        // A decided transaction whose markers are still pending is finished first; one
        // being fenced or removed cannot take partitions.
        let decided = matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort);
        if decided && self.complete(meta).await.is_err()
            || matches!(meta.state, TxnState::PrepareEpochFence | TxnState::Dead)
        {
            return all(ErrorCode::ConcurrentTransactions);
        }
        let registry = self.inner.log.registry();
        let unknown: Vec<bool> = partitions
            .iter()
            .map(|(topic, partition)| {
                topic != OFFSETS_TOPIC
                    && registry
                        .get(topic)
                        .and_then(|t| t.partition(*partition).cloned())
                        .is_none()
            })
            .collect();
        if unknown.iter().any(|u| *u) {
            return unknown
                .iter()
                .map(|&u| {
                    if u {
                        ErrorCode::UnknownTopicOrPartition
                    } else {
                        ErrorCode::OperationNotAttempted
                    }
                })
                .collect();
        }
        if meta.state == TxnState::Ongoing && partitions.iter().all(|p| meta.partitions.contains(p))
        {
            return all(ErrorCode::None);
        }
        let before = meta.clone();
        let now_ms = crate::partition::now_ms();
        if meta.state != TxnState::Ongoing {
            meta.partitions.clear();
            meta.start_ms = now_ms;
        }
        meta.state = TxnState::Ongoing;
        meta.partitions.extend(partitions.iter().cloned());
        meta.last_update_ms = now_ms;
        match self.persist(meta).await {
            Ok(()) => all(ErrorCode::None),
            Err(code) => {
                *meta = before;
                all(code)
            }
        }
    }

    /// AddOffsetsToTxn: adds the group's `__consumer_offsets` partition.
    pub async fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> ErrorCode {
        let partition = self.inner.groups.offsets_partition_for(group_id);
        self.add_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            &[(OFFSETS_TOPIC.to_owned(), partition)],
            false,
        )
        .await
        .first()
        .copied()
        .unwrap_or(ErrorCode::None)
    }

    /// Whether `partition` is in the open transaction of `transactional_id` for this
    /// producer: a transactional produce or TxnOffsetCommit is refused otherwise, so a
    /// late write can never open a transaction nobody will end (KIP-890).
    pub async fn verify_partition(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partition: (String, i32),
    ) -> ErrorCode {
        self.add_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            &[partition],
            true,
        )
        .await
        .first()
        .copied()
        .unwrap_or(ErrorCode::None)
    }

    /// EndTxn: commits or aborts the open transaction. A retry of an EndTxn that
    /// already completed the same way succeeds.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> ErrorCode {
        let Some(slot) = self.existing_slot(transactional_id) else {
            return ErrorCode::InvalidProducerIdMapping;
        };
        let mut guard = slot.lock().await;
        let Some(meta) = guard.as_mut() else {
            return ErrorCode::InvalidProducerIdMapping;
        };
        if let Err(code) = check_producer(meta, producer_id, producer_epoch) {
            return code;
        }
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => match self.decide(meta, commit).await {
                Ok(()) => ErrorCode::None,
                Err(code) => code,
            },
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => ErrorCode::None,
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                match self.complete(meta).await {
                    Ok(()) => ErrorCode::None,
                    Err(_) => ErrorCode::ConcurrentTransactions,
                }
            }
            (TxnState::PrepareEpochFence, _) => ErrorCode::ConcurrentTransactions,
            _ => ErrorCode::InvalidTxnState,
        }
    }
}

/// The request's producer must be the id's current one: another id is a stale
/// mapping, an older epoch a fenced zombie.
fn check_producer(
    meta: &TxnMetadata,
    producer_id: i64,
    producer_epoch: i16,
) -> Result<(), ErrorCode> {
    if producer_id != meta.producer_id {
        return Err(ErrorCode::InvalidProducerIdMapping);
    }
    if producer_epoch != meta.producer_epoch {
        return Err(ErrorCode::ProducerFenced);
    }
    Ok(())
}
