//! WriteTxnMarkers (the coordinator-to-leader marker write), DescribeProducers,
//! ListTransactions and DescribeTransactions.

use super::errors::{message, partition_error_code};
use crate::broker::state::BrokerState;
use crate::group::OFFSETS_TOPIC;
use crate::log::batch::control::{ControlType, EndTxnMarker};
use crate::protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use crate::protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use crate::protocol::messages::list_transactions_response::TransactionState as ListedState;
use crate::protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use crate::protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse,
    WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use crate::protocol::ErrorCode;
use crate::txn::TxnState;

/// Writes each marker to the partitions it names. The partition checks the
/// producer's and the coordinator's epochs, so a marker for a producer that has moved
/// on is refused, and a marker for a transaction the partition never saw is harmless.
pub(super) async fn write_txn_markers(
    state: &BrokerState,
    request: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let mut markers = Vec::with_capacity(request.markers.len());
    for m in request.markers {
        let marker = EndTxnMarker {
            control_type: if m.transaction_result {
                ControlType::Commit
            } else {
                ControlType::Abort
            },
            coordinator_epoch: m.coordinator_epoch,
        };
        let mut topics = Vec::with_capacity(m.topics.len());
        for topic in m.topics {
            let found = state.topics.get(&topic.name);
            let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
            for index in topic.partition_indexes {
                let code = if topic.name == OFFSETS_TOPIC {
                    match state
                        .groups
                        .complete_txn(index, m.producer_id, m.producer_epoch, marker)
                        .await
                    {
                        Ok(()) => ErrorCode::None,
                        Err(code) => code,
                    }
                } else {
                    match found.as_ref().and_then(|t| t.partition(index)) {
                        None => ErrorCode::UnknownTopicOrPartition,
                        Some(partition) => match partition
                            .write_marker(m.producer_id, m.producer_epoch, marker)
                            .await
                        {
                            Ok(_) => ErrorCode::None,
                            Err(error) => {
                                tracing::debug!(error = %message(&error), "transaction marker refused");
                                partition_error_code(&error)
                            }
                        },
                    }
                };
                partitions.push(WritableTxnMarkerPartitionResult {
                    partition_index: index,
                    error_code: code.code(),
                    ..Default::default()
                });
            }
            topics.push(WritableTxnMarkerTopicResult {
                name: topic.name,
                partitions,
                ..Default::default()
            });
        }
        markers.push(WritableTxnMarkerResult {
            producer_id: m.producer_id,
            topics,
            ..Default::default()
        });
    }
    WriteTxnMarkersResponse {
        markers,
        ..Default::default()
    }
}

pub(super) async fn describe_producers(
    state: &BrokerState,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let found = state.topics.get(&topic.name);
        let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
        for index in topic.partition_indexes {
            let mut response = PartitionResponse {
                partition_index: index,
                ..Default::default()
            };
            match found.as_ref().and_then(|t| t.partition(index)) {
                None => response.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                Some(partition) => match partition.describe_producers().await {
                    Ok(producers) => {
                        response.active_producers = producers
                            .into_iter()
                            .map(|p| ProducerState {
                                producer_id: p.producer_id,
                                producer_epoch: i32::from(p.epoch),
                                last_sequence: p.last_sequence(),
                                last_timestamp: p.last_timestamp,
                                coordinator_epoch: p.coordinator_epoch,
                                current_txn_start_offset: p.current_txn_first_offset.unwrap_or(-1),
                                ..Default::default()
                            })
                            .collect()
                    }
                    Err(error) => {
                        response.error_code = partition_error_code(&error).code();
                        response.error_message = Some(message(&error));
                    }
                },
            }
            partitions.push(response);
        }
        topics.push(TopicResponse {
            name: topic.name,
            partitions,
            ..Default::default()
        });
    }
    DescribeProducersResponse {
        topics,
        ..Default::default()
    }
}

const STATE_NAMES: [TxnState; 8] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
    TxnState::PrepareEpochFence,
];

pub(super) async fn list_transactions(
    state: &BrokerState,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let unknown_state_filters: Vec<String> = request
        .state_filters
        .iter()
        .filter(|f| !STATE_NAMES.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    let transaction_states = state
        .txns
        .list_transactions()
        .await
        .into_iter()
        .filter(|t| {
            request.state_filters.is_empty()
                || request.state_filters.iter().any(|f| f == t.state.name())
        })
        .filter(|t| {
            request.producer_id_filters.is_empty()
                || request.producer_id_filters.contains(&t.producer_id)
        })
        // KIP-994: only transactions running longer than the filter.
        .filter(|t| request.duration_filter < 0 || t.duration_ms > request.duration_filter)
        .map(|t| ListedState {
            transactional_id: t.transactional_id,
            producer_id: t.producer_id,
            transaction_state: t.state.name().to_owned(),
            ..Default::default()
        })
        .collect();
    ListTransactionsResponse {
        error_code: ErrorCode::None.code(),
        unknown_state_filters,
        transaction_states,
        ..Default::default()
    }
}

pub(super) async fn describe_transactions(
    state: &BrokerState,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let mut transaction_states = Vec::with_capacity(request.transactional_ids.len());
    for id in request.transactional_ids {
        let described = state.txns.describe_transaction(&id).await;
        transaction_states.push(match described {
            None => TransactionState {
                error_code: ErrorCode::TransactionalIdNotFound.code(),
                transactional_id: id,
                producer_id: -1,
                producer_epoch: -1,
                transaction_start_time_ms: -1,
                ..Default::default()
            },
            Some(t) => {
                let mut topics: Vec<TopicData> = Vec::new();
                for (topic, partition) in t.partitions {
                    match topics.last_mut() {
                        Some(last) if last.topic == topic => last.partitions.push(partition),
                        _ => topics.push(TopicData {
                            topic,
                            partitions: vec![partition],
                            ..Default::default()
                        }),
                    }
                }
                TransactionState {
                    error_code: ErrorCode::None.code(),
                    transactional_id: t.transactional_id,
                    transaction_state: t.state.name().to_owned(),
                    transaction_timeout_ms: t.timeout_ms,
                    transaction_start_time_ms: t.start_ms,
                    producer_id: t.producer_id,
                    producer_epoch: t.producer_epoch,
                    topics,
                    ..Default::default()
                }
            }
        });
    }
    DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    }
}
