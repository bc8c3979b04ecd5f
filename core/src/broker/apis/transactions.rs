//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit:
//! adapters over the transaction and group coordinators.

use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use crate::protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use crate::protocol::ErrorCode;
use crate::txn::ProducerIdAndEpoch;

/// KIP-588 gave fenced producers their own code; clients older than the request
/// version that introduced it know only INVALID_PRODUCER_EPOCH.
fn for_version(code: ErrorCode, version: i16, fenced_since: i16) -> ErrorCode {
    if code == ErrorCode::ProducerFenced && version < fenced_since {
        ErrorCode::InvalidProducerEpoch
    } else {
        code
    }
}

pub(super) async fn init_producer_id(
    state: &BrokerState,
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let expected = (ctx.version >= 3).then_some(ProducerIdAndEpoch {
        producer_id: request.producer_id,
        producer_epoch: request.producer_epoch,
    });
    let result = state
        .txns
        .init_producer_id(
            request.transactional_id.as_deref(),
            request.transaction_timeout_ms,
            expected,
        )
        .await;
    match result {
        Ok(assigned) => InitProducerIdResponse {
            error_code: ErrorCode::None.code(),
            producer_id: assigned.producer_id,
            producer_epoch: assigned.producer_epoch,
            ..Default::default()
        },
        Err(code) => InitProducerIdResponse {
            error_code: for_version(code, ctx.version, 4).code(),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        },
    }
}

pub(super) async fn add_partitions(
    state: &BrokerState,
    ctx: &RequestContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if ctx.version <= 3 {
        let results = add_one(
            state,
            &request.v3_and_below_transactional_id,
            request.v3_and_below_producer_id,
            request.v3_and_below_producer_epoch,
            &request.v3_and_below_topics,
            false,
            ctx.version,
        )
        .await;
        return AddPartitionsToTxnResponse {
            results_by_topic_v3_and_below: results,
            ..Default::default()
        };
    }
    // v4+: batched, as a partition leader asks the coordinator to verify (KIP-890).
    let mut results_by_transaction = Vec::with_capacity(request.transactions.len());
    for txn in &request.transactions {
        let topic_results = add_one(
            state,
            &txn.transactional_id,
            txn.producer_id,
            txn.producer_epoch,
            &txn.topics,
            txn.verify_only,
            ctx.version,
        )
        .await;
        results_by_transaction.push(AddPartitionsToTxnResult {
            transactional_id: txn.transactional_id.clone(),
            topic_results,
            ..Default::default()
        });
    }
    AddPartitionsToTxnResponse {
        results_by_transaction,
        ..Default::default()
    }
}

async fn add_one(
    state: &BrokerState,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    topics: &[crate::protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic],
    verify_only: bool,
    version: i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let partitions: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| (t.name.clone(), p)))
        .collect();
    let codes = state
        .txns
        .add_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            &partitions,
            verify_only,
        )
        .await;
    let mut codes = codes.into_iter();
    topics
        .iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name.clone(),
            results_by_partition: t
                .partitions
                .iter()
                .map(|&p| AddPartitionsToTxnPartitionResult {
                    partition_index: p,
                    partition_error_code: for_version(
                        codes.next().unwrap_or(ErrorCode::None),
                        version,
                        2,
                    )
                    .code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

pub(super) async fn add_offsets(
    state: &BrokerState,
    ctx: &RequestContext,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let code = state
        .txns
        .add_offsets(
            &request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            &request.group_id,
        )
        .await;
    AddOffsetsToTxnResponse {
        error_code: for_version(code, ctx.version, 2).code(),
        ..Default::default()
    }
}

pub(super) async fn end_txn(
    state: &BrokerState,
    ctx: &RequestContext,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let code = state
        .txns
        .end_txn(
            &request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            request.committed,
        )
        .await;
    EndTxnResponse {
        error_code: for_version(code, ctx.version, 2).code(),
        ..Default::default()
    }
}

/// TxnOffsetCommit goes to the group coordinator once the transaction coordinator
/// confirms the group's offsets partition is in the producer's open transaction
/// (AddOffsetsToTxn came first), so the offsets cannot outlive their transaction.
pub(super) async fn txn_offset_commit(
    state: &BrokerState,
    ctx: &RequestContext,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let partition = state.groups.offsets_partition_for(&request.group_id);
    let verified = state
        .txns
        .verify_partition(
            &request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            (crate::group::OFFSETS_TOPIC.to_owned(), partition),
        )
        .await;
    if verified != ErrorCode::None {
        let code = for_version(verified, ctx.version, 3);
        return crate::group::refuse_txn_offsets(&request, code);
    }
    state.groups.commit_txn_offsets(request, ctx.version).await
}
