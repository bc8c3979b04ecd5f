//! One client connection: cut frames, serve requests in order, write responses in order.
//!
//! Requests are started strictly in arrival order, as Kafka serves a connection. Only
//! the wait for produce acknowledgements overlaps: a produce request queues its appends
//! and the connection reads on, so a pipelining producer keeps partitions busy, while
//! responses still leave in request order. A fetch response's record batches are
//! file regions, sent with `sendfile(2)` or copied as `weir.fetch.zero.copy.enable`
//! says (`response.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::stream::{FuturesOrdered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::apis::{self, Outcome};
use super::limits::ConnectionPermit;
use super::response::{self, Response, Transfer};
use super::state::BrokerState;
use super::FrameReader;

/// Stands in for "never" when `connections.max.idle.ms` is -1.
const NO_IDLE_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Serves one connection until the client closes it, a request cannot be read, it
/// sits idle for `connections.max.idle.ms`, or the broker shuts down. `_permit`
/// holds the connection's slot under the connection limits until then.
///
/// At most `weir.max.in.flight.requests.per.connection` requests are started and
/// unanswered at once. At the limit the connection neither reads nor cuts frames
/// already read, so a client pipelining faster than it is served is slowed down by
/// TCP flow control and the broker holds a bounded amount of its data.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    _permit: ConnectionPermit,
    state: Arc<BrokerState>,
    shutdown: CancellationToken,
) {
    // Small responses go out at once; batching them would only add latency.
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let frames = FrameReader::new(state.config.request_max_bytes);
    let max_in_flight = state.config.max_in_flight_per_connection.max(1);
    let idle_timeout = state.config.connections_max_idle;
    let transfer = if state.config.fetch_zero_copy {
        Transfer::ZeroCopy
    } else {
        Transfer::Copy
    };
    let idle_after = idle_timeout.unwrap_or(NO_IDLE_TIMEOUT);
    let idle = tokio::time::sleep(idle_after);
    tokio::pin!(idle);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut in_flight = FuturesOrdered::new();
    // Whether new requests are taken: false after the client's end of stream, a read
    // error, a frame that cannot be read, or shutdown.
    let mut reading = true;
    let mut throttled = false;

    'serve: loop {
        // Start the requests already read, in order, up to the in-flight limit.
        while reading && in_flight.len() < max_in_flight {
            let frame = match frames.next_frame(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%peer, %error, "closing connection");
                    reading = false;
                    break;
                }
            };
            match apis::start(&state, frame, peer).await {
                Outcome::Respond(pending) => in_flight.push_back(pending),
                Outcome::Close(reason) => {
                    tracing::warn!(%peer, "closing connection: {reason}");
                    break 'serve;
                }
            }
        }
        if !reading && in_flight.is_empty() {
            break;
        }
        let at_limit = in_flight.len() >= max_in_flight;
        if at_limit && !throttled {
            tracing::debug!(%peer, max_in_flight, "in-flight request limit reached; reading paused");
        }
        throttled = at_limit;
        tokio::select! {
            _ = shutdown.cancelled(), if reading => reading = false,
            Some(response) = in_flight.next(), if !in_flight.is_empty() => {
                let response: Option<Response> = response;
                if let Some(response) = response {
                    if let Err(error) = response::write(&mut writer, &response, transfer).await {
                        tracing::debug!(%peer, %error, "writing a response failed");
                        return;
                    }
                }
                idle.as_mut().reset(Instant::now() + idle_after);
            }
            read = reader.read_buf(&mut buf), if reading && !at_limit => match read {
                Ok(0) => reading = false,
                Ok(_) => idle.as_mut().reset(Instant::now() + idle_after),
                Err(error) => {
                    tracing::debug!(%peer, %error, "reading from the connection failed");
                    reading = false;
                }
            },
            () = &mut idle, if idle_timeout.is_some() && reading && in_flight.is_empty() => {
                tracing::debug!(%peer, ?idle_after, "closing a connection idle for connections.max.idle.ms");
                break;
            }
        }
    }
    // Responses already computed for a connection being closed for a bad request
    // are still sent, so a client sees every answer it was owed before the close.
    while let Some(response) = in_flight.next().await {
        if let Some(response) = response {
            if response::write(&mut writer, &response, transfer)
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let _ = writer.shutdown().await;
}
