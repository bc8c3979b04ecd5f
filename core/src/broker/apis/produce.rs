//! Produce: appends are queued to each partition's owner in request order; the
//! response is built when every queued append has answered.

use std::sync::Arc;

use bytes::BytesMut;
use futures_util::future::{BoxFuture, FutureExt};
use tokio::sync::oneshot;

use super::errors::{message, partition_error_code};
use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::log::batch::RecordBatchHeader;
use crate::log::{AppendInfo, LogError};
use crate::partition::PartitionHandle;
use crate::protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use crate::protocol::messages::{ProduceRequest, ProduceResponse};
use crate::protocol::ErrorCode;

/// One partition's part of the answer: already known, or waiting on its owner.
enum Slot {
    Done(PartitionProduceResponse),
    Appending {
        index: i32,
        partition: PartitionHandle,
        pending: oneshot::Receiver<Result<AppendInfo, LogError>>,
    },
}

pub(super) async fn start(
    state: Arc<BrokerState>,
    ctx: RequestContext,
    request: ProduceRequest,
) -> BoxFuture<'static, Option<BytesMut>> {
    let acks = request.acks;
    let refusal = refusal(&ctx, &request);
    let mut topics = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = state.topics.get(&topic_data.name);
        let mut slots = Vec::with_capacity(topic_data.partition_data.len());
        for data in topic_data.partition_data {
            let index = data.index;
            let fail = |error: ErrorCode, text: Option<String>| {
                Slot::Done(partition_response(index, error, text))
            };
            if let Some((error, text)) = &refusal {
                slots.push(fail(*error, Some(text.clone())));
                continue;
            }
            let Some((topic, partition)) = topic
                .as_ref()
                .and_then(|t| t.partition(index).map(|p| (t, p)))
            else {
                slots.push(fail(ErrorCode::UnknownTopicOrPartition, None));
                continue;
            };
            let min_insync = topic.configs.min_insync_replicas(state.topics.defaults());
            if acks == -1 && min_insync > 1 {
                slots.push(fail(
                    ErrorCode::NotEnoughReplicas,
                    Some(format!(
                        "min.insync.replicas={min_insync} but this single-node broker has 1 replica in sync"
                    )),
                ));
                continue;
            }
            let Some(records) = data.records.filter(|r| !r.is_empty()) else {
                slots.push(fail(
                    ErrorCode::CorruptMessage,
                    Some("the produce request has no record batches".into()),
                ));
                continue;
            };
            if let Err((code, text)) = check_transactional(
                &state,
                request.transactional_id.as_deref(),
                &topic_data.name,
                index,
                &records,
            )
            .await
            {
                slots.push(fail(code, Some(text)));
                continue;
            }
            match partition.start_append(records).await {
                Ok(pending) => slots.push(Slot::Appending {
                    index,
                    partition: partition.clone(),
                    pending,
                }),
                Err(error) => slots.push(fail(partition_error_code(&error), Some(message(&error)))),
            }
        }
        topics.push((topic_data.name, slots));
    }
    async move {
        let mut responses = Vec::with_capacity(topics.len());
        for (name, slots) in topics {
            let mut partition_responses = Vec::with_capacity(slots.len());
            for slot in slots {
                partition_responses.push(finish(slot).await);
            }
            responses.push(TopicProduceResponse {
                name,
                partition_responses,
                ..Default::default()
            });
        }
        tracing::trace!(peer = %ctx.peer, api = "Produce", correlation_id = ctx.correlation_id, "answered");
        // acks=0: the producer reads no response, so none is sent.
        (acks != 0).then(|| {
            ctx.encode(&ProduceResponse {
                responses,
                ..Default::default()
            })
        })
    }
    .boxed()
}

/// Why the whole request is refused, if it is.
fn refusal(ctx: &RequestContext, request: &ProduceRequest) -> Option<(ErrorCode, String)> {
    if ctx.version < 3 {
        return Some((
            ErrorCode::UnsupportedVersion,
            "Produce v0-v2 (message format v0/v1) is not supported; use a client that sends Produce v3 or later".into(),
        ));
    }
    if !matches!(request.acks, -1..=1) {
        return Some((
            ErrorCode::InvalidRequiredAcks,
            format!("acks must be -1 (all), 0 or 1, not {}", request.acks),
        ));
    }
    None
}

/// A transactional batch is appended only if its partition was added to the
/// producer's open transaction (KIP-890): otherwise a late or stray write would open a
/// transaction on the partition that no coordinator will ever end, and hold its last
/// stable offset back for good.
async fn check_transactional(
    state: &BrokerState,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: &bytes::Bytes,
) -> Result<(), (ErrorCode, String)> {
    let Some(header) = RecordBatchHeader::parse(records) else {
        return Ok(());
    };
    if !header.is_transactional() {
        return Ok(());
    }
    let Some(transactional_id) = transactional_id else {
        return Err((
            ErrorCode::InvalidTxnState,
            "a transactional batch needs the request's transactional id".into(),
        ));
    };
    let code = state
        .txns
        .verify_partition(
            transactional_id,
            header.producer_id,
            header.producer_epoch,
            (topic.to_owned(), partition),
        )
        .await;
    match code {
        ErrorCode::None => Ok(()),
        // The partition's own check says INVALID_PRODUCER_EPOCH for a zombie.
        ErrorCode::ProducerFenced => Err((
            ErrorCode::InvalidProducerEpoch,
            format!("producer epoch {} of '{transactional_id}' is fenced", header.producer_epoch),
        )),
        ErrorCode::InvalidTxnState => Err((
            code,
            format!("{topic}-{partition} is not part of the open transaction of '{transactional_id}' (AddPartitionsToTxn first)"),
        )),
        code => Err((code, format!("transactional id '{transactional_id}': {}", code.name()))),
    }
}

async fn finish(slot: Slot) -> PartitionProduceResponse {
    match slot {
        Slot::Done(response) => response,
        Slot::Appending {
            index,
            partition,
            pending,
        } => match partition.finish_append(pending).await {
            Ok(info) => PartitionProduceResponse {
                index,
                error_code: ErrorCode::None.code(),
                base_offset: info.base_offset,
                log_append_time_ms: info.log_append_time,
                log_start_offset: partition.offsets().log_start_offset,
                ..Default::default()
            },
            Err(error) => {
                let code = partition_error_code(&error);
                if code == ErrorCode::KafkaStorageError {
                    let cause = std::error::Error::source(&error)
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    tracing::error!(topic = partition.topic(), partition = index, %error, %cause, "append failed");
                }
                partition_response(index, code, Some(message(&error)))
            }
        },
    }
}

fn partition_response(
    index: i32,
    error: ErrorCode,
    text: Option<String>,
) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: error.code(),
        base_offset: -1,
        error_message: text,
        ..Default::default()
    }
}
