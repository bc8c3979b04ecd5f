//! One TCP connection to one broker: size-prefixed frames, one request in flight at
//! a time, versions agreed by ApiVersions when the connection opens.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir_core::protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use weir_core::protocol::{
    request_header_version, response_header_version, ApiKey, Decodable, Encodable, ErrorCode,
    Request,
};

use super::versions::{client_versions, BrokerVersions};
use super::WireError;

/// The largest response body accepted. Admin responses for a few thousand partitions
/// are well under a megabyte; the cap is checked before any of the body is read, and
/// the buffer grows only as bytes actually arrive.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 << 20;

const CLIENT_ID: &str = "weir-cli";

/// A connection that has completed the ApiVersions handshake.
///
/// Requests go one at a time: each is written, then its response read in full, so a
/// response always belongs to the request just sent (the correlation id is checked
/// anyway). After any I/O failure or timeout the stream's position in the byte stream
/// is unknown, so the connection refuses further requests.
#[derive(Debug)]
pub(crate) struct Connection {
    addr: String,
    stream: TcpStream,
    timeout: Duration,
    next_correlation_id: i32,
    versions: BrokerVersions,
    broken: bool,
}

impl Connection {
    /// Connects to `addr` (`host:port`) and agrees on versions, each step bounded by
    /// `timeout`.
    pub(crate) async fn open(addr: &str, timeout: Duration) -> Result<Connection, WireError> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(WireError::Timeout {
                    addr: addr.to_owned(),
                    api: ApiKey::ApiVersions,
                    after: timeout,
                })
            }
            Ok(Err(source)) => {
                return Err(WireError::Connect {
                    addr: addr.to_owned(),
                    source,
                })
            }
            Ok(Ok(stream)) => stream,
        };
        // One small request at a time: Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            addr: addr.to_owned(),
            stream,
            timeout,
            next_correlation_id: 0,
            versions: BrokerVersions::default(),
            broken: false,
        };
        connection.versions = connection.handshake().await?;
        Ok(connection)
    }

    /// The `host:port` this connection goes to.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The version of `api` requests on this connection use.
    pub(crate) fn version(&self, api: ApiKey) -> Result<i16, WireError> {
        self.versions.pick(api, &self.addr)
    }

    /// Sends `request` at the highest version both sides speak and reads its response.
    pub(crate) async fn send<R: Request>(&mut self, request: &R) -> Result<R::Response, WireError> {
        let version = self.version(R::API_KEY)?;
        self.send_at(request, version).await
    }

    /// Sends `request` at `version` and reads its response.
    pub(crate) async fn send_at<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, WireError> {
        let mut body = self.round_trip(R::API_KEY, version, request).await?;
        self.decode(R::API_KEY, version, &mut body)
    }

    fn decode<M: Decodable>(
        &self,
        api: ApiKey,
        version: i16,
        body: &mut Bytes,
    ) -> Result<M, WireError> {
        M::decode(body, version).map_err(|source| WireError::Decode {
            addr: self.addr.clone(),
            api,
            version,
            source,
        })
    }

    /// KIP-511: ask at the highest ApiVersions version this client knows; a broker that
    /// does not know it answers in v0 with UNSUPPORTED_VERSION and its own range, and
    /// the request is repeated at a version both know.
    async fn handshake(&mut self) -> Result<BrokerVersions, WireError> {
        let request = ApiVersionsRequest {
            client_software_name: CLIENT_ID.to_owned(),
            client_software_version: env!("CARGO_PKG_VERSION").to_owned(),
            ..Default::default()
        };
        let client = client_versions(ApiKey::ApiVersions);
        let mut version = client.max;
        loop {
            let body = self
                .round_trip(ApiKey::ApiVersions, version, &request)
                .await?;
            // The refusal of an unknown version is written in v0 whatever was asked,
            // so its error code (the first field of every version) decides the layout.
            let refused =
                body.get(..2) == Some(&ErrorCode::UnsupportedVersion.code().to_be_bytes());
            let layout = if refused { 0 } else { version };
            let response: ApiVersionsResponse =
                self.decode(ApiKey::ApiVersions, layout, &mut body.clone())?;
            if response.error_code == ErrorCode::UnsupportedVersion.code() {
                let theirs = BrokerVersions::new(&response.api_keys)
                    .broker_range(ApiKey::ApiVersions)
                    .map_or(0, |range| range.max.min(client.max));
                if theirs < version {
                    version = theirs;
                    continue;
                }
            }
            if response.error_code != 0 {
                return Err(WireError::Handshake {
                    addr: self.addr.clone(),
                    code: response.error_code,
                });
            }
            return Ok(BrokerVersions::new(&response.api_keys));
        }
    }

    /// Writes one request frame and reads the body of its response, header removed.
    async fn round_trip(
        &mut self,
        api: ApiKey,
        version: i16,
        body: &impl Encodable,
    ) -> Result<Bytes, WireError> {
        if self.broken {
            return Err(WireError::Broken {
                addr: self.addr.clone(),
            });
        }
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let frame = encode_request(api, version, correlation_id, body);
        let exchange = async {
            self.stream.write_all(&frame).await?;
            read_frame(&mut self.stream).await
        };
        let result = tokio::time::timeout(self.timeout, exchange).await;
        let mut response = match result {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(size))) => {
                self.broken = true;
                return Err(WireError::ResponseSize {
                    addr: self.addr.clone(),
                    api,
                    size,
                    max: MAX_RESPONSE_BYTES,
                });
            }
            Ok(Err(source)) => {
                self.broken = true;
                return Err(WireError::Io {
                    addr: self.addr.clone(),
                    api,
                    source,
                });
            }
            Err(_) => {
                self.broken = true;
                return Err(WireError::Timeout {
                    addr: self.addr.clone(),
                    api,
                    after: self.timeout,
                });
            }
        };
        let header_version = response_header_version(api, version);
        let header: ResponseHeader = self.decode(api, header_version, &mut response)?;
        if header.correlation_id != correlation_id {
            self.broken = true;
            return Err(WireError::CorrelationMismatch {
                addr: self.addr.clone(),
                api,
                expected: correlation_id,
                got: header.correlation_id,
            });
        }
        Ok(response)
    }
}

/// A whole request frame: size, header, body.
fn encode_request(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &impl Encodable,
) -> BytesMut {
    let mut frame = BytesMut::with_capacity(256);
    frame.put_i32(0);
    RequestHeader {
        request_api_key: api as i16,
        request_api_version: version,
        correlation_id,
        client_id: Some(CLIENT_ID.to_owned()),
        ..Default::default()
    }
    .encode(&mut frame, request_header_version(api, version));
    body.encode(&mut frame, version);
    // The size prefix is a big-endian i32 counting the bytes after it.
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    frame
}

/// Reads one size-prefixed frame. `Ok(Err(size))` is a size outside
/// `0..=MAX_RESPONSE_BYTES`, refused before anything of the body is read.
async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Result<Bytes, i64>> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).await?;
    let size = i32::from_be_bytes(prefix);
    let Some(size) = usize::try_from(size)
        .ok()
        .filter(|&size| size <= MAX_RESPONSE_BYTES)
    else {
        return Ok(Err(i64::from(size)));
    };
    let mut body = Vec::with_capacity(size.min(64 << 10));
    (&mut *stream)
        .take(size as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < size {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Ok(Bytes::from(body)))
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;
    use weir_core::protocol::messages::api_versions_response::ApiVersion;
    use weir_core::protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};
    use weir_core::protocol::Message;

    use super::*;

    /// Reads one request frame; returns (api key, version, correlation id).
    async fn read_request(stream: &mut TcpStream) -> (i16, i16, i32) {
        let mut prefix = [0u8; 4];
        stream.read_exact(&mut prefix).await.unwrap();
        let mut body = vec![0; i32::from_be_bytes(prefix) as usize];
        stream.read_exact(&mut body).await.unwrap();
        let key = i16::from_be_bytes([body[0], body[1]]);
        let version = i16::from_be_bytes([body[2], body[3]]);
        let correlation = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        (key, version, correlation)
    }

    async fn respond<M: Message>(
        stream: &mut TcpStream,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &M,
    ) {
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        ResponseHeader {
            correlation_id,
            ..Default::default()
        }
        .encode(&mut frame, response_header_version(api, version));
        body.encode(&mut frame, version);
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        stream.write_all(&frame).await.unwrap();
    }

    fn announce(keys: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse {
            api_keys: keys
                .iter()
                .map(|&(api, min, max)| ApiVersion {
                    api_key: api as i16,
                    min_version: min,
                    max_version: max,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// A broker that knows ApiVersions only up to v2 and ListTransactions v0.
    async fn old_broker(listener: TcpListener) -> Vec<(i16, i16)> {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let (key, version, correlation) = read_request(&mut stream).await;
        seen.push((key, version));
        let refusal = ApiVersionsResponse {
            error_code: ErrorCode::UnsupportedVersion.code(),
            ..announce(&[(ApiKey::ApiVersions, 0, 2)])
        };
        respond(&mut stream, ApiKey::ApiVersions, 0, correlation, &refusal).await;
        let (key, version, correlation) = read_request(&mut stream).await;
        seen.push((key, version));
        let keys = announce(&[
            (ApiKey::ApiVersions, 0, 2),
            (ApiKey::ListTransactions, 0, 0),
        ]);
        respond(
            &mut stream,
            ApiKey::ApiVersions,
            version,
            correlation,
            &keys,
        )
        .await;
        let (key, version, correlation) = read_request(&mut stream).await;
        seen.push((key, version));
        let listed = ListTransactionsResponse::default();
        respond(
            &mut stream,
            ApiKey::ListTransactions,
            0,
            correlation,
            &listed,
        )
        .await;
        seen
    }

    #[tokio::test]
    async fn versions_are_agreed_even_with_a_broker_that_knows_fewer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let client = async {
            let mut connection = Connection::open(&addr, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(connection.version(ApiKey::ListTransactions).unwrap(), 0);
            connection
                .send(&ListTransactionsRequest::default())
                .await
                .unwrap();
        };
        let ((), seen) = tokio::join!(client, old_broker(listener));
        assert_eq!(
            seen,
            vec![
                (
                    ApiKey::ApiVersions as i16,
                    client_versions(ApiKey::ApiVersions).max
                ),
                (ApiKey::ApiVersions as i16, 2),
                (ApiKey::ListTransactions as i16, 0)
            ]
        );
    }

    #[tokio::test]
    async fn an_oversized_response_is_refused_before_its_body_is_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = async {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_request(&mut stream).await;
            let claim = (MAX_RESPONSE_BYTES as i32 + 1).to_be_bytes();
            stream.write_all(&claim).await.unwrap();
            // Keep the socket open: the client must not wait for the body.
            stream
        };
        let client = Connection::open(&addr, Duration::from_secs(5));
        let (result, _stream) = tokio::join!(client, server);
        let err = result.unwrap_err();
        assert!(
            matches!(err, WireError::ResponseSize { size, .. } if size == MAX_RESPONSE_BYTES as i64 + 1),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_response_at_the_cap_is_read() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&(MAX_RESPONSE_BYTES as i32).to_be_bytes());
        buf.resize(4 + MAX_RESPONSE_BYTES, 7);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = async {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.write_all(&buf).await.unwrap();
        };
        let client = async {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            read_frame(&mut stream).await.unwrap().unwrap().len()
        };
        let ((), len) = tokio::join!(server, client);
        assert_eq!(len, MAX_RESPONSE_BYTES);
    }

    #[tokio::test]
    async fn a_wrong_correlation_id_breaks_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = async {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (_, version, correlation) = read_request(&mut stream).await;
            let keys = announce(&[(ApiKey::ApiVersions, 0, 3)]);
            respond(
                &mut stream,
                ApiKey::ApiVersions,
                version,
                correlation + 5,
                &keys,
            )
            .await;
        };
        let (result, ()) = tokio::join!(Connection::open(&addr, Duration::from_secs(5)), server);
        assert!(matches!(
            result.unwrap_err(),
            WireError::CorrelationMismatch {
                expected: 0,
                got: 5,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_with_a_hint() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = Connection::open(&addr, Duration::from_secs(5))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot connect to {addr}")),
            "{text}"
        );
        assert!(text.contains("--bootstrap-server"), "{text}");
    }

    #[tokio::test]
    async fn a_silent_broker_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = async {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_request(&mut stream).await;
            stream
        };
        let client = Connection::open(&addr, Duration::from_millis(200));
        let (result, _stream) = tokio::join!(client, server);
        assert!(matches!(result.unwrap_err(), WireError::Timeout { .. }));
    }
}
