//! OffsetForLeaderEpoch (KIP-101/320). A single node never changes leader, so its whole
//! log is epoch 0: asking about epoch 0 gets the log end offset; a later epoch is
//! unknown. No older epoch exists, so no request is ever fenced.

use crate::broker::state::BrokerState;
use crate::protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use crate::protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use crate::protocol::ErrorCode;

const LEADER_EPOCH: i32 = 0;

pub(super) fn handle(
    state: &BrokerState,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|requested| {
            let topic = state.topics.get(&requested.topic);
            let partitions = requested
                .partitions
                .into_iter()
                .map(|p| {
                    let mut result = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    let partition = topic.as_ref().and_then(|t| t.partition(p.partition));
                    match partition {
                        None => result.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                        Some(_) if p.current_leader_epoch > LEADER_EPOCH => {
                            result.error_code = ErrorCode::UnknownLeaderEpoch.code()
                        }
                        Some(partition) if p.leader_epoch == LEADER_EPOCH => {
                            result.leader_epoch = LEADER_EPOCH;
                            result.end_offset = partition.offsets().high_watermark;
                        }
                        Some(_) => {}
                    }
                    result
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: requested.topic,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}
