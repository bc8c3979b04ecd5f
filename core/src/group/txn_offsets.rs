//! Offsets committed inside a transaction (TxnOffsetCommit, from a producer's
//! `sendOffsetsToTransaction`): written to the group's `__consumer_offsets` partition
//! as a transactional batch under the producer's id and epoch, held aside as pending,
//! and applied to the group only when the transaction coordinator's COMMIT marker
//! lands on that partition (dropped on ABORT). A consumer of the group therefore
//! never resumes from an offset whose transaction did not commit.

use std::collections::HashMap;

use super::records::{self, OffsetValue, RecordKey};
use super::state::{Group, GroupState};
use super::GroupCoordinator;
use crate::log::batch::control::EndTxnMarker;
use crate::protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use crate::protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use crate::protocol::ErrorCode;

/// One producer's offsets awaiting its transaction's outcome, in commit order.
pub(crate) type PendingOffsets = Vec<(String, (String, i32), OffsetValue)>;

impl GroupCoordinator {
    /// The `__consumer_offsets` partition that holds `group`.
    pub fn offsets_partition_for(&self, group: &str) -> i32 {
        records::partition_for(group, self.inner.config.offsets_topic_partitions)
    }

    pub async fn commit_txn_offsets(
        &self,
        request: TxnOffsetCommitRequest,
        version: i16,
    ) -> TxnOffsetCommitResponse {
        let respond = respond_txn_offsets;
        let inner = &self.inner;
        if request.group_id.is_empty() {
            return respond(&request, &|_, _| ErrorCode::InvalidGroupId);
        }
        let now_ms = inner.clock.now_ms();
        let mut codes: HashMap<(String, i32), ErrorCode> = HashMap::new();
        let mut pending: PendingOffsets = Vec::new();
        let write = {
            let mut groups = inner.groups.lock().await;
            let group = groups
                .entry(request.group_id.clone())
                .or_insert_with(|| Group::new(request.group_id.clone(), now_ms));
            // v3+ may name the member and generation (KIP-447); they are checked as an
            // OffsetCommit's are, so a zombie of an old generation cannot commit.
            if version >= 3 && request.generation_id >= 0 {
                if let Err(code) = check_member(group, &request) {
                    return respond(&request, &|_, _| code);
                }
            }
            let mut stored = Vec::new();
            for topic in &request.topics {
                let known = inner.log.registry().get(&topic.name);
                for p in &topic.partitions {
                    let key = (topic.name.clone(), p.partition_index);
                    let metadata = p.committed_metadata.clone().unwrap_or_default();
                    let code = if known
                        .as_ref()
                        .and_then(|t| t.partition(p.partition_index))
                        .is_none()
                    {
                        ErrorCode::UnknownTopicOrPartition
                    } else if metadata.len() > inner.config.offset_metadata_max_bytes {
                        ErrorCode::OffsetMetadataTooLarge
                    } else {
                        let value = OffsetValue {
                            offset: p.committed_offset,
                            leader_epoch: if version >= 2 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata,
                            commit_timestamp: now_ms,
                            expire_timestamp: None,
                        };
                        stored.push((
                            RecordKey::Offset {
                                group: request.group_id.clone(),
                                topic: topic.name.clone(),
                                partition: p.partition_index,
                            },
                            Some(records::encode_offset_value(&value)),
                        ));
                        pending.push((request.group_id.clone(), key.clone(), value));
                        ErrorCode::None
                    };
                    codes.insert(key, code);
                }
            }
            if stored.is_empty() {
                None
            } else {
                Some(
                    inner
                        .log
                        .start_write(
                            &request.group_id,
                            stored,
                            now_ms,
                            Some((request.producer_id, request.producer_epoch)),
                        )
                        .await,
                )
            }
        };
        if let Some(write) = write {
            let result = match write {
                Ok(write) => write.wait().await,
                Err(code) => Err(code),
            };
            match result {
                Ok(()) => inner
                    .pending_txn_offsets
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(request.producer_id)
                    .or_default()
                    .extend(pending),
                Err(code) => {
                    for value in codes.values_mut() {
                        if *value == ErrorCode::None {
                            *value = code;
                        }
                    }
                }
            }
        }
        respond(&request, &|topic, partition| {
            codes
                .get(&(topic.to_owned(), partition))
                .copied()
                .unwrap_or(ErrorCode::None)
        })
    }

    /// Writes the transaction marker for `producer_id` to `__consumer_offsets`
    /// partition `partition`, then applies (COMMIT) or drops (ABORT) the producer's
    /// pending offsets of the groups on that partition.
    pub async fn complete_txn(
        &self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTxnMarker,
    ) -> Result<(), ErrorCode> {
        let inner = &self.inner;
        let handle = inner
            .log
            .partition(partition)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        // Hold the groups lock across the marker so no commit of these groups is
        // applied between the marker and the pending offsets it decides.
        let mut groups = inner.groups.lock().await;
        handle
            .write_marker(producer_id, producer_epoch, marker)
            .await
            .map_err(|error| {
                tracing::warn!(%error, producer_id, "writing a transaction marker to {} failed", super::OFFSETS_TOPIC);
                ErrorCode::NotCoordinator
            })?;
        let decided = {
            let mut pending = inner
                .pending_txn_offsets
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Some(offsets) = pending.get_mut(&producer_id) else {
                return Ok(());
            };
            let (decided, rest): (Vec<_>, Vec<_>) = std::mem::take(offsets)
                .into_iter()
                .partition(|(group, _, _)| self.offsets_partition_for(group) == partition);
            if rest.is_empty() {
                pending.remove(&producer_id);
            } else {
                *offsets = rest;
            }
            decided
        };
        if marker.control_type.is_commit() {
            let now_ms = inner.clock.now_ms();
            for (group, key, value) in decided {
                groups
                    .entry(group.clone())
                    .or_insert_with(|| Group::new(group, now_ms))
                    .offsets
                    .insert(key, value);
            }
        }
        Ok(())
    }
}

/// A TxnOffsetCommit answer with `code` for every partition of `request` (the
/// transaction coordinator's refusal, before the group is involved).
pub fn refuse_txn_offsets(
    request: &TxnOffsetCommitRequest,
    code: ErrorCode,
) -> TxnOffsetCommitResponse {
    respond_txn_offsets(request, &|_, _| code)
}

fn respond_txn_offsets(
    request: &TxnOffsetCommitRequest,
    code: &dyn Fn(&str, i32) -> ErrorCode,
) -> TxnOffsetCommitResponse {
    TxnOffsetCommitResponse {
        topics: request
            .topics
            .iter()
            .map(|t| TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| TxnOffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code(&t.name, p.partition_index).code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn check_member(group: &mut Group, request: &TxnOffsetCommitRequest) -> Result<(), ErrorCode> {
    if group.is_fenced(request.group_instance_id.as_deref(), &request.member_id) {
        return Err(ErrorCode::FencedInstanceId);
    }
    if group.state == GroupState::CompletingRebalance {
        return Err(ErrorCode::RebalanceInProgress);
    }
    if !group.members.contains_key(&request.member_id) {
        return Err(ErrorCode::UnknownMemberId);
    }
    if request.generation_id != group.generation {
        return Err(ErrorCode::IllegalGeneration);
    }
    Ok(())
}
