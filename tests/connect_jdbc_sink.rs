//! End-to-end: the database sink on a real `weir connect run` process, consuming from a
//! real `weir broker`, writing into real PostgreSQL and MariaDB servers started per
//! test. The CDC journey runs the example pipeline `postgres-to-postgres.yaml` (the
//! PostgreSQL CDC source → topic → the database sink) with the Connect process
//! SIGKILLed mid-stream, and checks that the target table ends equal to the source
//! table row for row, a column added on the way included.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use support::{
    create_topic, read_all, wait_until, BrokerProcess, ConnectProcess, MariaDbServer,
    PostgresServer,
};

fn wait_with_log(connect: &ConnectProcess, what: &str, check: impl FnMut() -> bool) {
    if let Err(panic) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(what, check)))
    {
        eprintln!("weir connect's log:\n{}", connect.log());
        std::panic::resume_unwind(panic);
    }
}

/// Waits longer than [`wait_until`]: a debug build on two shared cores replicates a
/// few thousand changes in tens of seconds.
fn wait_long(connect: &ConnectProcess, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while !check() {
        if std::time::Instant::now() > deadline {
            eprintln!("weir connect's log:\n{}", connect.log());
            panic!("timed out after 180 s waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

const SOURCE_SCHEMA: &str = "
CREATE TABLE customers (
    id int PRIMARY KEY,
    name text NOT NULL,
    balance numeric(10,2),
    born date,
    seen timestamp(6),
    vip boolean,
    doc jsonb
);
INSERT INTO customers
SELECT g, 'seeded ' || g, g * 1.25, DATE '1990-01-01' + g,
       TIMESTAMP '2024-01-02 03:04:05.123456' + g * INTERVAL '1 second', g % 3 = 0,
       jsonb_build_object('n', g)
FROM generate_series(1, 200) g;
";

/// 150 transactions of inserts, updates (one of them twice) and deletes.
const WORKLOAD: &str = "
DO $$
BEGIN
  FOR t IN 1..150 LOOP
    INSERT INTO customers
    SELECT g, 'new ' || g, g * 0.5, DATE '2000-01-01' + g, TIMESTAMP '2025-06-07 08:09:10' + g * INTERVAL '1 minute', g % 2 = 0, NULL
    FROM generate_series(1000 + t * 4, 1000 + t * 4 + 3) g;
    UPDATE customers SET balance = balance + 1, name = name || '+' WHERE id % 150 = t % 150;
    UPDATE customers SET vip = NOT coalesce(vip, false) WHERE id = 1000 + t * 4;
    UPDATE customers SET vip = NOT vip WHERE id = 1000 + t * 4;
    DELETE FROM customers WHERE id = t OR id = 1000 + t * 4 + 1;
    COMMIT;
  END LOOP;
END $$;
";

/// After the workload: a column the target does not have yet.
const EVOLVE: &str = "
ALTER TABLE customers ADD COLUMN tier text;
UPDATE customers SET tier = 'gold' WHERE id % 10 = 0;
INSERT INTO customers (id, name, tier) VALUES (5000, 'late', 'silver');
";

/// The rows, in one text form both servers can produce; with `tier` once the column
/// exists.
fn pg_rows(tier: bool) -> String {
    format!(
        "SELECT id || ' ' || name || ' ' || coalesce(balance::text, '-') || ' ' || \
         coalesce(born::text, '-') || ' ' || coalesce(to_char(seen, 'YYYY-MM-DD HH24:MI:SS.US'), \
         '-') || ' ' || coalesce(vip::int::text, '-') || ' ' || coalesce(doc::text, '-') {} \
         FROM customers ORDER BY id",
        if tier {
            "|| ' ' || coalesce(tier, '-')"
        } else {
            ""
        }
    )
}

fn mariadb_rows(tier: bool) -> String {
    format!(
        "SELECT CONCAT_WS(' ', id, name, coalesce(balance, '-'), coalesce(born, '-'), \
         coalesce(DATE_FORMAT(seen, '%Y-%m-%d %H:%i:%s.%f'), '-'), coalesce(vip, '-'), \
         coalesce(doc, '-'){}) FROM customers ORDER BY id",
        if tier { ", coalesce(tier, '-')" } else { "" }
    )
}

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines/postgres-to-postgres.yaml")
}

/// Runs the CDC journey into a target read back with `target_rows` (`None` while the
/// target has no table yet), and returns the source's final rows.
fn cdc_journey(
    source: &PostgresServer,
    target_envs: &[(&str, &str)],
    target_rows: &dyn Fn(bool) -> Option<String>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    source.psql(SOURCE_SCHEMA);
    let port = source.port().to_string();
    let mut envs = vec![
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGDATABASE", source.database()),
    ];
    envs.extend_from_slice(target_envs);
    let source_rows = || source.psql(&pg_rows(true));
    let mut connect = ConnectProcess::run(&broker.bootstrap, &example(), &envs);
    wait_long(&connect, "the snapshot in the target", || {
        target_rows(false).is_some_and(|rows| rows.lines().count() == 200)
    });
    let workload = source.spawn_psql(WORKLOAD);
    // Some of the workload reaches the target, then the worker dies without warning.
    wait_long(&connect, "the first workload rows in the target", || {
        target_rows(false).is_some_and(|rows| rows.contains(" new "))
    });
    connect.kill9();
    let connect = ConnectProcess::run(&broker.bootstrap, &example(), &envs);
    workload.wait();
    source.psql(EVOLVE);
    let expected = source_rows();
    assert!(
        expected.contains("late") && expected.contains("gold"),
        "{expected}"
    );
    wait_long(&connect, "the target to equal the source", || {
        target_rows(true).as_deref() == Some(expected.as_str())
    });
    // Nothing arrives after: the equality holds with the source still unchanged.
    assert_eq!(target_rows(true).as_deref(), Some(source_rows().as_str()));
}

#[test]
fn cdc_into_a_second_postgres_keeps_the_table_equal_through_a_sigkill_and_a_new_column() {
    let source = PostgresServer::start();
    let target = PostgresServer::start();
    let url = format!("jdbc:postgresql://127.0.0.1:{}/weir", target.port());
    let envs = [("TARGET_URL", url.as_str()), ("TARGET_USER", "postgres")];
    let rows = |tier| target.try_psql(&pg_rows(tier)).ok();
    cdc_journey(&source, &envs, &rows);
    assert_eq!(
        target.psql(
            "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) \
             FROM information_schema.columns WHERE table_name = 'customers'"
        ),
        "id integer, name text, balance numeric, born date, seen timestamp without time zone, \
         vip boolean, doc jsonb, tier text"
    );
}

#[test]
fn cdc_into_mariadb_keeps_the_table_equal_through_a_sigkill_and_a_new_column() {
    let source = PostgresServer::start();
    let target = MariaDbServer::start();
    let url = target.jdbc_url();
    let envs = [
        ("TARGET_URL", url.as_str()),
        ("TARGET_USER", "weir"),
        ("TARGET_PASSWORD", "weir"),
    ];
    let rows = |tier: bool| {
        let columns = target.sql(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'weir' AND \
             TABLE_NAME = 'customers'",
        );
        let wanted = if tier { 8 } else { 7 };
        (columns.parse::<u32>().unwrap_or(0) >= wanted).then(|| target.sql(&mariadb_rows(tier)))
    };
    cdc_journey(&source, &envs, &rows);
}

#[test]
fn schema_envelope_records_make_a_typed_table_and_bad_records_go_to_the_dead_letter_topic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let pg = PostgresServer::start();
    create_topic(&broker.bootstrap, "orders", 1, &[]);
    // Created up front so that its watermarks can be read before the first failure.
    create_topic(&broker.bootstrap, "orders-dlq", 1, &[]);
    let pipeline = dir.path().join("orders.yaml");
    fs::write(
        &pipeline,
        format!(
            r#"name: orders
sink:
  connector: io.confluent.connect.jdbc.JdbcSinkConnector
  topics: [orders]
  connection.url: jdbc:postgresql://127.0.0.1:{port}/weir?user=postgres
  insert.mode: upsert
  pk.mode: record_key
  pk.fields: order_id
  delete.enabled: true
  auto.create: true
  converters:
    key: string
    value: {{type: json, schemas.enable: true}}
  errors:
    tolerance: all
    deadletterqueue.topic.name: orders-dlq
    deadletterqueue.context.headers.enable: true
"#,
            port = pg.port()
        ),
    )
    .expect("write pipeline");
    let schema = json!({"type": "struct", "optional": false, "fields": [
        {"field": "qty", "type": "int16", "optional": false},
        {"field": "total", "type": "bytes", "optional": true,
         "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}},
        {"field": "day", "type": "int32", "optional": true, "name": "org.apache.kafka.connect.data.Date"}]});
    let good = |qty: i64, total: &str, day: i64| {
        json!({"schema": schema, "payload": {"qty": qty, "total": total, "day": day}}).to_string()
    };
    let records: Vec<(&str, Option<String>)> = vec![
        ("a", Some(good(1, "AOE=", 19_000))),
        ("b", Some("this is not json".to_string())),
        ("c", Some(r#"{"qty": 3}"#.to_string())),
        (
            "d",
            Some(json!({"schema": schema, "payload": {"qty": "many"}}).to_string()),
        ),
        ("e", Some(good(5, "AQA=", 0))),
        ("a", Some(good(6, "Ag==", 19_001))),
        ("e", None),
    ];
    let producer: BaseProducer = support::client_config(&broker.bootstrap)
        .create()
        .expect("producer");
    for (key, value) in &records {
        let mut record = BaseRecord::to("orders").key(*key);
        if let Some(value) = value {
            record = record.payload(value.as_str());
        }
        producer.send(record).expect("produce");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let connect = ConnectProcess::run(&broker.bootstrap, &pipeline, &[]);
    wait_with_log(
        &connect,
        "the three bad records in the dead-letter topic",
        || {
            support::watermarks(&broker.bootstrap, "orders-dlq", 1)
                .get(&0)
                .is_some_and(|(_, high)| *high == 3)
        },
    );
    let dead = &read_all(&broker.bootstrap, "orders-dlq", 1)[&0];
    let keys: Vec<&[u8]> = dead.iter().map(|m| m.key().unwrap_or_default()).collect();
    assert_eq!(keys, [&b"b"[..], b"c", b"d"]);
    wait_with_log(&connect, "the good rows in the table", || {
        pg.try_psql("SELECT order_id, qty, total, day FROM orders ORDER BY order_id")
            .is_ok_and(|rows| rows == "a|6|0.02|2022-01-09")
    });
    assert_eq!(
        pg.psql(
            "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) \
             FROM information_schema.columns WHERE table_name = 'orders'"
        ),
        "order_id text, qty smallint, total numeric, day date",
        "typed by the schema the JSON converter kept"
    );
    // The runtime's metrics count the sink's records: 5 reached it, 1 of them failed.
    wait_with_log(&connect, "the sink's records in the metrics", || {
        support::Http::new(&connect.address)
            .get("/metrics")
            .text
            .contains(
            "weir_connect_records_out_total{connector=\"orders-sink\",task=\"0\",type=\"sink\"} 4",
        )
    });
}

#[test]
fn wrong_credentials_fail_the_task_with_a_clear_error_in_its_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let mut pg = PostgresServer::start();
    pg.psql("CREATE ROLE app LOGIN PASSWORD 'right'");
    pg.require_password("app");
    create_topic(&broker.bootstrap, "orders", 1, &[]);
    let pipeline = dir.path().join("orders.yaml");
    fs::write(
        &pipeline,
        format!(
            "name: orders\nsink:\n  connector: jdbc-sink\n  topics: [orders]\n  \
             connection.url: jdbc:postgresql://127.0.0.1:{}/weir\n  connection.username: app\n  \
             connection.password: ${{env:TARGET_PASSWORD}}\n",
            pg.port()
        ),
    )
    .expect("write pipeline");
    let connect = ConnectProcess::run(
        &broker.bootstrap,
        &pipeline,
        &[("TARGET_PASSWORD", "not-the-password")],
    );
    let http = support::Http::new(&connect.address);
    let mut trace = String::new();
    wait_with_log(&connect, "the sink task to fail", || {
        let status = http.get("/connectors/orders-sink/status");
        if status.status != 200 || status.body["tasks"][0]["state"] != "FAILED" {
            return false;
        }
        trace = status.body["tasks"][0]["trace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        true
    });
    assert!(
        trace.contains("cannot log in to PostgreSQL at 127.0.0.1")
            && trace.contains("check connection.username and connection.password"),
        "{trace}"
    );
    assert!(!trace.contains("not-the-password"), "{trace}");
}
