//! Fetch: read whole batches from each partition, long-polling until `min_bytes`
//! have arrived or `max_wait_ms` has passed. The batches stay in the segment files:
//! the response carries them as file regions (see `encode`), which the connection
//! sends with `sendfile(2)` or copies, as `weir.fetch.zero.copy.enable` says.

mod encode;

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{select_all, FutureExt};
use tokio::time::Instant;

use super::errors::partition_error_code;
use super::RequestContext;
use crate::broker::response::Response;
use crate::broker::state::BrokerState;
use crate::log::FetchedRecords;
use crate::partition::{IsolationLevel, PartitionHandle};
use crate::protocol::messages::fetch_request::FetchTopic;
use crate::protocol::messages::fetch_response::AbortedTransaction;
use crate::protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use crate::protocol::messages::{FetchRequest, FetchResponse};
use crate::protocol::ErrorCode;

/// A requested partition, resolved once and read on every pass of the long poll.
struct Wanted {
    index: i32,
    partition: Result<PartitionHandle, ErrorCode>,
    fetch_offset: i64,
    max_bytes: usize,
}

pub(super) async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: FetchRequest,
) -> Response {
    let topics: Vec<(FetchTopic, Vec<Wanted>)> = request
        .topics
        .into_iter()
        .map(|mut topic| {
            let found = if ctx.version >= 13 {
                state.topics.get_by_id(topic.topic_id)
            } else {
                state.topics.get(&topic.topic)
            };
            let unknown = if ctx.version >= 13 {
                ErrorCode::UnknownTopicId
            } else {
                ErrorCode::UnknownTopicOrPartition
            };
            let wanted = std::mem::take(&mut topic.partitions)
                .into_iter()
                .map(|p| Wanted {
                    index: p.partition,
                    partition: found
                        .as_ref()
                        .and_then(|t| t.partition(p.partition).cloned())
                        .ok_or(unknown),
                    fetch_offset: p.fetch_offset,
                    max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                })
                .collect();
            (topic, wanted)
        })
        .collect();

    let isolation = IsolationLevel::from_protocol(request.isolation_level);
    let max_bytes = usize::try_from(request.max_bytes).unwrap_or(0);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let deadline =
        Instant::now() + Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    loop {
        // Subscribe before reading, so an append between the read and the wait still
        // wakes this fetch.
        let mut watches: Vec<_> = topics
            .iter()
            .flat_map(|(_, wanted)| wanted.iter())
            .filter_map(|w| w.partition.as_ref().ok().map(|p| p.watch_offsets()))
            .collect();
        for watch in &mut watches {
            watch.borrow_and_update();
        }
        let (responses, fetched, bytes, any_error) = read_all(&topics, max_bytes, isolation).await;
        let waited_out = Instant::now() >= deadline;
        if bytes >= min_bytes || any_error || waited_out || watches.is_empty() {
            let mut response = FetchResponse {
                error_code: ErrorCode::None.code(),
                session_id: 0,
                responses,
                ..Default::default()
            };
            return encode::encode(ctx, &mut response, fetched);
        }
        let changed = select_all(watches.iter_mut().map(|w| w.changed().boxed()));
        // A closed watch (partition stopped) also ends the wait; the next pass reports it.
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}

/// One pass over every wanted partition. Returns the responses, each partition's
/// records in the same order, the record bytes gathered, and whether any partition
/// reported an error.
async fn read_all(
    topics: &[(FetchTopic, Vec<Wanted>)],
    max_bytes: usize,
    isolation: IsolationLevel,
) -> (
    Vec<FetchableTopicResponse>,
    Vec<FetchedRecords>,
    usize,
    bool,
) {
    let mut total = 0usize;
    let mut any_error = false;
    let mut responses = Vec::with_capacity(topics.len());
    let mut fetched = Vec::with_capacity(topics.iter().map(|(_, w)| w.len()).sum());
    for (topic, wanted) in topics {
        let mut partitions = Vec::with_capacity(wanted.len());
        for w in wanted {
            // KIP-74: the first partition with data may exceed the response limit by
            // one batch, so a large batch can never stall a consumer.
            let budget = if total == 0 {
                w.max_bytes.max(1)
            } else {
                w.max_bytes.min(max_bytes.saturating_sub(total))
            };
            let (data, records) = read_one(w, budget, isolation).await;
            any_error |= data.error_code != ErrorCode::None.code();
            total += records.len();
            partitions.push(data);
            fetched.push(records);
        }
        responses.push(FetchableTopicResponse {
            topic: topic.topic.clone(),
            topic_id: topic.topic_id,
            partitions,
            ..Default::default()
        });
    }
    (responses, fetched, total, any_error)
}

/// A partition's fields and records; `data.records` is left empty for the encoder.
async fn read_one(
    wanted: &Wanted,
    budget: usize,
    isolation: IsolationLevel,
) -> (PartitionData, FetchedRecords) {
    let none = FetchedRecords::empty;
    let mut data = PartitionData {
        partition_index: wanted.index,
        records: Some(Bytes::new()),
        ..Default::default()
    };
    let partition = match &wanted.partition {
        Ok(partition) => partition,
        Err(code) => {
            data.error_code = code.code();
            return (data, none());
        }
    };
    let offsets = partition.offsets();
    data.high_watermark = offsets.high_watermark;
    data.last_stable_offset = offsets.last_stable_offset;
    data.log_start_offset = offsets.log_start_offset;
    if wanted.fetch_offset < offsets.log_start_offset
        || wanted.fetch_offset > offsets.high_watermark
    {
        data.error_code = ErrorCode::OffsetOutOfRange.code();
        return (data, none());
    }
    let readable_end = match isolation {
        IsolationLevel::ReadUncommitted => offsets.high_watermark,
        IsolationLevel::ReadCommitted => offsets.last_stable_offset,
    };
    if wanted.fetch_offset >= readable_end || budget == 0 {
        return (data, none());
    }
    match partition
        .read_isolated(wanted.fetch_offset, budget, isolation)
        .await
    {
        Ok(read) => {
            // read_committed: the aborted transactions of the range, so the consumer
            // drops their records (null for read_uncommitted, as Kafka sends).
            data.aborted_transactions = read.aborted.map(|aborted| {
                aborted
                    .into_iter()
                    .map(|txn| AbortedTransaction {
                        producer_id: txn.producer_id,
                        first_offset: txn.first_offset,
                        ..Default::default()
                    })
                    .collect()
            });
            (data, read.records)
        }
        Err(error) => {
            data.error_code = partition_error_code(&error).code();
            (data, none())
        }
    }
}
