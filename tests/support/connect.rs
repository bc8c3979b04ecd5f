//! `weir connect run|worker` as child processes, for pipeline, REST and crash tests.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use super::process::spawn_listening;

/// A `weir connect` child process serving REST on `127.0.0.1:<free port>`; killed on
/// drop.
#[derive(Debug)]
pub(crate) struct ConnectProcess {
    child: Option<Child>,
    /// `127.0.0.1:PORT` of its REST API.
    pub(crate) address: String,
    log: Arc<Mutex<String>>,
}

impl ConnectProcess {
    /// `weir connect run PIPELINE --listen 127.0.0.1:0 -b BOOTSTRAP`, with `envs`.
    pub(crate) fn run(bootstrap: &str, pipeline: &Path, envs: &[(&str, &str)]) -> ConnectProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
        command
            .args(["connect", "run"])
            .arg(pipeline)
            .args(["--listen", "127.0.0.1:0", "-b", bootstrap])
            .envs(envs.iter().copied());
        ConnectProcess::spawn(command, "connect pipeline")
    }

    /// `weir connect worker --listen 127.0.0.1:0 -b BOOTSTRAP --group-id GROUP`, whose
    /// departed workers' tasks move at once (`scheduled.rebalance.max.delay.ms=0`).
    pub(crate) fn worker(bootstrap: &str, group: &str) -> ConnectProcess {
        ConnectProcess::worker_with(bootstrap, group, &[])
    }

    /// [`ConnectProcess::worker`] with `settings` (`KEY=VALUE`) passed with `--set`.
    pub(crate) fn worker_with(bootstrap: &str, group: &str, settings: &[&str]) -> ConnectProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
        command.args([
            "connect",
            "worker",
            "--listen",
            "127.0.0.1:0",
            "-b",
            bootstrap,
            "--group-id",
            group,
            "--set",
            "scheduled.rebalance.max.delay.ms=0",
        ]);
        for setting in settings {
            command.args(["--set", setting]);
        }
        ConnectProcess::spawn(command, "connect worker")
    }

    /// `weir connect worker --config FILE --listen 127.0.0.1:0 -b BOOTSTRAP`: the
    /// group and everything else from the properties file.
    pub(crate) fn worker_with_config(bootstrap: &str, properties: &Path) -> ConnectProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
        command
            .args(["connect", "worker", "--config"])
            .arg(properties)
            .args(["--listen", "127.0.0.1:0", "-b", bootstrap]);
        ConnectProcess::spawn(command, "connect worker")
    }

    /// Stops the process with SIGTERM; returns how long it took to exit and whether
    /// it exited cleanly.
    pub(crate) fn terminate_timed(&mut self) -> (std::time::Duration, bool) {
        let Some(mut child) = self.child.take() else {
            return (std::time::Duration::ZERO, true);
        };
        let started = std::time::Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let exit = child.wait().expect("wait for weir connect");
        (started.elapsed(), exit.success())
    }

    fn spawn(command: Command, what: &str) -> ConnectProcess {
        let (child, address, log) = spawn_listening(command, what);
        ConnectProcess {
            child: Some(child),
            address,
            log,
        }
    }

    /// Sends `signal` (e.g. "STOP", "CONT") to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Kills the process with SIGKILL: tasks get no chance to store positions or commit.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL weir connect");
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for a clean exit.
    pub(crate) fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let status = child.wait().expect("wait for weir connect");
        assert!(
            status.success(),
            "weir connect exited with {status} after SIGTERM; stderr:\n{}",
            self.log()
        );
    }

    /// Everything it logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ConnectProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
