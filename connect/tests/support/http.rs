//! A small HTTP/1.1 client for tests of the Connect REST API: one request per
//! connection (`Connection: close`), JSON bodies, and the whole response read before
//! it is returned.
//!
//! Written over `tokio::net::TcpStream` so tests depend on no HTTP client crate and see
//! exactly the bytes the server sent. Include it with
//! `#[path = "support/http.rs"] mod http;`.

// Each test binary that includes this file uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a request may take before the test fails instead of hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for the server at one address.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    addr: SocketAddr,
}

/// A response, read to its end.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Header names in lower case, in the order sent.
    pub(crate) headers: Vec<(String, String)>,
    /// The body as JSON when the response says it is JSON (`Null` when empty);
    /// otherwise the body text as a JSON string.
    pub(crate) body: Value,
    /// The body as sent.
    pub(crate) text: String,
}

impl Response {
    /// The first value of header `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Http {
    pub(crate) fn new(addr: SocketAddr) -> Http {
        Http { addr }
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.send("GET", path, None).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Response {
        self.send("DELETE", path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Response {
        self.send("POST", path, Some(body.to_string().as_bytes()))
            .await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Response {
        self.send("PUT", path, Some(body.to_string().as_bytes()))
            .await
    }

    pub(crate) async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send("PATCH", path, Some(body.to_string().as_bytes()))
            .await
    }

    /// Any method, with a raw body or none (for bodies that are not valid JSON, and
    /// for `POST`/`PUT` without a body). A body is sent as `application/json`.
    pub(crate) async fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Response {
        let exchange = self.exchange(method, path, body);
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => panic!("{method} {path} to {}: {err}", self.addr),
            Err(_) => panic!(
                "{method} {path} to {}: no response within {REQUEST_TIMEOUT:?}",
                self.addr
            ),
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, String> {
        let mut stream = TcpStream::connect(self.addr)
            .await
            .map_err(|err| format!("cannot connect: {err}"))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nConnection: close\r\n",
            self.addr
        );
        match body {
            Some(body) => request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )),
            None => request.push_str("Content-Length: 0\r\n\r\n"),
        }
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        stream
            .write_all(&bytes)
            .await
            .map_err(|err| format!("cannot send the request: {err}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|err| format!("cannot read the response: {err}"))?;
        parse(&raw)
    }
}

/// Parses a whole HTTP/1.1 response.
fn parse(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(raw)))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|err| format!("head: {err}"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = find("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("bad content-length {length:?}"))?;
        rest.get(..length)
            .ok_or_else(|| format!("body shorter than content-length {length}"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    let text = String::from_utf8(body).map_err(|err| format!("body is not UTF-8: {err}"))?;
    let is_json = find("content-type").is_some_and(|v| v.contains("json"));
    let body = if text.is_empty() {
        Value::Null
    } else if is_json {
        serde_json::from_str(&text).map_err(|err| format!("bad JSON body {text:?}: {err}"))?
    } else {
        Value::String(text.clone())
    };
    Ok(Response {
        status,
        headers,
        body,
        text,
    })
}

/// Decodes a chunked body.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line not terminated")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|err| err.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("chunk shorter than its size")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("chunk not terminated")?;
    }
}
