//! A real PostgreSQL server on a free loopback port, for integration tests.
//!
//! Every handle runs `initdb` into its own temporary directory and starts its own
//! postmaster there, so no test depends on, or disturbs, a cluster the machine may
//! already run on 5432 (Debian's package starts one). The server is configured for
//! logical replication, trusts every local connection unless a test asks for a password
//! ([`PostgresServer::require_password`]), logs to a file in the temporary directory,
//! shows that log when it fails to start, and stops when the handle drops.
//!
//! PostgreSQL refuses to run as root. When the tests do (as they do on CI), `initdb`,
//! `postgres`, `pg_ctl` and `psql` run as the `postgres` OS user through `setpriv`,
//! which execs rather than forks, so the child process is the postmaster itself and
//! [`PostgresServer::kill`] really kills the server.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const INSTALL: &str = "install it with `apt-get install postgresql` or run scripts/test.sh";

/// How long a started server may take to accept connections, crash recovery included.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The database every server has besides `postgres`.
const DATABASE: &str = "weir";

/// How many lines of the server's log a failure shows.
const LOG_TAIL_LINES: usize = 60;

/// Settings for every server, before the test's own (a later `-c` wins).
const DEFAULT_SETTINGS: &[&str] = &[
    "wal_level=logical",
    // Each CDC test may create several slots and walsenders; the defaults (10) are
    // close enough to be hit by a test that leaks a few on purpose.
    "max_replication_slots=20",
    "max_wal_senders=20",
    // Half the default, so a test whose client stops answering keepalives sees the
    // server drop it sooner, yet far above what a stalled debug build on a loaded
    // machine needs to answer one.
    "wal_sender_timeout=30s",
    "shared_buffers=128MB",
    // Tests crash the postmaster with SIGKILL, which keeps the page cache; only a power
    // loss would need fsync. `start_with(&["fsync=on"])` for a test that cares.
    "fsync=off",
];

/// A running PostgreSQL server with its own data directory.
#[derive(Debug)]
pub(crate) struct PostgresServer {
    /// The postmaster, while it runs.
    child: Option<Child>,
    port: u16,
    /// `-c` settings from [`PostgresServer::start_with`], after [`DEFAULT_SETTINGS`].
    settings: Vec<String>,
    /// Users that must authenticate with SCRAM, in `pg_hba.conf` before the trust lines.
    password_users: Vec<String>,
    /// Holds `data/` and `postgres.log`; removed on drop.
    dir: tempfile::TempDir,
}

impl PostgresServer {
    /// Starts a fresh server on a free port, with databases `postgres` and `weir`.
    pub(crate) fn start() -> PostgresServer {
        PostgresServer::start_with(&[])
    }

    /// Starts a fresh server with extra settings, each `name=value` as for
    /// `postgres -c`, e.g. `["wal_level=replica"]`; they override the defaults.
    pub(crate) fn start_with(settings: &[&str]) -> PostgresServer {
        let installation = installation();
        let dir = temp_dir(installation);
        let mut server = PostgresServer {
            child: None,
            port: 0,
            settings: settings.iter().map(|s| s.to_string()).collect(),
            password_users: Vec::new(),
            dir,
        };
        server.initdb();
        server.write_hba();
        // Another process may take the port between our probe and the server's bind.
        for attempt in 1..=5 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => break,
                Err(log) if log.contains("Address already in use") && attempt < 5 => continue,
                Err(log) => panic!("PostgreSQL did not start:\n{log}"),
            }
        }
        server.psql_in("postgres", &format!("CREATE DATABASE {DATABASE}"));
        server
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// `weir`, the database [`PostgresServer::url`] and [`PostgresServer::psql`] use.
    pub(crate) fn database(&self) -> &'static str {
        DATABASE
    }

    /// `postgres://postgres@127.0.0.1:port/weir`; the `postgres` user needs no password.
    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://postgres@{}:{}/{DATABASE}",
            self.host(),
            self.port
        )
    }

    /// The data directory (owned by the `postgres` OS user when the tests run as root).
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's log so far, across restarts.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `sql` (one or more statements) in `weir` as `postgres` and returns what it
    /// prints, unaligned and without headers: one line per row, `|` between columns.
    /// Panics with psql's error if a statement fails.
    pub(crate) fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|err| panic!("psql failed on port {}: {err}\nSQL: {sql}", self.port))
    }

    /// [`PostgresServer::psql`] in another database of the server.
    pub(crate) fn psql_in(&self, database: &str, sql: &str) -> String {
        self.run_psql(database, "postgres", None, sql)
            .unwrap_or_else(|err| panic!("psql failed on port {}: {err}\nSQL: {sql}", self.port))
    }

    /// Starts psql on `sql` in `weir` and returns at once, for load that runs while
    /// the test does something else; [`BackgroundPsql::wait`] checks it succeeded.
    pub(crate) fn spawn_psql(&self, sql: &str) -> BackgroundPsql {
        let mut command = self.command("psql");
        command
            .args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", self.host(), "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", DATABASE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = run_output("psql", command.spawn());
        let mut stdin = child.stdin.take().expect("psql's stdin");
        stdin
            .write_all(sql.as_bytes())
            .expect("write psql's script");
        drop(stdin);
        BackgroundPsql { child }
    }

    /// [`PostgresServer::psql`], with psql's error as `Err` instead of a panic.
    pub(crate) fn try_psql(&self, sql: &str) -> Result<String, String> {
        self.run_psql(DATABASE, "postgres", None, sql)
    }

    /// Runs `sql` in `weir` as `user` over TCP, with `password` if given (psql never
    /// prompts); `Err` carries psql's error, e.g. a refused authentication.
    pub(crate) fn try_psql_as(
        &self,
        user: &str,
        password: Option<&str>,
        sql: &str,
    ) -> Result<String, String> {
        self.run_psql(DATABASE, user, password, sql)
    }

    /// Makes `user` authenticate with `scram-sha-256` from now on, for every database
    /// and for replication connections, over TCP and the Unix socket. The user itself
    /// is the test's to create (`CREATE ROLE … LOGIN PASSWORD …`). A running server
    /// reloads its configuration before this returns.
    pub(crate) fn require_password(&mut self, user: &str) {
        // pg_hba.conf has no escape for a double quote inside a quoted name.
        assert!(
            !user.is_empty() && !user.contains(['"', '\n', '\r']),
            "require_password: {user:?} cannot be written to pg_hba.conf"
        );
        self.password_users.push(user.to_string());
        self.write_hba();
        if self.child.is_some() {
            self.reload();
        }
    }

    /// Shuts the server down cleanly (`pg_ctl stop -m fast`); the data directory stays
    /// for [`PostgresServer::start_again`].
    pub(crate) fn stop(&mut self) {
        if let Err(err) = self.shut_down("fast") {
            panic!("PostgreSQL did not stop: {err}\n{}", self.log_tail(0));
        }
    }

    /// SIGKILLs the postmaster, as a crash would. Its backends exit on their own once
    /// they notice; [`PostgresServer::start_again`] waits for that and then runs crash
    /// recovery.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped or killed server again on the same data directory and port.
    pub(crate) fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "start_again: the server on port {} is still running",
            self.port
        );
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            match self.spawn() {
                Ok(()) => return,
                // After a kill, orphaned backends hold the old shared memory until they
                // notice the postmaster is gone; another process may hold the port for a
                // moment. Both pass.
                Err(log)
                    if (log.contains("Address already in use")
                        || log.contains("pre-existing shared memory block"))
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(log) => panic!("PostgreSQL did not start again:\n{log}"),
            }
        }
    }

    /// [`PostgresServer::stop`], then [`PostgresServer::start_again`].
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The last lines of the log from byte `from` on.
    fn log_tail(&self, from: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log_path()) {
            let _ = file.seek(SeekFrom::Start(from));
            let _ = file.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "--- {} (last {} lines) ---\n{}",
            self.log_path().display(),
            lines.len() - skip,
            lines[skip..].join("\n")
        )
    }

    /// A PostgreSQL program from the installation's bindir, run as the `postgres` OS
    /// user when we are root.
    fn command(&self, program: &str) -> Command {
        let installation = installation();
        let path = installation.bindir.join(program);
        let mut command = match installation.owner {
            Some((uid, gid)) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(path);
                command
            }
            None => Command::new(path),
        };
        // The `postgres` user may not be allowed into the test's working directory.
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        command
    }

    fn initdb(&self) {
        let data = self.data_dir();
        std::fs::create_dir(&data).expect("create the data directory");
        if let Some((uid, gid)) = installation().owner {
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                .expect("give the data directory to the postgres user");
        }
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["--auth=trust", "-U", "postgres"])
            .args(["--encoding=UTF8", "--locale=C"])
            // Nothing here must survive a power loss; this saves most of initdb's time.
            .arg("--no-sync")
            .output();
        let output = run_output("initdb", output);
        if !output.status.success() {
            panic!(
                "initdb failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    /// Rewrites `pg_hba.conf`: SCRAM for the password users, then trust for everyone.
    /// Rules match first to last, so the SCRAM lines must come first.
    fn write_hba(&self) {
        let mut hba = String::from("# Written by the test harness (postgres_server.rs).\n");
        let sources = [("local", ""), ("host", "127.0.0.1/32"), ("host", "::1/128")];
        for user in &self.password_users {
            for (kind, address) in sources {
                // `all` does not cover physical replication connections; name them too.
                for database in ["all", "replication"] {
                    hba.push_str(&format!(
                        "{kind} {database} \"{user}\" {address} scram-sha-256\n"
                    ));
                }
            }
        }
        for (kind, address) in sources {
            for database in ["all", "replication"] {
                hba.push_str(&format!("{kind} {database} all {address} trust\n"));
            }
        }
        // initdb created the file for the postgres user; truncating it keeps its owner.
        std::fs::write(self.data_dir().join("pg_hba.conf"), hba).expect("write pg_hba.conf");
    }

    /// Reloads the configuration and waits until new connections see it: the reload
    /// signal is asynchronous, and a test's next connection could otherwise still meet
    /// the old pg_hba.conf.
    fn reload(&self) {
        let before = self.psql_in("postgres", "SELECT pg_conf_load_time()");
        self.psql_in("postgres", "SELECT pg_reload_conf()");
        let deadline = Instant::now() + READY_WITHIN;
        let check = format!("SELECT pg_conf_load_time() > '{before}'::timestamptz");
        while self.psql_in("postgres", &check) != "t" {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not reload its configuration within {READY_WITHIN:?}\n{}",
                self.log_tail(0)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the postmaster on `self.port` and waits until it accepts connections;
    /// `Err` carries the exit status or timeout and the log of this attempt.
    fn spawn(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log");
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let data = self.data_dir();
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(&data)
            .arg("-c")
            .arg(format!("port={}", self.port))
            .args(["-c", "listen_addresses=127.0.0.1"])
            // In the data directory, so it can only be this server's socket.
            .arg("-c")
            .arg(format!("unix_socket_directories={}", data.display()));
        for setting in DEFAULT_SETTINGS
            .iter()
            .copied()
            .chain(self.settings.iter().map(String::as_str))
        {
            command.arg("-c").arg(setting);
        }
        let child = command
            .stdout(log.try_clone().expect("clone the log file"))
            .stderr(log)
            .spawn();
        let mut child = run_output("postgres", child);
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "postgres exited with {status}\n{}",
                    self.log_tail(log_start)
                ));
            }
            if self.accepts_connections() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "not accepting connections within {READY_WITHIN:?}\n{}",
                    self.log_tail(log_start)
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Whether the server accepts connections (not merely starting or recovering).
    /// Asks through the Unix socket in our data directory, which no other server can
    /// answer for, unlike a port another process may have taken.
    fn accepts_connections(&self) -> bool {
        // A client: it may run as root. Naming the user and database keeps the probe
        // from logging "role root does not exist" on every try.
        Command::new(installation().bindir.join("pg_isready"))
            .arg("-q")
            .arg("-h")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-t", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    fn shut_down(&mut self, mode: &str) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let output = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", "60"])
            .output();
        let result = match output {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(format!(
                "pg_ctl stop -m {mode} exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run pg_ctl: {e}")),
        };
        if result.is_err() {
            let _ = child.kill();
        }
        // pg_ctl -w returned once postmaster.pid is gone; the exit follows at once.
        let _ = child.wait();
        result
    }

    /// Runs psql over TCP, as clients under test connect, with the SQL on stdin so that
    /// each statement runs on its own (`-c` would make them one implicit transaction).
    fn run_psql(
        &self,
        database: &str,
        user: &str,
        password: Option<&str>,
        sql: &str,
    ) -> Result<String, String> {
        let mut command = self.command("psql");
        command
            .args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", self.host(), "-p", &self.port.to_string()])
            .args(["-U", user, "-d", database])
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGPASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        let mut child = run_output("psql", command.spawn());
        let mut stdin = child.stdin.take().expect("psql's stdin");
        // Written from another thread: psql may fill its stdout before reading all of
        // a long script, and we read stdout only after.
        let output = std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = stdin.write_all(sql.as_bytes());
            });
            child.wait_with_output()
        });
        let output: Output = run_output("psql", output);
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout)
                .trim_end_matches('\n')
                .to_string())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
            Err(format!("psql exited with {}: {stderr}", output.status))
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Nothing to keep: immediate mode skips the shutdown checkpoint.
        let _ = self.shut_down("immediate");
    }
}

/// Where PostgreSQL is installed and who runs it; looked up once per test binary.
#[derive(Debug)]
struct Installation {
    bindir: PathBuf,
    /// The `postgres` OS user's uid and gid when the tests run as root, which
    /// PostgreSQL refuses; `None` runs the programs as the current user.
    owner: Option<(u32, u32)>,
}

fn installation() -> &'static Installation {
    static INSTALLATION: OnceLock<Installation> = OnceLock::new();
    INSTALLATION.get_or_init(|| {
        let bindir = find_bindir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's `initdb` not found (neither `pg_config --bindir` nor \
                 /usr/lib/postgresql/*/bin has it): {INSTALL}"
            )
        });
        for program in ["initdb", "postgres", "pg_ctl", "pg_isready", "psql"] {
            assert!(
                bindir.join(program).is_file(),
                "PostgreSQL's `{program}` not found in {}: {INSTALL}",
                bindir.display()
            );
        }
        let owner = (id(&["-u"]).as_deref() == Some("0")).then(|| {
            let uid = id(&["-u", "postgres"]);
            let gid = id(&["-g", "postgres"]);
            match (
                uid.and_then(|u| u.parse().ok()),
                gid.and_then(|g| g.parse().ok()),
            ) {
                (Some(uid), Some(gid)) => (uid, gid),
                _ => panic!(
                    "the tests run as root, which PostgreSQL refuses, and there is no \
                     `postgres` OS user to run it as: {INSTALL}"
                ),
            }
        });
        Installation { bindir, owner }
    })
}

/// `pg_config --bindir` if it has `initdb` (Debian's `pg_config` may come from
/// libpq-dev alone), else the newest `/usr/lib/postgresql/<version>/bin`.
fn find_bindir() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|dir| dir.join("initdb").is_file());
    if from_pg_config.is_some() {
        return from_pg_config;
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            // "15", or "9.6" before PostgreSQL 10: compare as numbers, not text.
            let version: Vec<u32> = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// `id ARGS`' answer, or `None` if it fails (e.g. no such user).
fn id(args: &[&str]) -> Option<String> {
    let output = Command::new("id").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A temporary directory the `postgres` user can enter: under /tmp when we are root,
/// since `TMPDIR` may sit under /root (mode 0700), and mode 0755 itself.
fn temp_dir(installation: &Installation) -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix("weir-pg-");
    let dir = match installation.owner {
        Some(_) => builder.tempdir_in("/tmp"),
        None => builder.tempdir(),
    }
    .expect("a temporary directory for PostgreSQL");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("make the temporary directory traversable");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Unwraps the result of running a PostgreSQL program, naming `setpriv` when that is
/// what is missing.
fn run_output<T>(program: &str, result: std::io::Result<T>) -> T {
    result.unwrap_or_else(|e| match (e.kind(), installation().owner) {
        (std::io::ErrorKind::NotFound, Some(_)) => {
            panic!("cannot run {program}: `setpriv` (util-linux) not found: {e}")
        }
        _ => panic!("cannot run {program}: {e}"),
    })
}

/// A psql run in the background ([`PostgresServer::spawn_psql`]).
#[derive(Debug)]
pub(crate) struct BackgroundPsql {
    child: Child,
}

impl BackgroundPsql {
    /// Waits for psql to end; `Err` carries its error output.
    pub(crate) fn try_wait(mut self) -> Result<(), String> {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("psql exited with {status}: {}", stderr.trim()))
        }
    }

    /// Waits for psql to end and panics if it failed.
    pub(crate) fn wait(self) {
        if let Err(err) = self.try_wait() {
            panic!("{err}");
        }
    }
}
