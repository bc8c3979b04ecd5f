//! The PostgreSQL harness itself: what the CDC source's tests rely on holds — a server
//! of its own (not the machine's cluster on 5432), logical replication, slots that
//! survive a restart and a crash, and password authentication on demand.

#[path = "support/postgres_server.rs"]
mod postgres_server;

use postgres_server::PostgresServer;

#[test]
fn server_is_its_own_cluster_with_logical_wal_level() {
    let server = PostgresServer::start();
    assert_eq!(server.psql("SHOW wal_level"), "logical");
    assert_eq!(server.psql("SHOW port"), server.port().to_string());
    assert_ne!(server.port(), 5432);
    let data_directory = server.psql("SHOW data_directory");
    assert_eq!(
        std::fs::canonicalize(&data_directory).unwrap(),
        std::fs::canonicalize(server.data_dir()).unwrap(),
        "the server runs on the harness's data directory"
    );
    assert_eq!(server.psql("SELECT current_database()"), server.database());
    assert_eq!(server.psql("SHOW max_replication_slots"), "20");
    assert_eq!(server.psql("SHOW server_encoding"), "UTF8");
    assert_eq!(
        server.url(),
        format!("postgres://postgres@127.0.0.1:{}/weir", server.port())
    );
}

#[test]
fn logical_slot_survives_restart_and_crash() {
    let mut server = PostgresServer::start();
    assert_eq!(
        server.psql("SELECT slot_name FROM pg_create_logical_replication_slot('s', 'pgoutput')"),
        "s"
    );
    server.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let slot = "SELECT slot_name, plugin, slot_type, database FROM pg_replication_slots";
    let expected = "s|pgoutput|logical|weir";
    assert_eq!(server.psql(slot), expected);

    server.restart();
    assert_eq!(server.psql(slot), expected, "after a clean restart");

    server.psql("INSERT INTO t VALUES (2)");
    server.kill();
    assert!(
        server.try_psql("SELECT 1").is_err(),
        "a killed server still answers"
    );
    server.start_again();
    assert_eq!(server.psql(slot), expected, "after SIGKILL and recovery");
    assert_eq!(server.psql("SELECT id FROM t ORDER BY id"), "1\n2");
    assert_eq!(server.psql("SHOW wal_level"), "logical");
}

#[test]
fn password_required_user_is_refused_without_one() {
    let mut server = PostgresServer::start();
    server.psql("CREATE ROLE alice LOGIN REPLICATION PASSWORD 'secret'");
    // Trusted until the harness says otherwise.
    assert_eq!(
        server.try_psql_as("alice", None, "SELECT current_user"),
        Ok("alice".to_string())
    );

    server.require_password("alice");
    let refused = server
        .try_psql_as("alice", None, "SELECT 1")
        .expect_err("alice connected without a password");
    assert!(
        refused.contains("no password supplied"),
        "unexpected error: {refused}"
    );
    let wrong = server
        .try_psql_as("alice", Some("wrong"), "SELECT 1")
        .expect_err("alice connected with a wrong password");
    assert!(
        wrong.contains("password authentication failed for user \"alice\""),
        "unexpected error: {wrong}"
    );
    assert_eq!(
        server.try_psql_as("alice", Some("secret"), "SELECT current_user"),
        Ok("alice".to_string())
    );
    assert_eq!(
        server.psql(
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'alice'"
        ),
        "t",
        "the password is stored for SCRAM"
    );
    // Everyone else is still trusted, and the rule outlives a restart.
    assert_eq!(server.psql("SELECT current_user"), "postgres");
    server.restart();
    assert!(server.try_psql_as("alice", None, "SELECT 1").is_err());
}

#[test]
fn start_with_overrides_the_default_settings() {
    let server = PostgresServer::start_with(&["wal_level=replica", "fsync=on"]);
    assert_eq!(server.psql("SHOW wal_level"), "replica");
    assert_eq!(server.psql("SHOW fsync"), "on");
    let err = server
        .try_psql("SELECT pg_create_logical_replication_slot('s', 'pgoutput')")
        .expect_err("a logical slot with wal_level=replica");
    assert!(
        err.contains("logical decoding requires wal_level >= logical"),
        "unexpected error: {err}"
    );
}
