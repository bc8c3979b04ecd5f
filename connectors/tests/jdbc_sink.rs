//! The database sink against real servers: a PostgreSQL and a MariaDB started per
//! test on free ports. Records go through the sink task as a worker makes it (found by
//! class name, config parsed and validated); the tables are read back with the
//! servers' own clients.

#[path = "support/mariadb_server.rs"]
mod mariadb_server;
#[path = "support/postgres_server.rs"]
mod postgres_server;

use mariadb_server::MariaDbServer;
use postgres_server::PostgresServer;
use serde_json::{json, Value};
use weir_connect::config::ConfigMap;
use weir_connect::converter::base64;
use weir_connect::{
    ConnectError, Data, ErrorDomain, Record, RecordFailure, Schema, Sink, SinkContext, SinkRecord,
    Task,
};

const TOPIC: &str = "shop.public.customers";

/// A sink task made the way a worker makes one.
async fn sink(class: &str, pairs: &[(&str, &str)]) -> Result<Box<dyn Sink>, ConnectError> {
    let plugins = weir_connectors::plugins();
    let plugin = plugins.find(class).expect("the database sink plugin");
    let props: ConfigMap = weir_connect::config::config_map(pairs);
    let parsed = plugin.config_def().parse(&props).expect("a valid config");
    assert_eq!(plugin.validate(&parsed), []);
    let Task::Sink(mut sink) = plugin.create_task(&parsed)? else {
        panic!("the database sink made a source task");
    };
    sink.open(SinkContext::default()).await?;
    Ok(sink)
}

async fn write(sink: &mut Box<dyn Sink>, records: &[SinkRecord]) -> Vec<usize> {
    let failures = sink
        .write(records)
        .await
        .unwrap_or_else(|e| panic!("{}", e.chain()));
    sink.flush().await.unwrap();
    indexes(&failures)
}

fn indexes(failures: &[RecordFailure]) -> Vec<usize> {
    failures.iter().map(|f| f.index).collect()
}

fn sink_record(offset: i64, key: Data, value: Data) -> SinkRecord {
    let mut record = Record::new(TOPIC, value);
    record.key = key;
    SinkRecord {
        record,
        origin_topic: TOPIC.into(),
        origin_partition: 0,
        offset,
    }
}

/// The Connect schema of the `customers` rows as the CDC source describes them.
fn row_schema() -> Value {
    json!({"type": "struct", "optional": true, "name": "shop.public.customers.Value", "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "name", "type": "string", "optional": true},
        {"field": "balance", "type": "bytes", "optional": true,
         "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
         "parameters": {"scale": "2", "connect.decimal.precision": "10"}},
        {"field": "born", "type": "int32", "optional": true, "name": "io.debezium.time.Date", "version": 1},
        {"field": "seen", "type": "int64", "optional": true, "name": "io.debezium.time.MicroTimestamp", "version": 1},
        {"field": "vip", "type": "boolean", "optional": true}
    ]})
}

fn key_schema() -> Value {
    json!({"type": "struct", "optional": false, "name": "shop.public.customers.Key",
           "fields": [{"field": "id", "type": "int32", "optional": false}]})
}

/// Debezium's envelope schema around [`row_schema`].
fn envelope_schema() -> Value {
    let mut before = row_schema();
    before["field"] = json!("before");
    let mut after = row_schema();
    after["field"] = json!("after");
    json!({"type": "struct", "optional": false, "name": "shop.public.customers.Envelope", "fields": [
        before, after,
        {"field": "source", "type": "struct", "optional": false, "name": "io.debezium.connector.postgresql.Source",
         "fields": [{"field": "schema", "type": "string", "optional": false},
                    {"field": "table", "type": "string", "optional": false}]},
        {"field": "op", "type": "string", "optional": false},
        {"field": "ts_ms", "type": "int64", "optional": true}
    ]})
}

/// Cents as Connect's Decimal bytes: the unscaled value, two's complement big-endian.
fn cents(value: i64) -> Value {
    let bytes = value.to_be_bytes();
    let skip = bytes
        .windows(2)
        .take_while(|w| (w[0] == 0 && w[1] & 0x80 == 0) || (w[0] == 0xff && w[1] & 0x80 != 0))
        .count();
    json!(base64(&bytes[skip..]))
}

fn customer(id: i32, name: &str, balance_cents: i64) -> Value {
    json!({"id": id, "name": name, "balance": cents(balance_cents), "born": 17109 + id,
           "seen": 1_704_157_445_600_000_i64 + i64::from(id) * 1_000_000, "vip": id % 2 == 0})
}

/// A change event as the PostgreSQL CDC source writes it, with its schemas as the
/// JSON converter with `schemas.enable=true` hands them to the sink.
fn event(offset: i64, op: &str, id: i32, after: Option<Value>) -> SinkRecord {
    let before = match op {
        "d" => {
            json!({"id": id, "name": null, "balance": null, "born": null, "seen": null, "vip": null})
        }
        _ => Value::Null,
    };
    let value = json!({"before": before, "after": after.unwrap_or(Value::Null),
        "source": {"version": "weir-0.1.0", "connector": "postgresql", "name": "shop",
                   "db": "shop", "schema": "public", "table": "customers"},
        "op": op, "ts_ms": 1_764_763_200_130_i64});
    let mut record = sink_record(offset, Data::Json(json!({"id": id})), Data::Json(value));
    record.record.key_schema = Some(Schema::new(key_schema()));
    record.record.value_schema = Some(Schema::new(envelope_schema()));
    record
}

fn tombstone(offset: i64, id: i32) -> SinkRecord {
    let mut record = sink_record(offset, Data::Json(json!({"id": id})), Data::Null);
    record.record.key_schema = Some(Schema::new(key_schema()));
    record
}

/// The changes of a small CDC workload, and the rows the source table ends with.
fn workload() -> (Vec<SinkRecord>, Vec<SinkRecord>) {
    let first = vec![
        event(0, "r", 1, Some(customer(1, "Ann", 1250))),
        event(1, "r", 2, Some(customer(2, "Bob", -5))),
        event(2, "c", 3, Some(customer(3, "Cid", 0))),
        event(3, "u", 1, Some(customer(1, "Ann B.", 99_999))),
        event(4, "c", 4, Some(customer(4, "Dee", 100))),
    ];
    let second = vec![
        event(5, "d", 2, None),
        tombstone(6, 2),
        event(7, "u", 3, Some(customer(3, "Cid", 7))),
        // Deleted and created again within one batch.
        event(8, "d", 4, None),
        tombstone(9, 4),
        event(10, "c", 4, Some(customer(4, "Dee again", 1))),
        event(11, "c", 5, Some(customer(5, "Eve", 2))),
        event(12, "d", 5, None),
        tombstone(13, 5),
    ];
    (first, second)
}

fn cdc_config(url: &str) -> Vec<(&str, &str)> {
    vec![
        ("connection.url", url),
        ("insert.mode", "upsert"),
        ("primary.key.mode", "record_key"),
        ("delete.enabled", "true"),
        ("table.name.format", "${source.table}"),
        ("schema.evolution", "basic"),
    ]
}

#[tokio::test]
async fn debezium_events_into_postgres_leave_the_source_rows_and_replay_converges() {
    let pg = PostgresServer::start();
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/weir?user=postgres",
        pg.port()
    );
    let mut sink = sink(
        "io.debezium.connector.jdbc.JdbcSinkConnector",
        &cdc_config(&url),
    )
    .await
    .unwrap();
    let (first, second) = workload();
    assert_eq!(write(&mut sink, &first).await, Vec::<usize>::new());
    assert_eq!(write(&mut sink, &second).await, Vec::<usize>::new());
    let expected = "1|Ann B.|999.99|2016-11-05|2024-01-02 01:04:06.6|f\n\
                    3|Cid|0.07|2016-11-07|2024-01-02 01:04:08.6|f\n\
                    4|Dee again|0.01|2016-11-08|2024-01-02 01:04:09.6|t";
    let rows = || pg.psql("SELECT id, name, balance, born, seen, vip FROM customers ORDER BY id");
    assert_eq!(rows(), expected);
    let types = pg.psql(
        "SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM \
         information_schema.columns WHERE table_name = 'customers' ORDER BY ordinal_position",
    );
    assert_eq!(
        types,
        "id integer NO\nname text YES\nbalance numeric YES\nborn date YES\n\
         seen timestamp without time zone YES\nvip boolean YES"
    );
    assert_eq!(
        pg.psql(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns \
                 WHERE table_name = 'customers' AND column_name = 'balance'"
        ),
        "10|2"
    );
    // A crash before the offsets were committed: the runtime sends it all again.
    assert_eq!(write(&mut sink, &first).await, Vec::<usize>::new());
    assert_eq!(write(&mut sink, &second).await, Vec::<usize>::new());
    assert_eq!(rows(), expected, "a replay converges to the same rows");
    // Each batch as one, and record by record: the same rows.
    let all: Vec<SinkRecord> = first.iter().chain(&second).cloned().collect();
    pg.psql("TRUNCATE customers");
    assert_eq!(write(&mut sink, &all).await, Vec::<usize>::new());
    assert_eq!(rows(), expected);
    pg.psql("TRUNCATE customers");
    for record in &all {
        write(&mut sink, std::slice::from_ref(record)).await;
    }
    assert_eq!(rows(), expected);
}

#[tokio::test]
async fn debezium_events_into_mariadb_leave_the_source_rows() {
    let db = MariaDbServer::start();
    let url = db.jdbc_url();
    let mut pairs = cdc_config(&url);
    pairs.extend([
        ("connection.username", "weir"),
        ("connection.password", "weir"),
    ]);
    let mut sink = sink("io.confluent.connect.jdbc.JdbcSinkConnector", &pairs)
        .await
        .unwrap();
    let (first, second) = workload();
    assert_eq!(write(&mut sink, &first).await, Vec::<usize>::new());
    assert_eq!(write(&mut sink, &second).await, Vec::<usize>::new());
    let expected = "1\tAnn B.\t999.99\t2016-11-05\t2024-01-02 01:04:06.600000\t0\n\
                    3\tCid\t0.07\t2016-11-07\t2024-01-02 01:04:08.600000\t0\n\
                    4\tDee again\t0.01\t2016-11-08\t2024-01-02 01:04:09.600000\t1";
    let rows = || db.sql("SELECT id, name, balance, born, seen, vip FROM customers ORDER BY id");
    assert_eq!(rows(), expected);
    assert_eq!(
        db.sql(
            "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_KEY FROM information_schema.COLUMNS \
                WHERE TABLE_SCHEMA = 'weir' AND TABLE_NAME = 'customers' ORDER BY ORDINAL_POSITION"
        ),
        "id\tint(11)\tPRI\nname\tlongtext\t\nbalance\tdecimal(10,2)\t\nborn\tdate\t\n\
         seen\tdatetime(6)\t\nvip\ttinyint(1)\t"
    );
    write(&mut sink, &first).await;
    write(&mut sink, &second).await;
    assert_eq!(rows(), expected, "a replay converges to the same rows");
}

/// A plain JSON record with Kafka Connect's schema, as the JSON converter reads it.
fn plain(offset: i64, key: &str, value: Value, schema: Option<Value>) -> SinkRecord {
    let mut record = sink_record(offset, Data::Json(json!(key)), Data::Json(value));
    record.record.value_schema = schema.map(Schema::new);
    record
}

fn order_schema(extra: Option<Value>) -> Value {
    let mut fields = vec![
        json!({"field": "qty", "type": "int16", "optional": false}),
        json!({"field": "price", "type": "float64", "optional": true}),
        json!({"field": "note", "type": "string", "optional": true}),
    ];
    fields.extend(extra);
    json!({"type": "struct", "optional": false, "fields": fields})
}

#[tokio::test]
async fn schema_envelope_records_create_a_typed_table_upsert_by_key_and_delete_on_tombstones() {
    let pg = PostgresServer::start();
    let url = format!("postgres://postgres@127.0.0.1:{}/weir", pg.port());
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("insert.mode", "upsert"),
            ("primary.key.mode", "record_key"),
            ("primary.key.fields", "order_id"),
            ("delete.enabled", "true"),
            ("table.name.format", "orders"),
            ("auto.create", "true"),
            ("auto.evolve", "true"),
        ],
    )
    .await
    .unwrap();
    let schema = Some(order_schema(None));
    let failed = write(
        &mut sink,
        &[
            plain(
                0,
                "a",
                json!({"qty": 1, "price": 2.5, "note": "first"}),
                schema.clone(),
            ),
            plain(
                1,
                "b",
                json!({"qty": 2, "price": null, "note": "b"}),
                schema.clone(),
            ),
            plain(
                2,
                "a",
                json!({"qty": 3, "price": 2.5, "note": "second"}),
                schema.clone(),
            ),
        ],
    )
    .await;
    assert_eq!(failed, Vec::<usize>::new());
    assert_eq!(
        pg.psql("SELECT order_id, qty, price, note FROM orders ORDER BY order_id"),
        "a|3|2.5|second\nb|2||b"
    );
    assert_eq!(
        pg.psql(
            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) \
                 FROM information_schema.columns WHERE table_name = 'orders'"
        ),
        "order_id:text,qty:smallint,price:double precision,note:text"
    );
    // A new field: the table gets the column; the tombstone deletes b.
    let wider = Some(order_schema(Some(
        json!({"field": "shipped", "type": "int32", "optional": true, "name": "org.apache.kafka.connect.data.Date"}),
    )));
    let mut gone = sink_record(4, Data::Json(json!("b")), Data::Null);
    gone.record.topic = "orders".into();
    write(
        &mut sink,
        &[
            plain(
                3,
                "c",
                json!({"qty": 4, "price": 1.0, "note": null, "shipped": 0}),
                wider,
            ),
            gone,
        ],
    )
    .await;
    assert_eq!(
        pg.psql("SELECT order_id, qty, shipped FROM orders ORDER BY order_id"),
        "a|3|\nc|4|1970-01-01"
    );
    assert_eq!(
        pg.psql(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' \
                 AND column_name = 'shipped'"
        ),
        "date"
    );
}

#[tokio::test]
async fn schemaless_json_infers_column_types_and_evolves_in_mariadb() {
    let db = MariaDbServer::start();
    let url = format!("mysql://weir:weir@127.0.0.1:{}/weir", db.port());
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("insert.mode", "upsert"),
            ("primary.key.mode", "record_value"),
            ("primary.key.fields", "id"),
            ("table.name.format", "events"),
            ("schema.evolution", "basic"),
        ],
    )
    .await
    .unwrap();
    write(
        &mut sink,
        &[plain(
            0,
            "k",
            json!({"id": 1, "level": "warn", "n": 1.5, "tags": ["a"]}),
            None,
        )],
    )
    .await;
    write(
        &mut sink,
        &[
            plain(
                1,
                "k",
                json!({"id": 1, "level": "error", "n": 2, "ok": true}),
                None,
            ),
            plain(2, "k", json!({"id": 2, "level": "info"}), None),
        ],
    )
    .await;
    assert_eq!(
        db.sql("SELECT id, level, n, tags, ok FROM events ORDER BY id"),
        "1\terror\t2\t[\"a\"]\t1\n2\tinfo\tNULL\tNULL\tNULL"
    );
    assert_eq!(
        db.sql(
            "SELECT GROUP_CONCAT(COLUMN_NAME, ':', DATA_TYPE ORDER BY ORDINAL_POSITION) FROM \
                information_schema.COLUMNS WHERE TABLE_SCHEMA = 'weir' AND TABLE_NAME = 'events'"
        ),
        "id:bigint,level:longtext,n:double,tags:longtext,ok:tinyint"
    );
}

#[tokio::test]
async fn records_that_are_no_rows_fail_alone_and_the_rest_is_written() {
    let pg = PostgresServer::start();
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/weir?user=postgres",
        pg.port()
    );
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("insert.mode", "upsert"),
            ("primary.key.mode", "record_key"),
            ("primary.key.fields", "id"),
            ("auto.create", "true"),
            ("table.name.format", "t"),
        ],
    )
    .await
    .unwrap();
    let schema = Some(json!({"type": "struct", "fields": [{"field": "n", "type": "int32"}]}));
    let mut not_json = plain(1, "b", json!({}), None);
    not_json.record.value = Data::Bytes(bytes::Bytes::from_static(b"\x00\x01"));
    let mut no_key = plain(2, "c", json!({"n": 3}), None);
    no_key.record.key = Data::Null;
    let records = [
        plain(0, "a", json!({"n": 1}), schema.clone()),
        not_json,
        no_key,
        plain(3, "d", json!({"n": "four"}), schema.clone()),
        plain(4, "e", json!({"n": 5}), schema),
    ];
    let failures = sink.write(&records).await.unwrap();
    assert_eq!(indexes(&failures), [1, 2, 3]);
    for failure in &failures {
        assert_eq!(failure.error.domain(), ErrorDomain::User);
        assert!(!failure.error.is_retryable());
    }
    assert!(
        failures[1].error.to_string().contains("has no key"),
        "{}",
        failures[1].error
    );
    assert!(
        failures[2]
            .error
            .to_string()
            .contains("field 'n': expected int32"),
        "{}",
        failures[2].error
    );
    assert_eq!(pg.psql("SELECT id, n FROM t ORDER BY id"), "a|1\ne|5");
}

#[tokio::test]
async fn a_table_the_database_refuses_fails_the_batch_naming_table_and_column() {
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE accounts (id text PRIMARY KEY, balance integer); \
         CREATE TABLE locked (id text PRIMARY KEY, v text); \
         CREATE ROLE app LOGIN; GRANT SELECT ON accounts, locked TO app; \
         GRANT UPDATE, INSERT ON accounts TO app",
    );
    let url = format!("jdbc:postgresql://127.0.0.1:{}/weir?user=app", pg.port());
    let config = |table: &'static str| {
        vec![
            ("connection.url", url.clone()),
            ("insert.mode", "upsert".to_string()),
            ("primary.key.mode", "record_key".to_string()),
            ("primary.key.fields", "id".to_string()),
            ("table.name.format", table.to_string()),
        ]
    };
    let pairs = config("accounts");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut task = sink("jdbc-sink", &pairs).await.unwrap();
    // Schemaless text where the table has an integer column.
    let err = task
        .write(&[
            plain(0, "a", json!({"balance": 5}), None),
            plain(1, "b", json!({"balance": "lots"}), None),
        ])
        .await
        .unwrap_err();
    let text = err.chain();
    assert_eq!(err.domain(), ErrorDomain::User, "{text}");
    assert!(!err.is_retryable(), "{text}");
    for part in [
        "table accounts",
        "column balance",
        "invalid input syntax",
        "hint:",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM accounts"),
        "0",
        "nothing of the batch applied"
    );

    let pairs = config("locked");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut task = sink("jdbc-sink", &pairs).await.unwrap();
    let err = task
        .write(&[plain(0, "a", json!({"v": "x"}), None)])
        .await
        .unwrap_err();
    let text = err.chain();
    assert!(!err.is_retryable(), "{text}");
    assert!(
        text.contains("table locked") && text.contains("permission denied"),
        "{text}"
    );
    assert!(text.contains("check the user's rights"), "{text}");

    // A missing table without auto.create says how to get one.
    let pairs = config("missing");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut task = sink("jdbc-sink", &pairs).await.unwrap();
    let err = task
        .write(&[plain(0, "a", json!({"v": "x"}), None)])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("table missing does not exist"),
        "{err}"
    );
    assert!(err.to_string().contains("auto.create"), "{err}");
}

#[tokio::test]
async fn wrong_credentials_fail_at_open_with_a_clear_error() {
    let mut pg = PostgresServer::start();
    pg.psql("CREATE ROLE app LOGIN PASSWORD 'right'");
    pg.require_password("app");
    let url = format!("jdbc:postgresql://127.0.0.1:{}/weir", pg.port());
    let err = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("connection.username", "app"),
            ("connection.password", "wrong"),
        ],
    )
    .await
    .unwrap_err();
    let text = err.chain();
    assert_eq!(err.domain(), ErrorDomain::User, "{text}");
    assert!(!err.is_retryable(), "{text}");
    assert!(text.contains("connection.password"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", pg.port())), "{text}");
    assert!(!text.contains("wrong"), "the password is not shown: {text}");

    let db = MariaDbServer::start();
    let err = sink(
        "jdbc-sink",
        &[
            ("connection.url", &db.jdbc_url()),
            ("connection.username", "weir"),
            ("connection.password", "nope"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.domain(), ErrorDomain::User, "{}", err.chain());
    assert!(err.to_string().contains("refused the credentials"), "{err}");
}

#[tokio::test]
async fn a_dead_database_is_retried_then_fails_the_task_naming_the_host() {
    let mut db = MariaDbServer::start();
    let url = db.jdbc_url();
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("connection.username", "weir"),
            ("connection.password", "weir"),
            ("auto.create", "true"),
            ("max.retries", "2"),
            ("retry.backoff.ms", "10"),
            ("table.name.format", "t"),
        ],
    )
    .await
    .unwrap();
    write(&mut sink, &[plain(0, "a", json!({"v": 1}), None)]).await;
    db.kill();
    let err = sink
        .write(&[plain(1, "b", json!({"v": 2}), None)])
        .await
        .unwrap_err();
    let text = err.chain();
    assert_eq!(err.domain(), ErrorDomain::External, "{text}");
    assert!(!err.is_retryable(), "max.retries spent: {text}");
    assert!(text.contains(&format!("127.0.0.1:{}", db.port())), "{text}");
    assert!(text.contains("after 2 retries"), "{text}");
}

#[tokio::test]
async fn insert_mode_replaces_a_row_deleted_and_inserted_in_one_batch() {
    let pg = PostgresServer::start();
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/weir?user=postgres",
        pg.port()
    );
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("primary.key.mode", "record_key"),
            ("primary.key.fields", "id"),
            ("delete.enabled", "true"),
            ("auto.create", "true"),
            ("table.name.format", "t"),
        ],
    )
    .await
    .unwrap();
    write(&mut sink, &[plain(0, "a", json!({"v": 1}), None)]).await;
    let mut delete = plain(1, "a", json!({}), None);
    delete.record.value = Data::Null;
    write(&mut sink, &[delete, plain(2, "a", json!({"v": 2}), None)]).await;
    assert_eq!(pg.psql("SELECT id, v FROM t"), "a|2");
}

#[test]
fn unknown_keys_are_refused_with_a_hint_and_the_password_never_shown() {
    let props = weir_connect::config::config_map(&[
        ("name", "replica"),
        (
            "connector.class",
            "io.confluent.connect.jdbc.JdbcSinkConnector",
        ),
        ("topics", "orders"),
        (
            "connection.url",
            "jdbc:postgresql://127.0.0.1/db?password=s3cret",
        ),
        ("insert.mod", "upsert"),
        ("primary.key.mode", "record_key"),
    ]);
    let issues: Vec<String> =
        weir_connect::config::ConnectorConfig::parse(&weir_connectors::plugins(), &props)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(
        issues,
        ["insert.mod: Unknown configuration 'insert.mod' (hint: did you mean 'insert.mode'?)"]
    );
}

/// `insert.mode=update` changes rows that exist and creates none, in both dialects.
async fn update_mode_changes_existing_rows_only(url: &str, extra: &[(&str, &str)]) {
    let mut pairs = vec![
        ("connection.url", url),
        ("insert.mode", "update"),
        ("primary.key.mode", "record_key"),
        ("primary.key.fields", "id"),
        ("table.name.format", "stock"),
    ];
    pairs.extend_from_slice(extra);
    let mut sink = sink("jdbc-sink", &pairs).await.unwrap();
    write(
        &mut sink,
        &[
            plain(0, "a", json!({"qty": 5, "note": "restocked"}), None),
            plain(1, "zz", json!({"qty": 9, "note": "unknown item"}), None),
            plain(2, "b", json!({"qty": 0, "note": null}), None),
        ],
    )
    .await;
}

#[tokio::test]
async fn update_mode_changes_existing_rows_only_in_postgres_and_mariadb() {
    let pg = PostgresServer::start();
    pg.psql(
        "CREATE TABLE stock (id text PRIMARY KEY, qty integer, note text); \
         INSERT INTO stock VALUES ('a', 1, 'x'), ('b', 2, 'y'), ('c', 3, 'z')",
    );
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/weir?user=postgres",
        pg.port()
    );
    update_mode_changes_existing_rows_only(&url, &[]).await;
    assert_eq!(
        pg.psql("SELECT id, qty, note FROM stock ORDER BY id"),
        "a|5|restocked\nb|0|\nc|3|z"
    );

    let db = MariaDbServer::start();
    db.sql(
        "CREATE TABLE stock (id VARCHAR(10) PRIMARY KEY, qty INT, note TEXT); \
         INSERT INTO stock VALUES ('a', 1, 'x'), ('b', 2, 'y'), ('c', 3, 'z')",
    );
    update_mode_changes_existing_rows_only(
        &db.jdbc_url(),
        &[
            ("connection.username", "weir"),
            ("connection.password", "weir"),
        ],
    )
    .await;
    assert_eq!(
        db.sql("SELECT id, qty, note FROM stock ORDER BY id"),
        "a\t5\trestocked\nb\t0\tNULL\nc\t3\tz"
    );
}

#[tokio::test]
async fn mariadb_refusing_a_value_fails_the_batch_naming_table_and_column() {
    let db = MariaDbServer::start();
    db.sql("CREATE TABLE accounts (id VARCHAR(10) PRIMARY KEY, balance INT)");
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &db.jdbc_url()),
            ("connection.username", "weir"),
            ("connection.password", "weir"),
            ("insert.mode", "upsert"),
            ("primary.key.mode", "record_key"),
            ("primary.key.fields", "id"),
            ("table.name.format", "accounts"),
        ],
    )
    .await
    .unwrap();
    let err = sink
        .write(&[
            plain(0, "a", json!({"balance": 5}), None),
            plain(1, "b", json!({"balance": "lots"}), None),
        ])
        .await
        .unwrap_err();
    let text = err.chain();
    assert_eq!(err.domain(), ErrorDomain::User, "{text}");
    assert!(!err.is_retryable(), "{text}");
    for part in ["table accounts", "balance", "lots", "hint:"] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM accounts"),
        "0",
        "nothing of the batch applied"
    );
}

#[tokio::test]
async fn deletes_for_a_table_that_does_not_exist_change_nothing() {
    let pg = PostgresServer::start();
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/weir?user=postgres",
        pg.port()
    );
    let mut sink = sink(
        "jdbc-sink",
        &[
            ("connection.url", &url),
            ("insert.mode", "upsert"),
            ("primary.key.mode", "record_key"),
            ("primary.key.fields", "id"),
            ("delete.enabled", "true"),
            ("auto.create", "true"),
            ("table.name.format", "late"),
        ],
    )
    .await
    .unwrap();
    let mut gone = plain(0, "a", json!({}), None);
    gone.record.value = Data::Null;
    assert_eq!(write(&mut sink, &[gone]).await, Vec::<usize>::new());
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'late'"),
        "0"
    );
    // The first row then creates it with its columns.
    write(&mut sink, &[plain(1, "b", json!({"v": "x"}), None)]).await;
    assert_eq!(pg.psql("SELECT id, v FROM late"), "b|x");
}
