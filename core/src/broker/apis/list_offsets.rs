//! ListOffsets: earliest, latest, max timestamp, or the first offset at a time.

use super::errors::partition_error_code;
use crate::broker::state::BrokerState;
use crate::partition::OffsetSpec;
use crate::protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use crate::protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use crate::protocol::ErrorCode;

/// Kafka's special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// KIP-405: without tiered storage the earliest local offset is the earliest offset.
const EARLIEST_LOCAL: i64 = -4;

pub(super) async fn handle(
    state: &BrokerState,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    // read_committed consumers start "at the end" from the last stable offset.
    let latest = if request.isolation_level == 1 {
        OffsetSpec::LastStable
    } else {
        OffsetSpec::Latest
    };
    let mut topics = Vec::with_capacity(request.topics.len());
    for requested in request.topics {
        let topic = state.topics.get(&requested.name);
        let mut partitions = Vec::with_capacity(requested.partitions.len());
        for p in requested.partitions {
            let mut response = ListOffsetsPartitionResponse {
                partition_index: p.partition_index,
                timestamp: -1,
                offset: -1,
                leader_epoch: -1,
                ..Default::default()
            };
            let Some(partition) = topic.as_ref().and_then(|t| t.partition(p.partition_index))
            else {
                response.error_code = ErrorCode::UnknownTopicOrPartition.code();
                partitions.push(response);
                continue;
            };
            let spec = match p.timestamp {
                LATEST => latest,
                EARLIEST | EARLIEST_LOCAL => OffsetSpec::Earliest,
                MAX_TIMESTAMP => OffsetSpec::MaxTimestamp,
                ts if ts >= 0 => OffsetSpec::Timestamp(ts),
                // Other negative markers name tiered-storage positions that do not
                // exist here: Kafka answers those with "no offset".
                _ => {
                    partitions.push(response);
                    continue;
                }
            };
            match partition.list_offset(spec).await {
                Ok(Some(found)) => {
                    response.timestamp = found.timestamp;
                    response.offset = found.offset;
                    response.leader_epoch = 0;
                }
                Ok(None) => {}
                Err(error) => response.error_code = partition_error_code(&error).code(),
            }
            partitions.push(response);
        }
        topics.push(ListOffsetsTopicResponse {
            name: requested.name,
            partitions,
            ..Default::default()
        });
    }
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}
