//! End-to-end: Kafka Connect's REST API on `weir connect worker` processes sharing a
//! group, against a broker process and a real redis-server.

mod support;

use std::fs;
use std::time::Duration;

use serde_json::{json, Value};
use support::{create_topic, wait_until, BrokerProcess, ConnectProcess, Http, RedisServer};

fn file_source(dir: &std::path::Path, topic: &str) -> Value {
    json!({
        "connector.class": "file-source",
        "topic": topic,
        "file.paths": format!("{}/*.log", dir.display()),
        "value.converter": "string",
    })
}

fn state(http: &Http, name: &str) -> Option<(String, Vec<(String, String)>)> {
    let response = http.get(&format!("/connectors/{name}/status"));
    if response.status != 200 {
        return None;
    }
    let body = response.body;
    let connector = body["connector"]["state"].as_str()?.to_string();
    let tasks = body["tasks"]
        .as_array()?
        .iter()
        .map(|t| {
            (
                t["state"].as_str().unwrap_or("").to_string(),
                t["worker_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    Some((connector, tasks))
}

/// The end of partition 0 of `topic`; -1 while it does not exist yet.
fn high_watermark(bootstrap: &str, topic: &str) -> i64 {
    use rdkafka::consumer::Consumer;
    support::consumer(bootstrap)
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .map_or(-1, |(_, high)| high)
}

fn all_tasks_in(http: &Http, name: &str, wanted: &str, count: usize) -> bool {
    state(http, name)
        .is_some_and(|(_, tasks)| tasks.len() == count && tasks.iter().all(|(s, _)| s == wanted))
}

#[test]
fn rest_api_manages_connectors_with_kafka_connect_status_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    fs::write(logs.join("app.log"), "one\ntwo\nthree\n").expect("log file");
    let mut worker = ConnectProcess::worker(&broker.bootstrap, "rest-test");
    let http = Http::new(&worker.address);

    let root = http.get("/");
    assert_eq!(root.status, 200);
    assert!(root.body["kafka_cluster_id"].is_string(), "{}", root.text);
    assert_eq!(http.get("/connectors").body, json!([]));

    // Create; a second create is a conflict.
    let created = http.post(
        "/connectors",
        &json!({"name": "logs", "config": file_source(&logs, "app")}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["name"], "logs");
    assert_eq!(created.body["type"], "source");
    // Its status names the worker from the start, never UNASSIGNED with no worker.
    let first = http.get("/connectors/logs/status");
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["connector"]["worker_id"], json!(worker.address));
    assert_ne!(
        first.body["connector"]["state"], "UNASSIGNED",
        "{}",
        first.text
    );
    for task in first.body["tasks"].as_array().expect("tasks") {
        assert_eq!(task["worker_id"], json!(worker.address), "{}", first.text);
    }
    let again = http.post(
        "/connectors",
        &json!({"name": "logs", "config": file_source(&logs, "app")}),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.body["error_code"], 409);

    // Created STOPPED (KIP-980), a connector never runs: no task, nothing written.
    let held_logs = dir.path().join("held");
    fs::create_dir(&held_logs).expect("held dir");
    fs::write(held_logs.join("held.log"), "held\n").expect("log file");
    let held = file_source(&held_logs, "held");
    let created = http.post(
        "/connectors",
        &json!({"name": "held", "config": held, "initial_state": "STOPPED"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let status = http.get("/connectors/held/status");
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(
        status.body["connector"]["state"], "STOPPED",
        "{}",
        status.text
    );
    assert_eq!(status.body["tasks"], json!([]), "{}", status.text);
    assert_eq!(http.delete("/connectors/held").status, 204);

    // Unknown connector: 404 with Kafka Connect's error body.
    let missing = http.get("/connectors/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error_code"], 404);
    assert!(
        missing.body["message"].as_str().unwrap().contains("nope"),
        "{}",
        missing.text
    );

    // A bad config: 400 listing every problem, with a hint for the typo.
    let mut bad = file_source(&logs, "app");
    bad["file.pathz"] = json!("/tmp/*.log");
    bad["tasks.max"] = json!("many");
    let rejected = http.put("/connectors/broken/config", &bad);
    assert_eq!(rejected.status, 400, "{}", rejected.text);
    let message = rejected.body["message"].as_str().unwrap().to_string();
    assert!(message.contains("file.pathz"), "{message}");
    assert!(message.contains("tasks.max"), "{message}");
    assert_eq!(
        http.get("/connectors/broken").status,
        404,
        "a rejected config is not stored"
    );

    // The validate endpoint answers 200 with the error count.
    let validated = http.put("/connector-plugins/file-source/config/validate", &bad);
    assert_eq!(validated.status, 200, "{}", validated.text);
    assert!(
        validated.body["error_count"].as_u64().unwrap() >= 2,
        "{}",
        validated.text
    );
    let plugins = http.get("/connector-plugins").body;
    let classes: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"io.weir.connect.file.FileSourceConnector"),
        "{plugins}"
    );
    assert!(
        classes.contains(&"io.weir.connect.redis.RedisSinkConnector"),
        "{plugins}"
    );

    // It runs: the lines reach the topic, and status says RUNNING on this worker.
    wait_until("logs to be RUNNING", || {
        all_tasks_in(&http, "logs", "RUNNING", 1)
    });
    wait_until("three records in app", || {
        high_watermark(&broker.bootstrap, "app") == 3
    });
    let tasks = http.get("/connectors/logs/tasks");
    assert_eq!(tasks.status, 200);
    assert_eq!(tasks.body[0]["id"], json!({"connector": "logs", "task": 0}));
    assert_eq!(
        http.get("/connectors/logs/tasks/0/status").body["state"],
        "RUNNING"
    );
    assert_eq!(http.get("/connectors/logs/tasks/7/status").status, 404);

    // Pause and resume.
    assert_eq!(http.put("/connectors/logs/pause", &Value::Null).status, 202);
    wait_until("logs to be PAUSED", || {
        state(&http, "logs").is_some_and(|(c, _)| c == "PAUSED")
    });
    assert_eq!(
        http.put("/connectors/logs/resume", &Value::Null).status,
        202
    );
    wait_until("logs to run again", || {
        all_tasks_in(&http, "logs", "RUNNING", 1)
    });

    // PATCH (KIP-477) changes named keys and keeps the rest.
    let patched = http.patch(
        "/connectors/logs/config",
        &json!({"batch.max.records": 100}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    let config = http.get("/connectors/logs/config").body;
    assert_eq!(config["batch.max.records"], "100", "{config}");
    assert_eq!(config["topic"], "app", "{config}");
    wait_until("logs RUNNING after the patch", || {
        all_tasks_in(&http, "logs", "RUNNING", 1)
    });

    // Offsets can be read any time but changed only when STOPPED. A source stores
    // its positions shortly after the log acknowledged them (at most a second later).
    let stored = || {
        let offsets = http.get("/connectors/logs/offsets");
        assert_eq!(offsets.status, 200, "{}", offsets.text);
        offsets.body["offsets"].clone()
    };
    wait_until("the file's position to be stored", || {
        stored()
            .as_array()
            .is_some_and(|entries| entries.len() == 1 && entries[0]["offset"]["position"] == 14)
    });
    assert_eq!(
        http.delete("/connectors/logs/offsets").status,
        400,
        "offsets change only when STOPPED"
    );
    assert_eq!(http.put("/connectors/logs/stop", &Value::Null).status, 202);
    wait_until("logs to be STOPPED", || {
        state(&http, "logs").is_some_and(|(c, _)| c == "STOPPED")
    });
    let reset = http.delete("/connectors/logs/offsets");
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(
        http.get("/connectors/logs/offsets").body["offsets"],
        json!([])
    );
    // Resumed after a reset, the source reads the file again from the start.
    assert_eq!(
        http.put("/connectors/logs/resume", &Value::Null).status,
        202
    );
    wait_until("the file read again", || {
        high_watermark(&broker.bootstrap, "app") == 6
    });

    // Restart: 204 for the connector alone, 202 with a status body when tasks are included.
    assert_eq!(
        http.post("/connectors/logs/restart", &Value::Null).status,
        204
    );
    let restarted = http.post(
        "/connectors/logs/restart?includeTasks=true&onlyFailed=false",
        &Value::Null,
    );
    assert_eq!(restarted.status, 202, "{}", restarted.text);
    assert_eq!(restarted.body["name"], "logs");
    assert_eq!(
        http.post("/connectors/logs/tasks/0/restart", &Value::Null)
            .status,
        204
    );

    // Connectors created over REST survive a worker restart (they live in the log).
    worker.terminate();
    let worker = ConnectProcess::worker(&broker.bootstrap, "rest-test");
    let http = Http::new(&worker.address);
    wait_until("logs after the restart", || {
        http.get("/connectors").body == json!(["logs"])
    });
    wait_until("logs RUNNING after the restart", || {
        all_tasks_in(&http, "logs", "RUNNING", 1)
    });

    let deleted = http.delete("/connectors/logs");
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(http.get("/connectors/logs").status, 404);
    assert_eq!(http.delete("/connectors/logs").status, 404);
}

#[test]
fn workers_in_a_group_share_tasks_and_take_over_a_dead_workers_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let redis = RedisServer::start();
    create_topic(&broker.bootstrap, "kv", 4, &[]);
    let mut first = ConnectProcess::worker(&broker.bootstrap, "shared");
    let second = ConnectProcess::worker(&broker.bootstrap, "shared");
    let http = Http::new(&first.address);
    let config = json!({
        "connector.class": "redis-sink",
        "tasks.max": "2",
        "topics": "kv",
        "redis.uri": format!("redis://127.0.0.1:{}", redis.port()),
        "value.converter": "string",
    });
    assert_eq!(http.put("/connectors/kv/config", &config).status, 201);

    // Both workers run one task each.
    wait_until("kv's two tasks on two workers", || {
        state(&http, "kv").is_some_and(|(_, tasks)| {
            let workers: std::collections::BTreeSet<&String> =
                tasks.iter().map(|(_, w)| w).collect();
            tasks.len() == 2 && tasks.iter().all(|(s, _)| s == "RUNNING") && workers.len() == 2
        })
    });
    // Any worker answers for any connector.
    assert_eq!(Http::new(&second.address).get("/connectors/kv").status, 200);

    // The first worker dies; the second takes over its task after the session timeout.
    first.kill9();
    let http = Http::new(&second.address);
    wait_until("both tasks on the surviving worker", || {
        state(&http, "kv").is_some_and(|(_, tasks)| {
            tasks.len() == 2
                && tasks
                    .iter()
                    .all(|(s, w)| s == "RUNNING" && *w == second.address)
        })
    });

    // And the data flows.
    let producer: rdkafka::producer::BaseProducer = support::client_config(&broker.bootstrap)
        .create()
        .expect("producer");
    for i in 0..100 {
        let key = format!("k{i}");
        producer
            .send(
                rdkafka::producer::BaseRecord::to("kv")
                    .key(&key)
                    .payload("v"),
            )
            .expect("produce");
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10)).expect("flush");
    let mut connection = redis.client(None);
    wait_until("100 keys in redis", || {
        redis::cmd("DBSIZE")
            .query::<usize>(&mut connection)
            .expect("DBSIZE")
            == 100
    });
    // Stopped, a sink's tasks leave its consumer group at once: its offsets reset
    // right away, as in Kafka Connect.
    assert_eq!(http.put("/connectors/kv/stop", &Value::Null).status, 202);
    wait_until("kv to be STOPPED", || {
        state(&http, "kv").is_some_and(|(c, _)| c == "STOPPED")
    });
    let reset = http.delete("/connectors/kv/offsets");
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(
        http.get("/connectors/kv/offsets").body["offsets"],
        json!([])
    );

    // A tail reaching the end of a storage topic is routine, never an ERROR line.
    let log = second.log();
    assert!(
        !log.contains("PartitionEOF"),
        "the worker logged partition ends:\n{log}"
    );
}

/// Lines of partition 0 of `topic`, read from the beginning to its end.
fn topic_values(bootstrap: &str, topic: &str) -> Vec<String> {
    use rdkafka::consumer::Consumer;
    use rdkafka::Message;
    let high = high_watermark(bootstrap, topic);
    let consumer = support::consumer(bootstrap);
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let mut values = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (values.len() as i64) < high && std::time::Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            values.push(String::from_utf8_lossy(message.payload().unwrap_or_default()).into());
        }
    }
    values
}

#[test]
fn two_connect_clusters_on_one_broker_run_their_own_connectors_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let (alpha_logs, beta_logs) = (dir.path().join("alpha"), dir.path().join("beta"));
    for (logs, text) in [(&alpha_logs, "a1\na2\n"), (&beta_logs, "b1\nb2\nb3\n")] {
        fs::create_dir(logs).expect("logs dir");
        fs::write(logs.join("app.log"), text).expect("log file");
    }
    // One cluster from a Kafka Connect worker file (named storage topics, worker-wide
    // converter), the other from --group-id alone (topics derived from it).
    let properties = dir.path().join("alpha.properties");
    fs::write(
        &properties,
        "group.id=alpha\n\
         config.storage.topic=alpha-connect-configs\n\
         offset.storage.topic=alpha-connect-offsets\n\
         status.storage.topic=alpha-connect-status\n\
         offset.storage.partitions=3\n\
         value.converter=string\n",
    )
    .expect("worker file");
    let mut alpha = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    let mut beta = ConnectProcess::worker(&broker.bootstrap, "beta");
    let (alpha_http, beta_http) = (Http::new(&alpha.address), Http::new(&beta.address));

    // The same connector name in both clusters, each reading its own files.
    let mut alpha_config = file_source(&alpha_logs, "alpha-out");
    alpha_config
        .as_object_mut()
        .expect("object")
        .remove("value.converter");
    let created = alpha_http.put("/connectors/logs/config", &alpha_config);
    assert_eq!(created.status, 201, "{}", created.text);
    let created = beta_http.put(
        "/connectors/logs/config",
        &file_source(&beta_logs, "beta-out"),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("both files read", || {
        high_watermark(&broker.bootstrap, "alpha-out") == 2
            && high_watermark(&broker.bootstrap, "beta-out") == 3
    });
    for http in [&alpha_http, &beta_http] {
        wait_until("logs RUNNING", || all_tasks_in(http, "logs", "RUNNING", 1));
        assert_eq!(http.get("/connectors").body, json!(["logs"]));
    }
    // Each cluster's connector ran once, on its own worker: no line landed twice, and
    // the string converter came from alpha's worker file.
    assert_eq!(topic_values(&broker.bootstrap, "alpha-out"), ["a1", "a2"]);
    assert_eq!(
        topic_values(&broker.bootstrap, "beta-out"),
        ["b1", "b2", "b3"]
    );
    let alpha_status = alpha_http.get("/connectors/logs/status").body;
    assert_eq!(alpha_status["tasks"][0]["worker_id"], json!(alpha.address));
    let beta_status = beta_http.get("/connectors/logs/status").body;
    assert_eq!(beta_status["tasks"][0]["worker_id"], json!(beta.address));
    // Each cluster keeps its state in its own topics.
    wait_until("alpha's offsets stored", || {
        alpha_http.get("/connectors/logs/offsets").body["offsets"][0]["offset"]["position"] == 6
    });
    wait_until("beta's offsets stored", || {
        beta_http.get("/connectors/logs/offsets").body["offsets"][0]["offset"]["position"] == 9
    });
    for topic in [
        "alpha-connect-configs",
        "alpha-connect-offsets",
        "alpha-connect-status",
        "beta-configs",
        "beta-offsets",
        "beta-status",
    ] {
        assert!(
            high_watermark(&broker.bootstrap, topic) >= 0,
            "topic {topic} was not created"
        );
    }
    beta.terminate();

    // With the cluster gone, a worker still stops at once on SIGTERM: its last status
    // writes are given up rather than waited out.
    broker.kill9();
    let (took, clean) = alpha.terminate_timed();
    let log = alpha.log();
    assert!(clean, "the worker did not exit cleanly:\n{log}");
    assert!(
        log.contains("was not stored before the worker stopped"),
        "the worker did not give up its status writes:\n{log}"
    );
    eprintln!("worker stopped {took:?} after SIGTERM with the broker gone");
}

/// Each task's worker, once every one of `count` tasks of `name` is RUNNING.
fn task_workers(http: &Http, name: &str, count: usize) -> Option<Vec<String>> {
    let (_, tasks) = state(http, name)?;
    (tasks.len() == count && tasks.iter().all(|(s, _)| s == "RUNNING"))
        .then(|| tasks.into_iter().map(|(_, worker)| worker).collect())
}

/// How often `worker`'s log says task `task` of `name` was started or stopped.
fn task_events(worker: &ConnectProcess, name: &str, task: usize) -> usize {
    let started = format!("task started connector={name} task={task}");
    let stopping = format!("stopping task connector={name} task={task} ");
    worker
        .log()
        .lines()
        .filter(|line| line.contains(&started) || line.contains(&stopping))
        .count()
}

#[test]
fn a_joining_or_leaving_worker_moves_only_the_tasks_that_must_move() {
    const TASKS: usize = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let redis = RedisServer::start();
    create_topic(&broker.bootstrap, "moves", 4, &[]);
    let mut workers: Vec<ConnectProcess> = (0..3)
        .map(|_| ConnectProcess::worker(&broker.bootstrap, "movers"))
        .collect();
    let http = Http::new(&workers[0].address);
    let config = json!({
        "connector.class": "redis-sink",
        "tasks.max": TASKS.to_string(),
        "topics": "moves",
        "redis.uri": format!("redis://127.0.0.1:{}", redis.port()),
        "value.converter": "string",
    });
    assert_eq!(http.put("/connectors/moves/config", &config).status, 201);
    let spread_over = |n: usize| {
        move |workers: &Vec<String>| {
            workers
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == n
        }
    };
    wait_until("20 tasks on 3 workers", || {
        task_workers(&http, "moves", TASKS).is_some_and(|w| spread_over(3)(&w))
    });
    // Settled: no task starts or stops any more before the next worker comes.
    std::thread::sleep(Duration::from_secs(3));
    let events = |workers: &[ConnectProcess]| -> Vec<Vec<usize>> {
        workers
            .iter()
            .map(|w| (0..TASKS).map(|t| task_events(w, "moves", t)).collect())
            .collect()
    };
    let settled = events(&workers);
    let before = task_workers(&http, "moves", TASKS).expect("all running");

    // A fourth worker joins.
    workers.push(ConnectProcess::worker(&broker.bootstrap, "movers"));
    wait_until("20 tasks on 4 workers", || {
        task_workers(&http, "moves", TASKS).is_some_and(|w| spread_over(4)(&w))
    });
    std::thread::sleep(Duration::from_secs(3));
    let after = task_workers(&http, "moves", TASKS).expect("all running");
    let joined = events(&workers[..3]);
    let moved: Vec<usize> = (0..TASKS).filter(|t| before[*t] != after[*t]).collect();
    for (w, worker) in workers[..3].iter().enumerate() {
        for task in 0..TASKS {
            if before[task] == worker.address && after[task] == worker.address {
                assert_eq!(
                    joined[w][task],
                    settled[w][task],
                    "task {task} stayed on {} but was stopped or started again:\n{}",
                    worker.address,
                    worker.log()
                );
            }
        }
    }
    assert!(!moved.is_empty(), "the new worker got no task");
    assert!(moved.len() < TASKS, "every task moved: {moved:?}");
    let moved_on_join = moved.len();

    // It leaves again (SIGTERM): only its tasks move back.
    let mut leaving = workers.pop().expect("the fourth worker");
    let leaving_address = leaving.address.clone();
    leaving.terminate();
    wait_until("20 tasks on 3 workers again", || {
        task_workers(&http, "moves", TASKS)
            .is_some_and(|w| spread_over(3)(&w) && !w.contains(&leaving_address))
    });
    let back = task_workers(&http, "moves", TASKS).expect("all running");
    let left = events(&workers);
    let moved_on_leave: Vec<usize> = (0..TASKS).filter(|t| after[*t] != back[*t]).collect();
    for task in &moved_on_leave {
        assert_eq!(
            after[*task], leaving_address,
            "task {task} moved though its worker stayed"
        );
    }
    for (w, worker) in workers.iter().enumerate() {
        for task in 0..TASKS {
            if after[task] == worker.address && back[task] == worker.address {
                assert_eq!(
                    left[w][task], joined[w][task],
                    "task {task} stayed on {} but was restarted when a worker left",
                    worker.address
                );
            }
        }
    }
    eprintln!(
        "{TASKS} tasks on 3 workers: a joining worker moved {moved_on_join}, its leaving moved {}",
        moved_on_leave.len()
    );
}

#[test]
fn active_topics_are_tracked_per_connector_survive_restarts_and_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    fs::write(logs.join("app.log"), "one\ntwo\n").expect("log file");
    let redis = RedisServer::start();
    let mut worker = ConnectProcess::worker(&broker.bootstrap, "tracked");
    let http = Http::new(&worker.address);

    // Nothing used yet, and an unknown connector answers as Kafka Connect does.
    assert_eq!(
        http.get("/connectors/nope/topics").body,
        json!({"nope": {"topics": []}})
    );
    let created = http.put("/connectors/logs/config", &file_source(&logs, "tracked-a"));
    assert_eq!(created.status, 201, "{}", created.text);
    let sink = json!({
        "connector.class": "redis-sink",
        "topics": "tracked-a",
        "redis.uri": format!("redis://127.0.0.1:{}", redis.port()),
        "value.converter": "string",
    });
    let created = http.put("/connectors/to-redis/config", &sink);
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("both connectors report their topic", || {
        http.get("/connectors/logs/topics").body == json!({"logs": {"topics": ["tracked-a"]}})
            && http.get("/connectors/to-redis/topics").body
                == json!({"to-redis": {"topics": ["tracked-a"]}})
    });

    // Routed records add a topic; the set is stored, so a restarted worker has it.
    let mut routed = file_source(&logs, "tracked-a");
    let object = routed.as_object_mut().expect("object");
    object.insert("transforms".into(), json!("route"));
    object.insert("transforms.route.type".into(), json!("RegexRouter"));
    object.insert("transforms.route.regex".into(), json!("tracked-a"));
    object.insert("transforms.route.replacement".into(), json!("tracked-b"));
    assert_eq!(http.put("/connectors/logs/config", &routed).status, 200);
    fs::write(logs.join("app.log"), "one\ntwo\nthree\n").expect("append");
    wait_until("the routed topic is tracked", || {
        http.get("/connectors/logs/topics").body["logs"]["topics"]
            == json!(["tracked-a", "tracked-b"])
    });
    worker.terminate();
    let worker = ConnectProcess::worker(&broker.bootstrap, "tracked");
    let http = Http::new(&worker.address);
    wait_until("the topics read back after a restart", || {
        http.get("/connectors/logs/topics").body["logs"]["topics"]
            == json!(["tracked-a", "tracked-b"])
    });

    // A reset of a stopped connector empties its set and leaves the other's alone.
    assert_eq!(http.put("/connectors/logs/stop", &json!({})).status, 202);
    wait_until("logs STOPPED", || {
        state(&http, "logs").is_some_and(|(connector, _)| connector == "STOPPED")
    });
    let reset = http.put("/connectors/logs/topics/reset", &json!({}));
    assert_eq!(reset.status, 202, "{}", reset.text);
    wait_until("the reset applied", || {
        http.get("/connectors/logs/topics").body == json!({"logs": {"topics": []}})
    });
    assert_eq!(
        http.get("/connectors/to-redis/topics").body["to-redis"]["topics"],
        json!(["tracked-a"])
    );
    // Resumed, the task reports the topic it goes on writing to.
    assert_eq!(http.put("/connectors/logs/resume", &json!({})).status, 202);
    fs::write(logs.join("app.log"), "one\ntwo\nthree\nfour\n").expect("append");
    wait_until("the topic in use is tracked again", || {
        http.get("/connectors/logs/topics").body["logs"]["topics"] == json!(["tracked-b"])
    });

    // A worker that does not track topics says so with 403, as Kafka Connect.
    let properties = dir.path().join("untracked.properties");
    fs::write(
        &properties,
        "group.id=untracked\ntopic.tracking.enable=false\n",
    )
    .expect("worker file");
    let untracked = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    let untracked_http = Http::new(&untracked.address);
    let forbidden = untracked_http.get("/connectors/logs/topics");
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    assert_eq!(forbidden.body["message"], "Topic tracking is disabled.");
    let properties = dir.path().join("no-reset.properties");
    fs::write(
        &properties,
        "group.id=no-reset\ntopic.tracking.allow.reset=false\n",
    )
    .expect("worker file");
    let no_reset = ConnectProcess::worker_with_config(&broker.bootstrap, &properties);
    let refused = Http::new(&no_reset.address).put("/connectors/logs/topics/reset", &json!({}));
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.body["message"], "Topic tracking reset is disabled.");
}

#[test]
fn admin_loggers_change_a_running_workers_levels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    fs::write(logs.join("app.log"), "one\n").expect("log file");
    let worker = ConnectProcess::worker(&broker.bootstrap, "levels");
    let http = Http::new(&worker.address);

    let all = http.get("/admin/loggers");
    assert_eq!(all.status, 200, "{}", all.text);
    // The test processes run with RUST_LOG=info.
    assert_eq!(
        all.body,
        json!({"root": {"level": "INFO", "last_modified": null}})
    );
    let missing = http.get("/admin/loggers/weir_connect::runtime");
    assert_eq!(missing.status, 404, "{}", missing.text);
    assert_eq!(
        missing.body["message"],
        "Logger weir_connect::runtime not found."
    );

    // At INFO the source's position stores are not logged; at DEBUG they are.
    let created = http.put("/connectors/logs/config", &file_source(&logs, "levels-out"));
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("the first line shipped", || {
        high_watermark(&broker.bootstrap, "levels-out") == 1
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(!worker.log().contains("source positions stored"));
    let set = http.put(
        "/admin/loggers/weir_connect::runtime",
        &json!({"level": "debug"}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body, json!(["weir_connect::runtime"]));
    let level = http.get("/admin/loggers/weir_connect::runtime").body;
    assert_eq!(level["level"], "DEBUG");
    assert!(
        level["last_modified"].as_i64().is_some_and(|t| t > 0),
        "{level}"
    );
    fs::write(logs.join("app.log"), "one\ntwo\n").expect("append");
    wait_until("a DEBUG line from the runtime", || {
        worker.log().contains("source positions stored")
    });
    // Setting an ancestor sets it too; bad requests change nothing.
    let set = http.put("/admin/loggers/weir_connect", &json!({"level": "WARN"}));
    assert_eq!(
        set.body,
        json!(["weir_connect", "weir_connect::runtime"]),
        "{}",
        set.text
    );
    let bad = http.put("/admin/loggers/weir_connect", &json!({"level": "LOUD"}));
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.body["message"], "Invalid log level 'LOUD'.");
    let no_level = http.put("/admin/loggers/weir_connect", &json!({}));
    assert_eq!(no_level.status, 400, "{}", no_level.text);
    assert_eq!(
        http.get("/admin/loggers/weir_connect").body["level"],
        "WARN"
    );
}

#[test]
fn a_departed_workers_tasks_wait_the_scheduled_rebalance_delay() {
    const TASKS: usize = 4;
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let redis = RedisServer::start();
    create_topic(&broker.bootstrap, "delayed", 4, &[]);
    let delay = ["scheduled.rebalance.max.delay.ms=8000"];
    let staying = ConnectProcess::worker_with(&broker.bootstrap, "delayers", &delay);
    let mut leaving = ConnectProcess::worker_with(&broker.bootstrap, "delayers", &delay);
    let http = Http::new(&staying.address);
    let config = json!({
        "connector.class": "redis-sink",
        "tasks.max": TASKS.to_string(),
        "topics": "delayed",
        "redis.uri": format!("redis://127.0.0.1:{}", redis.port()),
        "value.converter": "string",
    });
    assert_eq!(http.put("/connectors/delayed/config", &config).status, 201);
    wait_until("tasks on both workers", || {
        task_workers(&http, "delayed", TASKS).is_some_and(|w| w.contains(&leaving.address))
    });
    let before = task_workers(&http, "delayed", TASKS).expect("all running");
    let left_behind: Vec<usize> = (0..TASKS)
        .filter(|t| before[*t] == leaving.address)
        .collect();

    // The worker leaves: its slots go to the other at once, its tasks do not.
    let leaving_address = leaving.address.clone();
    leaving.terminate();
    wait_until("the slots held back", || {
        staying.log().contains("slots of departed workers wait")
    });
    std::thread::sleep(Duration::from_secs(3));
    let status = http.get("/connectors/delayed/status").body;
    for task in &left_behind {
        assert_ne!(
            status["tasks"][*task]["worker_id"],
            json!(staying.address),
            "task {task} started before the delay was over: {status}\n{}",
            staying.log()
        );
    }
    assert!(
        staying.log().contains(&leaving_address),
        "the log does not name the departed worker:\n{}",
        staying.log()
    );
    // After the delay every task runs on the worker that stayed.
    wait_until("every task on the staying worker", || {
        task_workers(&http, "delayed", TASKS)
            .is_some_and(|w| w.iter().all(|a| *a == staying.address))
    });
    assert!(staying.log().contains("the rebalance delay is over"));
}

#[test]
fn two_workers_creating_one_connector_at_once_cannot_both_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = BrokerProcess::start(&dir.path().join("broker"), &[]);
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("logs dir");
    let workers = [
        ConnectProcess::worker(&broker.bootstrap, "racers"),
        ConnectProcess::worker(&broker.bootstrap, "racers"),
    ];
    let clients: Vec<Http> = workers.iter().map(|w| Http::new(&w.address)).collect();
    wait_until("both workers answer", || {
        clients.iter().all(|c| c.get("/connectors").status == 200)
    });
    for round in 0..8 {
        let name = format!("race-{round}");
        let barrier = std::sync::Barrier::new(2);
        let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = clients
                .iter()
                .enumerate()
                .map(|(i, client)| {
                    let (barrier, name, logs) = (&barrier, &name, &logs);
                    scope.spawn(move || {
                        let config = file_source(logs, &format!("race-out-{i}"));
                        barrier.wait();
                        let created =
                            client.post("/connectors", &json!({"name": name, "config": config}));
                        (created.status, created.text)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}: {answers:?}");
        let winner = answers
            .iter()
            .position(|(s, _)| *s == 201)
            .expect("a winner");
        // Every worker keeps the winner's config.
        for client in &clients {
            wait_until("the winner's config everywhere", || {
                client.get(&format!("/connectors/{name}/config")).body["topic"]
                    == json!(format!("race-out-{winner}"))
            });
        }
    }
}
