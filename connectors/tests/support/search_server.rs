//! A real `osmem-server` (an in-memory OpenSearch-compatible server from PyPI) on a
//! free loopback port, for the Elasticsearch sink's tests, and a small blocking HTTP
//! client to read the indexes back.
//!
//! The binary is found at `$OSMEM_SERVER_BIN`, then in the project's `.venv` (where
//! `scripts/test.sh` pip-installs `osmem-server` from `tests/python/requirements.txt`),
//! then on `PATH`. The server keeps everything in memory: a restart starts empty. It
//! is killed when the handle drops, and exits by itself if the test process dies.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const MISSING: &str = "osmem-server not found: run scripts/test.sh (it pip-installs \
     osmem-server==0.1.6 from tests/python/requirements.txt into .venv), or \
     `pip install osmem-server==0.1.6` and set OSMEM_SERVER_BIN to the bundled binary \
     (python -c 'import osmem_server; print(osmem_server.resolve_binary())')";

/// A running `osmem-server`.
#[derive(Debug)]
pub(crate) struct SearchServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

/// How long a started server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// The server's binary, or the reason it cannot be found.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OSMEM_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    if let Ok(entries) = std::fs::read_dir(root.join(".venv/lib")) {
        for entry in entries.flatten() {
            let candidate = entry
                .path()
                .join("site-packages/osmem_server/bin/osmem-server");
            if candidate.exists() {
                return candidate;
            }
        }
    }
    PathBuf::from("osmem-server")
}

impl SearchServer {
    /// Starts a server on a port of its own choosing.
    pub(crate) fn start() -> SearchServer {
        let mut server = SearchServer {
            child: None,
            port: 0,
            dir: tempfile::tempdir().expect("a temporary directory for osmem-server"),
        };
        server
            .spawn()
            .unwrap_or_else(|e| panic!("osmem-server did not start: {e}"));
        server
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `connection.url`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL); its data is gone.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts a new, empty one on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let mut last = String::new();
        for _ in 0..40 {
            match self.spawn() {
                Ok(()) => return,
                Err(e) => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        panic!("osmem-server did not restart on port {}: {last}", self.port);
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the process: a server that accepts
    /// connections but answers nothing, and keeps its data.
    pub(crate) fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running osmem-server");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts the process on `self.port` (0: any) and reads the URL it prints. Its
    /// output goes to files, not pipes: a Go program dies writing to a closed pipe.
    fn spawn(&mut self) -> Result<(), String> {
        let stdout_path = self.dir.path().join("stdout");
        let stderr_path = self.dir.path().join("stderr");
        let stdout = std::fs::File::create(&stdout_path).expect("osmem-server's stdout file");
        let stderr = std::fs::File::create(&stderr_path).expect("osmem-server's stderr file");
        let mut child = Command::new(binary())
            .args(["-addr", &format!("127.0.0.1:{}", self.port)])
            .args(["-parent-pid", &std::process::id().to_string()])
            .arg("-no-ja")
            .arg("-no-stdin-watch")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => panic!("{MISSING}"),
                _ => panic!("cannot run osmem-server: {e}"),
            });
        let deadline = Instant::now() + READY_WITHIN;
        let url = loop {
            let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            let ready = out
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find_map(|v| v.get("url").and_then(Value::as_str).map(str::to_string));
            if let Some(url) = ready {
                break url;
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(format!("no ready line within {READY_WITHIN:?}: {out}{err}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("osmem-server printed an odd URL: {url}"));
        self.child = Some(child);
        Ok(())
    }

    /// A request; the status and the body as JSON (`Null` when empty or not JSON).
    pub(crate) fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        http(self.port, method, path, body)
    }

    /// The document `id` of `index`'s `_source`, if it exists.
    pub(crate) fn document(&self, index: &str, id: &str) -> Option<Value> {
        let (status, body) = self.request("GET", &format!("/{index}/_doc/{id}"), None);
        match status {
            200 if body["found"] == true => Some(body["_source"].clone()),
            200 | 404 => None,
            _ => panic!("GET /{index}/_doc/{id}: {status} {body}"),
        }
    }

    /// The document's `_version`.
    pub(crate) fn version(&self, index: &str, id: &str) -> Option<i64> {
        let (_, body) = self.request("GET", &format!("/{index}/_doc/{id}"), None);
        body["_version"].as_i64()
    }

    /// How many documents `index` holds (0 when it does not exist).
    pub(crate) fn count(&self, index: &str) -> u64 {
        let (status, body) = self.request("GET", &format!("/{index}/_count"), None);
        match status {
            200 => body["count"].as_u64().unwrap_or(0),
            _ => 0,
        }
    }

    /// The `_source` of every hit of a query, up to `size`.
    pub(crate) fn search(&self, index: &str, query: Value, size: usize) -> Vec<Value> {
        let body = serde_json::json!({"query": query, "size": size}).to_string();
        let (status, response) = self.request("POST", &format!("/{index}/_search"), Some(&body));
        assert_eq!(status, 200, "search {index}: {response}");
        response["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|hit| hit["_source"].clone())
            .collect()
    }

    /// Every document id of `index` (up to 10,000).
    pub(crate) fn ids(&self, index: &str) -> Vec<String> {
        let body = r#"{"query":{"match_all":{}},"size":10000,"_source":false}"#;
        let (status, response) = self.request("POST", &format!("/{index}/_search"), Some(body));
        if status != 200 {
            return Vec::new();
        }
        let mut ids: Vec<String> = response["hits"]["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|hit| hit["_id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for SearchServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen server cannot die of SIGKILL until thawed.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// One HTTP/1.1 request with `Connection: close`, read to the end.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("cannot connect to osmem-server on port {port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send a request to osmem-server");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read osmem-server's response");
    let text = String::from_utf8_lossy(&response);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("osmem-server sent no status line: {head}"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        text = rest[size..].trim_start_matches("\r\n");
    }
    out
}
