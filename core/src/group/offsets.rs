//! OffsetCommit, OffsetFetch and OffsetDelete.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::records::{self, OffsetValue, RecordKey};
use super::state::{Group, GroupState};
use super::GroupCoordinator;
use crate::protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use crate::protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use crate::protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
};
use crate::protocol::ErrorCode;

/// A committed offset as OffsetFetch reports it; `-1` and empty metadata when none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

impl GroupCoordinator {
    pub async fn commit_offsets(
        &self,
        request: OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        let inner = &self.inner;
        let respond = |request: &OffsetCommitRequest, code: &dyn Fn(&str, i32) -> ErrorCode| {
            OffsetCommitResponse {
                topics: request
                    .topics
                    .iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetCommitResponsePartition {
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
        };
        if request.group_id.is_empty() {
            return respond(&request, &|_, _| ErrorCode::InvalidGroupId);
        }
        let now_ms = inner.clock.now_ms();
        let mut codes: BTreeMap<(String, i32), ErrorCode> = BTreeMap::new();
        let write = {
            let mut groups = inner.groups.lock().await;
            let generation = request.generation_id_or_member_epoch;
            if !groups.contains_key(&request.group_id) {
                if generation >= 0 {
                    // Kafka: a generation for a group that does not exist is stale.
                    return respond(&request, &|_, _| ErrorCode::IllegalGeneration);
                }
                groups.insert(
                    request.group_id.clone(),
                    Group::new(request.group_id.clone(), now_ms),
                );
            }
            let group = groups.get_mut(&request.group_id).expect("present");
            if let Err(code) = check_committer(group, &request) {
                return respond(&request, &|_, _| code);
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
                        // v1 carries a commit time per partition; v2–v4 a retention.
                        let commit_timestamp = if version == 1 && p.commit_timestamp >= 0 {
                            p.commit_timestamp
                        } else {
                            now_ms
                        };
                        let expire_timestamp = (matches!(version, 2..=4)
                            && request.retention_time_ms >= 0)
                            .then(|| commit_timestamp.saturating_add(request.retention_time_ms));
                        let value = OffsetValue {
                            offset: p.committed_offset,
                            leader_epoch: if version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata,
                            commit_timestamp,
                            expire_timestamp,
                        };
                        stored.push((
                            RecordKey::Offset {
                                group: request.group_id.clone(),
                                topic: topic.name.clone(),
                                partition: p.partition_index,
                            },
                            Some(records::encode_offset_value(&value)),
                        ));
                        // Applied now, so a fetch right after the commit sees it; the
                        // write below is queued in the same order.
                        group.offsets.insert(key.clone(), value);
                        ErrorCode::None
                    };
                    codes.insert(key, code);
                }
            }
            if stored.is_empty() {
                None
            } else {
                Some(inner.start_write(&request.group_id, stored).await)
            }
        };
        if let Some(write) = write {
            let result = match write {
                Ok(write) => write.wait().await,
                Err(code) => Err(code),
            };
            if let Err(code) = result {
                for value in codes.values_mut() {
                    if *value == ErrorCode::None {
                        *value = code;
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

    /// Committed offsets of `group_id`: the listed partitions (`-1` where none), or
    /// every committed offset when `topics` is `None`. An unknown group has none.
    pub async fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Vec<(String, Vec<FetchedOffset>)> {
        let groups = self.inner.groups.lock().await;
        let offsets = groups.get(group_id).map(|g| &g.offsets);
        let found = |topic: &str, partition: i32| {
            let value = offsets.and_then(|o| o.get(&(topic.to_owned(), partition)));
            FetchedOffset {
                partition,
                offset: value.map_or(-1, |v| v.offset),
                leader_epoch: value.map_or(-1, |v| v.leader_epoch),
                metadata: value.map(|v| v.metadata.clone()).unwrap_or_default(),
            }
        };
        match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(topic, partitions)| {
                    let fetched = partitions.iter().map(|&p| found(&topic, p)).collect();
                    (topic, fetched)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<&str, Vec<FetchedOffset>> = BTreeMap::new();
                for (topic, partition) in offsets.into_iter().flat_map(|o| o.keys()) {
                    by_topic
                        .entry(topic)
                        .or_default()
                        .push(found(topic, *partition));
                }
                by_topic
                    .into_iter()
                    .map(|(topic, fetched)| (topic.to_owned(), fetched))
                    .collect()
            }
        }
    }

    /// OffsetDelete: removes committed offsets, except of topics a consumer group is
    /// still subscribed to (GROUP_SUBSCRIBED_TO_TOPIC).
    pub async fn delete_offsets(&self, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
        let inner = &self.inner;
        let top = |code: ErrorCode| OffsetDeleteResponse {
            error_code: code.code(),
            ..Default::default()
        };
        let mut topics = Vec::new();
        let write = {
            let mut groups = inner.groups.lock().await;
            let Some(group) = groups.get_mut(&request.group_id) else {
                return top(ErrorCode::GroupIdNotFound);
            };
            let subscribed = group.subscribed_topics();
            if group.state != GroupState::Empty && subscribed.is_none() {
                // Members of a non-consumer protocol: their topics are unknowable.
                return top(ErrorCode::NonEmptyGroup);
            }
            let mut removed = Vec::new();
            for topic in &request.topics {
                let busy = group.state != GroupState::Empty
                    && subscribed.as_ref().is_some_and(|s| s.contains(&topic.name));
                let exists = inner.log.registry().get(&topic.name);
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let key = (topic.name.clone(), p.partition_index);
                        let code = if exists
                            .as_ref()
                            .and_then(|t| t.partition(p.partition_index))
                            .is_none()
                        {
                            ErrorCode::UnknownTopicOrPartition
                        } else if busy {
                            ErrorCode::GroupSubscribedToTopic
                        } else {
                            if group.offsets.remove(&key).is_some() {
                                removed.push(key);
                            }
                            ErrorCode::None
                        };
                        OffsetDeleteResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code.code(),
                        }
                    })
                    .collect();
                topics.push(OffsetDeleteResponseTopic {
                    name: topic.name.clone(),
                    partitions,
                });
            }
            if removed.is_empty() {
                None
            } else {
                Some(
                    inner
                        .start_write(&group.id, offset_tombstones(&group.id, &removed))
                        .await,
                )
            }
        };
        if let Some(write) = write {
            let result = match write {
                Ok(write) => write.wait().await,
                Err(code) => Err(code),
            };
            if let Err(code) = result {
                return top(code);
            }
        }
        OffsetDeleteResponse {
            topics,
            ..Default::default()
        }
    }
}

/// Who may commit, in Kafka's order: simple commits (generation -1) to a group
/// without members, else a current member of the current generation, and never
/// while the assignment is being handed out.
fn check_committer(group: &mut Group, request: &OffsetCommitRequest) -> Result<(), ErrorCode> {
    let generation = request.generation_id_or_member_epoch;
    if group.is_fenced(request.group_instance_id.as_deref(), &request.member_id) {
        return Err(ErrorCode::FencedInstanceId);
    }
    if generation < 0 && group.state == GroupState::Empty {
        return Ok(());
    }
    if group.state == GroupState::CompletingRebalance {
        return Err(ErrorCode::RebalanceInProgress);
    }
    let Some(member) = group.members.get_mut(&request.member_id) else {
        return Err(ErrorCode::UnknownMemberId);
    };
    if generation != group.generation {
        return Err(ErrorCode::IllegalGeneration);
    }
    // A commit shows the member is alive, as a heartbeat does.
    member.heartbeat(Instant::now());
    Ok(())
}

/// Tombstones for the given offsets of `group`.
pub(super) fn offset_tombstones(
    group: &str,
    keys: &[(String, i32)],
) -> Vec<(RecordKey, Option<Vec<u8>>)> {
    keys.iter()
        .map(|(topic, partition)| {
            (
                RecordKey::Offset {
                    group: group.to_owned(),
                    topic: topic.clone(),
                    partition: *partition,
                },
                None,
            )
        })
        .collect()
}
