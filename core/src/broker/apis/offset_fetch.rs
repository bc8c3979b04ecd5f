//! OffsetFetch: one group (v0–v7) or many (v8+, KIP-709).
//!
//! `require_stable` asks to wait out pending transactional commits; without
//! transactions no commit is ever pending, so every answer is already stable.

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::group::FetchedOffset;
use crate::protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use crate::protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};

pub(super) async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if ctx.version >= 8 {
        let mut groups = Vec::with_capacity(request.groups.len());
        for group in request.groups {
            let topics = group.topics.map(|topics| {
                topics
                    .into_iter()
                    .map(|t| (t.name, t.partition_indexes))
                    .collect()
            });
            let fetched = state.groups.fetch_offsets(&group.group_id, topics).await;
            groups.push(OffsetFetchResponseGroup {
                group_id: group.group_id,
                topics: fetched
                    .into_iter()
                    .map(|(name, partitions)| OffsetFetchResponseTopics {
                        name,
                        partitions: partitions
                            .into_iter()
                            .map(|p| OffsetFetchResponsePartitions {
                                partition_index: p.partition,
                                committed_offset: p.offset,
                                committed_leader_epoch: p.leader_epoch,
                                metadata: Some(p.metadata),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
        }
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let topics = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    let fetched = state.groups.fetch_offsets(&request.group_id, topics).await;
    OffsetFetchResponse {
        topics: fetched
            .into_iter()
            .map(|(name, partitions)| OffsetFetchResponseTopic {
                name,
                partitions: partitions.into_iter().map(partition).collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn partition(p: FetchedOffset) -> OffsetFetchResponsePartition {
    OffsetFetchResponsePartition {
        partition_index: p.partition,
        committed_offset: p.offset,
        committed_leader_epoch: p.leader_epoch,
        metadata: Some(p.metadata),
        ..Default::default()
    }
}
