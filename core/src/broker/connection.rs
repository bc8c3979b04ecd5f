//! One client connection: cut frames, serve requests in order, write responses in order.
//!
//! Requests are started strictly in arrival order, as Kafka serves a connection. Only
//! the wait for produce acknowledgements overlaps: a produce request queues its appends
//! and the connection reads on, so a pipelining producer keeps partitions busy, while
//! responses still leave in request order.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use futures_util::stream::{FuturesOrdered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::apis::{self, Outcome};
use super::state::BrokerState;
use super::FrameReader;

/// Requests of one connection whose responses may be pending at once.
const MAX_IN_FLIGHT: usize = 64;

pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<BrokerState>,
    shutdown: CancellationToken,
) {
    // Small responses go out at once; batching them would only add latency.
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let frames = FrameReader::new(state.config.request_max_bytes);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut in_flight = FuturesOrdered::new();
    let mut reading = true;

    'serve: while reading || !in_flight.is_empty() {
        tokio::select! {
            _ = shutdown.cancelled(), if reading => reading = false,
            Some(response) = in_flight.next(), if !in_flight.is_empty() => {
                let response: Option<BytesMut> = response;
                if let Some(response) = response {
                    if let Err(error) = writer.write_all(&response).await {
                        tracing::debug!(%peer, %error, "writing a response failed");
                        return;
                    }
                }
            }
            read = reader.read_buf(&mut buf), if reading && in_flight.len() < MAX_IN_FLIGHT => {
                match read {
                    Ok(0) => reading = false,
                    Ok(_) => loop {
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
                    },
                    Err(error) => {
                        tracing::debug!(%peer, %error, "reading from the connection failed");
                        reading = false;
                    }
                }
            }
        }
    }
    // Responses already computed for a connection being closed for a bad request
    // are still sent, so a client sees every answer it was owed before the close.
    while let Some(response) = in_flight.next().await {
        if let Some(response) = response {
            if writer.write_all(&response).await.is_err() {
                return;
            }
        }
    }
    let _ = writer.shutdown().await;
}
