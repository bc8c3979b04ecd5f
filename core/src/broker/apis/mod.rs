//! Request dispatch: header and version checks, then one file per Kafka API group.

mod api_versions;
mod authorized_operations;
mod cluster;
mod configs;
mod delete_records;
mod errors;
mod fetch;
mod find_coordinator;
mod groups;
mod heartbeat;
mod join_group;
mod leader_epoch;
mod leave_group;
mod list_offsets;
mod log_dirs;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod produce;
mod sync_group;
mod topics;
mod transactions;
mod txn_admin;
mod versions;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::future::{self, BoxFuture, FutureExt};

use super::response::Response;
use super::state::BrokerState;
use crate::protocol::messages::{RequestHeader, ResponseHeader};
use crate::protocol::{
    request_header_version, response_header_version, ApiKey, Decodable, Encodable, Message,
    RequestBody,
};

/// What the connection does with a request.
pub(crate) enum Outcome {
    /// Send what the future yields (nothing for acks=0 produces) in request order.
    Respond(BoxFuture<'static, Option<Response>>),
    /// The request cannot be understood; Kafka closes such connections.
    Close(String),
}

/// The parts of a request every handler may need.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    pub(crate) api_key: ApiKey,
    pub(crate) version: i16,
    pub(crate) correlation_id: i32,
    pub(crate) client_id: Option<String>,
    /// The peer's address, which DescribeGroups reports as the member's host.
    pub(crate) peer: SocketAddr,
}

impl RequestContext {
    /// The client as the group coordinator records it, host in Kafka's `/ip` form.
    pub(crate) fn client_info(&self) -> crate::group::ClientInfo {
        crate::group::ClientInfo {
            client_id: self.client_id.clone().unwrap_or_default(),
            client_host: format!("/{}", self.peer.ip()),
        }
    }

    /// Encodes `body` as this request's response, size prefix included.
    pub(crate) fn encode<M: Message>(&self, body: &M) -> BytesMut {
        self.encode_sized(body, 256)
    }

    /// Encodes into a buffer of `capacity` bytes: a response that carries record data
    /// is sized once up front instead of doubling its way through every page of it.
    pub(crate) fn encode_sized<M: Message>(&self, body: &M, capacity: usize) -> BytesMut {
        let mut buf = BytesMut::with_capacity(capacity);
        buf.put_i32(0);
        ResponseHeader {
            correlation_id: self.correlation_id,
            ..Default::default()
        }
        .encode(
            &mut buf,
            response_header_version(self.api_key, self.version),
        );
        body.encode(&mut buf, self.version);
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        buf
    }
}

/// Decodes one request frame and starts serving it.
pub(crate) async fn start(state: &Arc<BrokerState>, mut frame: Bytes, peer: SocketAddr) -> Outcome {
    let Some(prefix) = frame.get(..8) else {
        return Outcome::Close(format!(
            "a request of {} bytes is too short for a request header",
            frame.len()
        ));
    };
    let raw_key = i16::from_be_bytes([prefix[0], prefix[1]]);
    let version = i16::from_be_bytes([prefix[2], prefix[3]]);
    let correlation_id = i32::from_be_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    let Some(api_key) = ApiKey::from_i16(raw_key).filter(|k| versions::supported(*k).is_some())
    else {
        return Outcome::Close(format!("unknown or unsupported API key {raw_key}"));
    };
    let supported = versions::supported(api_key).expect("checked above");
    if !supported.contains(version) {
        if api_key == ApiKey::ApiVersions {
            // KIP-511: answer an unknown ApiVersions version with a v0 response listing
            // what is supported, so the client can retry with a version both know.
            let response = api_versions::unsupported_version(correlation_id, peer);
            return Outcome::Respond(future::ready(Some(response.into())).boxed());
        }
        return Outcome::Close(format!(
            "{} v{version} is not supported (this broker serves v{}-v{})",
            api_key.name(),
            supported.min,
            supported.max
        ));
    }
    let header = match RequestHeader::decode(&mut frame, request_header_version(api_key, version)) {
        Ok(header) => header,
        Err(error) => return Outcome::Close(format!("malformed request header: {error}")),
    };
    let body = match RequestBody::decode(api_key, version, &mut frame) {
        Ok(body) => body,
        Err(error) => {
            return Outcome::Close(format!(
                "malformed {} v{version} request: {error}",
                api_key.name()
            ))
        }
    };
    let ctx = RequestContext {
        api_key,
        version,
        correlation_id,
        client_id: header.client_id,
        peer,
    };
    tracing::trace!(%peer, api = api_key.name(), version, correlation_id, "request");
    let response = match body {
        RequestBody::Produce(request) => {
            let pending = produce::start(state.clone(), ctx, request).await;
            return Outcome::Respond(pending.map(|r| r.map(Response::from)).boxed());
        }
        // Fetch responses carry records as file regions, not in one buffer.
        RequestBody::Fetch(r) => fetch::handle(state, &ctx, r).await,
        body => serve(state, &ctx, body).await.into(),
    };
    tracing::trace!(%peer, api = api_key.name(), correlation_id, "answered");
    Outcome::Respond(future::ready(Some(response)).boxed())
}

/// Serves every API but Produce and Fetch to completion, in request order.
async fn serve(state: &BrokerState, ctx: &RequestContext, body: RequestBody) -> BytesMut {
    match body {
        RequestBody::ApiVersions(r) => ctx.encode(&api_versions::handle(ctx, r)),
        RequestBody::Metadata(r) => ctx.encode(&metadata::handle(state, ctx, r).await),
        RequestBody::ListOffsets(r) => ctx.encode(&list_offsets::handle(state, r).await),
        RequestBody::CreateTopics(r) => ctx.encode(&topics::create(state, ctx, r).await),
        RequestBody::DeleteTopics(r) => ctx.encode(&topics::delete(state, ctx, r).await),
        RequestBody::CreatePartitions(r) => ctx.encode(&topics::create_partitions(state, r).await),
        RequestBody::DescribeConfigs(r) => ctx.encode(&configs::describe(state, r)),
        RequestBody::AlterConfigs(r) => ctx.encode(&configs::alter(state, r).await),
        RequestBody::IncrementalAlterConfigs(r) => {
            ctx.encode(&configs::incremental_alter(state, r).await)
        }
        RequestBody::DescribeCluster(r) => ctx.encode(&cluster::describe(state, r)),
        RequestBody::DeleteRecords(r) => ctx.encode(&delete_records::handle(state, r).await),
        RequestBody::DescribeLogDirs(r) => ctx.encode(&log_dirs::describe(state, r)),
        RequestBody::OffsetForLeaderEpoch(r) => ctx.encode(&leader_epoch::handle(state, r)),
        RequestBody::FindCoordinator(r) => ctx.encode(&find_coordinator::handle(state, ctx, r)),
        // JoinGroup and SyncGroup may wait for a rebalance; only this connection waits.
        RequestBody::JoinGroup(r) => ctx.encode(&join_group::handle(state, ctx, r).await),
        RequestBody::SyncGroup(r) => ctx.encode(&sync_group::handle(state, r).await),
        RequestBody::Heartbeat(r) => ctx.encode(&heartbeat::handle(state, r).await),
        RequestBody::LeaveGroup(r) => ctx.encode(&leave_group::handle(state, ctx, r).await),
        RequestBody::OffsetCommit(r) => ctx.encode(&offset_commit::handle(state, ctx, r).await),
        RequestBody::OffsetFetch(r) => ctx.encode(&offset_fetch::handle(state, ctx, r).await),
        RequestBody::OffsetDelete(r) => ctx.encode(&offset_delete::handle(state, r).await),
        RequestBody::ListGroups(r) => ctx.encode(&groups::list(state, r).await),
        RequestBody::DescribeGroups(r) => ctx.encode(&groups::describe(state, ctx, r).await),
        RequestBody::DeleteGroups(r) => ctx.encode(&groups::delete(state, r).await),
        RequestBody::InitProducerId(r) => {
            ctx.encode(&transactions::init_producer_id(state, ctx, r).await)
        }
        RequestBody::AddPartitionsToTxn(r) => {
            ctx.encode(&transactions::add_partitions(state, ctx, r).await)
        }
        RequestBody::AddOffsetsToTxn(r) => {
            ctx.encode(&transactions::add_offsets(state, ctx, r).await)
        }
        RequestBody::EndTxn(r) => ctx.encode(&transactions::end_txn(state, ctx, r).await),
        RequestBody::TxnOffsetCommit(r) => {
            ctx.encode(&transactions::txn_offset_commit(state, ctx, r).await)
        }
        RequestBody::WriteTxnMarkers(r) => {
            ctx.encode(&txn_admin::write_txn_markers(state, r).await)
        }
        RequestBody::DescribeProducers(r) => {
            ctx.encode(&txn_admin::describe_producers(state, r).await)
        }
        RequestBody::ListTransactions(r) => {
            ctx.encode(&txn_admin::list_transactions(state, r).await)
        }
        RequestBody::DescribeTransactions(r) => {
            ctx.encode(&txn_admin::describe_transactions(state, r).await)
        }
        other => unreachable!(
            "versions::supported admitted {} without a handler",
            other.api_key().name()
        ),
    }
}
