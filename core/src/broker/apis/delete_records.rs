//! DeleteRecords: move a partition's log start offset forward.

use super::errors::partition_error_code;
use crate::broker::state::BrokerState;
use crate::protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use crate::protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use crate::protocol::ErrorCode;

pub(super) async fn handle(
    state: &BrokerState,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for requested in request.topics {
        let topic = state.topics.get(&requested.name);
        let mut partitions = Vec::with_capacity(requested.partitions.len());
        for p in requested.partitions {
            let mut result = DeleteRecordsPartitionResult {
                partition_index: p.partition_index,
                low_watermark: -1,
                ..Default::default()
            };
            match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                None => result.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                Some(partition) => {
                    // -1 means "up to the high watermark".
                    let before = if p.offset == -1 {
                        partition.offsets().high_watermark
                    } else {
                        p.offset
                    };
                    if before < 0 {
                        result.error_code = ErrorCode::OffsetOutOfRange.code();
                    } else {
                        match partition.delete_records(before).await {
                            Ok(low_watermark) => result.low_watermark = low_watermark,
                            Err(error) => result.error_code = partition_error_code(&error).code(),
                        }
                    }
                }
            }
            partitions.push(result);
        }
        topics.push(DeleteRecordsTopicResult {
            name: requested.name,
            partitions,
            ..Default::default()
        });
    }
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}
