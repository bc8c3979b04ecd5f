//! A real `redis-server` on a free loopback port, for integration tests.
//!
//! The server keeps nothing on disk (`--save "" --appendonly no`) and is killed when
//! the handle drops. Its log goes to a file in a temporary directory and is shown when
//! the server fails to start.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MISSING: &str =
    "redis-server not found: install it with `apt-get install redis-server` or run scripts/test.sh";

/// How long a started server may take to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running `redis-server`.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra_args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub(crate) fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Starts a server with extra arguments, e.g. `["--requirepass", "s3cret"]`.
    pub(crate) fn start_with(extra_args: &[&str]) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: 0,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            dir: tempfile::tempdir().expect("a temporary directory for redis-server"),
        };
        // Another process may take the port between our probe and the server's bind.
        for attempt in 1..=5 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(log) if log.contains("Address already in use") && attempt < 5 => continue,
                Err(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:port`, for the sink's `redis.uri`.
    pub(crate) fn uri(&self) -> String {
        format!("redis://{}", self.address())
    }

    /// A client for reading state back; `password` for a server with `requirepass`.
    pub(crate) fn client(&self, password: Option<&str>) -> redis::Connection {
        let url = match password {
            Some(password) => format!("redis://:{password}@{}", self.address()),
            None => self.uri(),
        };
        redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("cannot connect to redis-server at {}: {e}", self.address()))
    }

    /// Kills the server; its data is gone.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts a new, empty one on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        // The old socket may linger for a moment; redis-server sets SO_REUSEADDR, so a
        // clash here is another process, which a few tries ride out.
        let mut last = String::new();
        for _ in 0..20 {
            match self.spawn() {
                Ok(()) => return,
                Err(log) if log.contains("Address already in use") => {
                    last = log;
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(log) => panic!("redis-server did not restart:\n{log}"),
            }
        }
        panic!(
            "port {} stayed in use; redis-server did not restart:\n{last}",
            self.port
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts the process and waits for PING; `Err` carries the server's log.
    fn spawn(&mut self) -> Result<(), String> {
        let log = self.log_path();
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => panic!("{MISSING}"),
                _ => panic!("cannot run redis-server: {e}"),
            });
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("exited with {status}\n{stderr}{log}"));
            }
            if answers_ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("no PING reply within {READY_WITHIN:?}\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Whether a server on `port` answers PING (`+PONG`, or `-NOAUTH` with requirepass).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 64];
    match stream.read(&mut reply) {
        Ok(n) => reply[..n].starts_with(b"+PONG") || reply[..n].starts_with(b"-NOAUTH"),
        Err(_) => false,
    }
}
