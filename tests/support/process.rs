//! The `weir` binary run as a broker child process, for restart and crash tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use super::WAIT;

/// A `weir broker` child process on `127.0.0.1:<free port>`; killed on drop.
#[derive(Debug)]
pub(crate) struct BrokerProcess {
    child: Option<Child>,
    /// `127.0.0.1:PORT` as the broker reported it.
    pub(crate) bootstrap: String,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    /// Everything the broker wrote to stderr, for failure messages.
    log: Arc<Mutex<String>>,
}

impl BrokerProcess {
    /// Starts `weir broker --data-dir DIR --listen 127.0.0.1:0 [extra_args]` and waits
    /// for it to say which port it listens on.
    pub(crate) fn start(data_dir: &Path, extra_args: &[&str]) -> BrokerProcess {
        BrokerProcess::start_listening(data_dir, "127.0.0.1:0", extra_args)
    }

    /// [`BrokerProcess::start`] on a given address, so clients that outlive a
    /// restart find the broker again where they left it.
    pub(crate) fn start_listening(
        data_dir: &Path,
        listen: &str,
        extra_args: &[&str],
    ) -> BrokerProcess {
        let extra_args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
        command
            .arg("broker")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", listen])
            .args(&extra_args);
        let (child, bootstrap, log) = spawn_listening(command, "broker");
        BrokerProcess {
            child: Some(child),
            bootstrap,
            data_dir: data_dir.to_owned(),
            extra_args,
            log,
        }
    }

    /// Asks the broker to stop with SIGTERM and waits for it to exit.
    pub(crate) fn terminate(mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match child.try_wait().expect("wait for the broker") {
                Some(status) => {
                    assert!(
                        status.success(),
                        "the broker exited with {status} after SIGTERM; stderr:\n{}",
                        self.log()
                    );
                    return;
                }
                None if std::time::Instant::now() > deadline => {
                    let _ = child.kill();
                    panic!("the broker did not exit within {WAIT:?} of SIGTERM");
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Kills the broker with SIGKILL (no chance to flush or clean up).
    pub(crate) fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL the broker");
        let _ = child.wait();
    }

    /// Starts a new broker on the same data directory with the same flags.
    pub(crate) fn restart(data_dir: &Path, extra_args: &[&str]) -> BrokerProcess {
        BrokerProcess::start(data_dir, extra_args)
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn extra_args(&self) -> &[String] {
        &self.extra_args
    }

    /// The broker's stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `command` (a `weir` subcommand) with stderr captured, and waits for it to
/// log `listening on ADDR`. Returns the child, the address and its log so far (kept
/// up to date for the life of the process).
pub(crate) fn spawn_listening(
    mut command: Command,
    what: &str,
) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = command
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the weir binary");
    let stderr = child.stderr.take().expect("piped stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = mpsc::channel();
    // Drains stderr for the life of the process so it never blocks on a full pipe;
    // ends when the process exits and the pipe closes.
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(address) = listening_address(&line) {
                if let Some(tx) = port_tx.take() {
                    let _ = tx.send(address);
                }
            }
            let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
            log.push_str(&line);
            log.push('\n');
        }
    });
    match port_rx.recv_timeout(WAIT) {
        Ok(address) => (child, address, log),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "the {what} did not report `listening on` within {WAIT:?} (exit: {status:?}); stderr:\n{}",
                log.lock().unwrap_or_else(|e| e.into_inner())
            );
        }
    }
}

/// `127.0.0.1:PORT` from a log line containing `listening on 127.0.0.1:PORT`.
fn listening_address(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let address: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    address.rsplit_once(':')?.1.parse::<u16>().ok()?;
    Some(address)
}
