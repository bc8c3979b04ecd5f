//! A real MariaDB (or MySQL) server on a free loopback port, for integration tests.
//!
//! Every handle runs `mariadb-install-db` into its own temporary data directory and
//! starts its own `mariadbd` there, listening on 127.0.0.1 and on a socket inside that
//! directory, so no test depends on, or disturbs, a server the machine may already run
//! on 3306. After start it has a database `weir` and a user `weir` (password `weir`)
//! with every privilege, reachable over TCP. The server's error log is shown when it
//! fails to start; the server stops when the handle drops.
//!
//! When the tests run as root, the data directory belongs to the `mysql` OS user and
//! `mariadbd --user=mysql` drops to it, as the packaged service does.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "install it with `apt-get install mariadb-server` or run scripts/test.sh";

/// How long a started server may take to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(60);

pub(crate) const DATABASE: &str = "weir";
pub(crate) const USER: &str = "weir";
pub(crate) const PASSWORD: &str = "weir";

/// A running MariaDB server with its own data directory.
#[derive(Debug)]
pub(crate) struct MariaDbServer {
    child: Option<Child>,
    port: u16,
    /// Holds `data/`, the socket and `error.log`; removed on drop.
    dir: tempfile::TempDir,
}

fn program(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("MariaDB's `{name}` not found: {INSTALL}"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl MariaDbServer {
    /// Installs a fresh data directory and starts a server on a free port.
    pub(crate) fn start() -> MariaDbServer {
        let root = running_as_root();
        let mut builder = tempfile::Builder::new();
        builder.prefix("weir-mariadb-");
        // Under /tmp as root: TMPDIR may sit under /root, which `mysql` cannot enter.
        let dir = match root {
            true => builder.tempdir_in("/tmp"),
            false => builder.tempdir(),
        }
        .expect("a temporary directory for MariaDB");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("make the temporary directory writable for mysql");
        let mut server = MariaDbServer {
            child: None,
            port: 0,
            dir,
        };
        server.install(root);
        for attempt in 1..=5 {
            server.port = free_port();
            match server.spawn(root) {
                Ok(()) => break,
                Err(log) if log.contains("Address already in use") && attempt < 5 => continue,
                Err(log) => panic!("MariaDB did not start:\n{log}"),
            }
        }
        server.sql_as_root(&format!(
            "CREATE DATABASE {DATABASE}; \
             CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; \
             CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON *.* TO '{USER}'@'%'; GRANT ALL ON *.* TO '{USER}'@'localhost';"
        ));
        server
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `jdbc:mariadb://127.0.0.1:port/weir`; credentials go in the sink's own keys.
    pub(crate) fn jdbc_url(&self) -> String {
        format!("jdbc:mariadb://127.0.0.1:{}/{DATABASE}", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mariadb.sock")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("error.log")
    }

    fn install(&self, root: bool) {
        let mut command = Command::new(program("mariadb-install-db"));
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .stdin(Stdio::null());
        if root {
            command.arg("--user=mysql");
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run mariadb-install-db: {e}: {INSTALL}"));
        assert!(
            output.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn spawn(&mut self, root: bool) -> Result<(), String> {
        let _ = std::fs::remove_file(self.log_path());
        let mut command = Command::new(program("mariadbd"));
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("mariadb.pid").display()
            ))
            .arg(format!("--log-error={}", self.log_path().display()))
            .arg(format!("--port={}", self.port))
            .args(["--skip-networking=0", "--bind-address=127.0.0.1"])
            // Tests need no durability across power loss, and small buffers start fast.
            .args([
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-buffer-pool-size=64M",
            ])
            .args(["--skip-name-resolve", "--max-connections=200"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if root {
            command.arg("--user=mysql");
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run mariadbd: {e}: {INSTALL}"))?;
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mariadbd exited with {status}\n{}", self.log()));
            }
            if self.try_sql_as_root("SELECT 1").is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not ready within {READY_WITHIN:?}\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's error log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `sql` in `weir` as `weir` over TCP and returns the rows, one line each,
    /// tab between columns, `NULL` for null. Panics with the client's error.
    pub(crate) fn sql(&self, sql: &str) -> String {
        let output = Command::new(program("mariadb"))
            .arg("--no-defaults")
            .args(["-h", "127.0.0.1", "-P", &self.port.to_string()])
            .args(["-u", USER, &format!("-p{PASSWORD}"), DATABASE])
            .args(["-N", "-B", "-e", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run the mariadb client");
        assert!(
            output.status.success(),
            "mariadb failed on port {}: {}\nSQL: {sql}",
            self.port,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .trim_end_matches('\n')
            .to_string()
    }

    fn sql_as_root(&self, sql: &str) {
        if let Err(err) = self.try_sql_as_root(sql) {
            panic!("mariadb as root failed: {err}\nSQL: {sql}");
        }
    }

    fn try_sql_as_root(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(program("mariadb"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-u", "root", "-N", "-B", "-e", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run the mariadb client: {e}: {INSTALL}"))?;
        match output.status.success() {
            true => Ok(String::from_utf8_lossy(&output.stdout).to_string()),
            false => Err(String::from_utf8_lossy(&output.stderr).to_string()),
        }
    }

    /// Stops the server at once (SIGKILL): a dead database for the sink.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}
