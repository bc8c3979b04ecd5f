//! DescribeLogDirs: the one data directory and each partition's size in it.

use crate::broker::state::BrokerState;
use crate::protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use crate::protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};
use crate::protocol::ErrorCode;

pub(super) fn describe(
    state: &BrokerState,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let topics = state
        .topics
        .all()
        .into_iter()
        .filter_map(|topic| {
            let wanted: Option<Vec<i32>> = match &request.topics {
                None => Some((0..topic.partitions.len() as i32).collect()),
                Some(requested) => requested
                    .iter()
                    .find(|r| r.topic == *topic.name)
                    .map(|r| r.partitions.clone()),
            };
            let partitions: Vec<_> = wanted?
                .into_iter()
                .filter_map(|index| {
                    topic.partition(index).map(|p| DescribeLogDirsPartition {
                        partition_index: index,
                        partition_size: p.offsets().size_bytes as i64,
                        offset_lag: 0,
                        is_future_key: false,
                        ..Default::default()
                    })
                })
                .collect();
            Some(DescribeLogDirsTopic {
                name: topic.name.to_string(),
                partitions,
                ..Default::default()
            })
        })
        .collect();
    DescribeLogDirsResponse {
        error_code: ErrorCode::None.code(),
        results: vec![DescribeLogDirsResult {
            error_code: ErrorCode::None.code(),
            log_dir: state.config.data_dir.display().to_string(),
            topics,
            total_bytes: -1,
            usable_bytes: -1,
            ..Default::default()
        }],
        ..Default::default()
    }
}
