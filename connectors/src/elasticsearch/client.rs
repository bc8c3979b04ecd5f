//! A small HTTP/1.1 client for the `_bulk` API, on hyper (already in Weir's build
//! through the REST API's axum), rather than the `elasticsearch` crate: that crate
//! brings reqwest, a TLS stack and a typed API for hundreds of endpoints when the sink
//! needs two requests (`GET /` and `POST /_bulk`), and its transport hides the status
//! and connection errors the sink must tell apart. The price: no https (see `url.rs`).
//!
//! Requests go round-robin over `connection.url`'s servers. Each server keeps a few
//! idle keep-alive connections; a request takes one or opens one, so up to
//! `max.in.flight.requests` requests run on their own connections. A connection that
//! failed is dropped, never reused. The tasks driving the connections live in a
//! `JoinSet` owned here, so they stop when the client goes.
//!
//! Every failure says what it means for the pipeline: refused, reset or silent
//! connections are retryable External errors; what the server answered is for the
//! caller to judge by its status.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use weir_connect::ConnectError;

use super::config::ElasticsearchSinkConfig;
use super::url::HostUrl;

/// The largest response body read; a bulk response for the largest batch is far
/// smaller, so anything beyond this is not a bulk response.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Idle connections kept per server.
const MAX_IDLE: usize = 16;

type Sender = SendRequest<Full<Bytes>>;

/// A server's answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    /// The server that answered, for messages.
    pub(crate) host: String,
}

pub(crate) struct Client {
    hosts: Vec<HostUrl>,
    next: AtomicUsize,
    authorization: Option<HeaderValue>,
    idle: Vec<Mutex<Vec<Sender>>>,
    drivers: Mutex<JoinSet<()>>,
    connection_timeout: Duration,
    read_timeout: Duration,
    compression: bool,
}

/// Without the authorization header's value.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("hosts", &self.hosts)
            .field("authenticated", &self.authorization.is_some())
            .field("compression", &self.compression)
            .finish()
    }
}

impl Client {
    pub(crate) fn new(config: &ElasticsearchSinkConfig) -> Client {
        let authorization = config.username.as_ref().map(|user| {
            let password = config.password.as_ref().map_or("", |p| p.expose());
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .expect("base64 is a valid header value");
            value.set_sensitive(true);
            value
        });
        Client {
            hosts: config.hosts.clone(),
            next: AtomicUsize::new(0),
            authorization,
            idle: config
                .hosts
                .iter()
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
            drivers: Mutex::new(JoinSet::new()),
            connection_timeout: config.connection_timeout,
            read_timeout: config.read_timeout,
            compression: config.compression,
        }
    }

    /// `GET /` on the next server: its name and version, or why not.
    pub(crate) async fn get_root(&self) -> Result<Response, ConnectError> {
        self.send(Method::GET, "/", None).await
    }

    /// `POST /_bulk` with an NDJSON body (gzip-compressed with
    /// `connection.compression`).
    pub(crate) async fn bulk(&self, body: Bytes) -> Result<Response, ConnectError> {
        self.send(Method::POST, "/_bulk", Some(body)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Response, ConnectError> {
        let host = self.next.fetch_add(1, Ordering::Relaxed) % self.hosts.len();
        let url = &self.hosts[host];
        let body = match (body, self.compression) {
            (Some(body), true) => Some((gzip(&body), true)),
            (Some(body), false) => Some((body, false)),
            (None, _) => None,
        };
        // A kept-alive connection the server has closed in the meantime fails at once;
        // that is no reason to count a retry, so it gets one more go on a new one.
        let (mut sender, reused) = match self.take_idle(host) {
            Some(sender) => (sender, true),
            None => (self.connect(url).await?, false),
        };
        let request = self.request(&method, url, path, body.clone());
        match self.exchange(&mut sender, request, url).await {
            Ok(response) => {
                self.put_idle(host, sender);
                Ok(response)
            }
            Err(_) if reused => {
                let mut sender = self.connect(url).await?;
                let request = self.request(&method, url, path, body);
                let response = self.exchange(&mut sender, request, url).await?;
                self.put_idle(host, sender);
                Ok(response)
            }
            Err(err) => Err(err),
        }
    }

    fn request(
        &self,
        method: &Method,
        url: &HostUrl,
        path: &str,
        body: Option<(Bytes, bool)>,
    ) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", url.path))
            .header(HOST, format!("{}:{}", url.host, url.port));
        if let Some(authorization) = &self.authorization {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        let body = match body {
            Some((body, compressed)) => {
                builder = builder.header(CONTENT_TYPE, "application/x-ndjson");
                if compressed {
                    builder = builder.header(CONTENT_ENCODING, "gzip");
                }
                body
            }
            None => Bytes::new(),
        };
        builder
            .body(Full::new(body))
            .expect("the method, path and headers are valid")
    }

    async fn exchange(
        &self,
        sender: &mut Sender,
        request: Request<Full<Bytes>>,
        url: &HostUrl,
    ) -> Result<Response, ConnectError> {
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(BodyError)?
                .to_bytes();
            Ok::<_, BodyError>((status, body))
        };
        match tokio::time::timeout(self.read_timeout, exchange).await {
            Ok(Ok((status, body))) => Ok(Response {
                status,
                body,
                host: url.to_string(),
            }),
            Ok(Err(err)) => Err(ConnectError::external(format!(
                "the connection to Elasticsearch at {url} failed"
            ))
            .with_source(err)),
            Err(_) => Err(ConnectError::external(format!(
                "no response from Elasticsearch at {url} within {} ms; raise read.timeout.ms if \
                 the server is slow",
                self.read_timeout.as_millis()
            ))),
        }
    }

    async fn connect(&self, url: &HostUrl) -> Result<Sender, ConnectError> {
        let connect = async {
            let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
            // Bulk bodies are written whole; Nagle's delay would only add latency.
            let _ = stream.set_nodelay(true);
            http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)
        };
        let (sender, connection) =
            match tokio::time::timeout(self.connection_timeout, connect).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(err)) => {
                    return Err(ConnectError::external(format!(
                        "cannot connect to Elasticsearch at {url}"
                    ))
                    .with_source(err))
                }
                Err(_) => {
                    return Err(ConnectError::external(format!(
                    "cannot connect to Elasticsearch at {url} within {} ms (connection.timeout.ms)",
                    self.connection_timeout.as_millis()
                )))
                }
            };
        let mut drivers = self.drivers.lock().unwrap_or_else(|e| e.into_inner());
        while drivers.try_join_next().is_some() {}
        drivers.spawn(async move {
            // Ends when the server closes the connection or every sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn take_idle(&self, host: usize) -> Option<Sender> {
        let mut idle = self.idle[host].lock().unwrap_or_else(|e| e.into_inner());
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, host: usize, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle[host].lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// A failure while exchanging a request and its response on a connection.
#[derive(Debug)]
struct BodyError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<hyper::Error> for BodyError {
    fn from(err: hyper::Error) -> BodyError {
        BodyError(Box::new(err))
    }
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(body)
        .expect("writing into a Vec cannot fail");
    Bytes::from(encoder.finish().expect("writing into a Vec cannot fail"))
}
