//! End-to-end: source connectors create the topics they write to (KIP-158) with their
//! `topic.creation.*` groups, on a broker that does not auto-create topics, checked
//! with a real admin client.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use rdkafka::admin::ResourceSpecifier;
use rdkafka::consumer::Consumer;
use serde_json::{json, Value};
use support::{admin, admin_options, block_on, wait_until, BrokerProcess, ConnectProcess, Http};

/// A file source writing `dir/*.log` to `topic`, creating topics as a connector with
/// a `compacted` group for `*-state` topics would.
fn file_source(dir: &Path, topic: &str) -> Value {
    json!({
        "connector.class": "file-source",
        "topic": topic,
        "file.paths": format!("{}/*.log", dir.display()),
        "value.converter": "string",
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "3",
        "topic.creation.groups": "compacted",
        "topic.creation.compacted.include": ".*-state",
        "topic.creation.compacted.partitions": "1",
        "topic.creation.compacted.cleanup.policy": "compact",
    })
}

fn log_dir(root: &Path, name: &str, lines: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    fs::create_dir(&dir).expect("log dir");
    fs::write(dir.join("app.log"), lines).expect("log file");
    dir
}

/// The partitions of `topic`, `None` while it does not exist.
fn partitions(bootstrap: &str, topic: &str) -> Option<usize> {
    let metadata = support::consumer(bootstrap)
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    (found.error().is_none() && !found.partitions().is_empty()).then(|| found.partitions().len())
}

/// Records in every partition of `topic`.
fn records(bootstrap: &str, topic: &str, partitions: usize) -> i64 {
    support::watermarks(bootstrap, topic, partitions as i32)
        .values()
        .map(|(low, high)| high - low)
        .sum()
}

fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    let admin = admin(bootstrap);
    let results =
        block_on(admin.describe_configs([&ResourceSpecifier::Topic(topic)], &admin_options()))
            .expect("DescribeConfigs");
    let resource = results
        .into_iter()
        .next()
        .expect("one resource")
        .expect("the topic's configs");
    resource.get(key).and_then(|entry| entry.value.clone())
}

#[test]
fn a_source_creates_missing_topics_with_the_settings_of_their_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without auto-creation, a topic exists only if the runtime created it.
    let broker = BrokerProcess::start(
        &dir.path().join("broker"),
        &["--set", "auto.create.topics.enable=false"],
    );
    let worker = ConnectProcess::worker(&broker.bootstrap, "topic-creation");
    let http = Http::new(&worker.address);

    // A bad value is refused on its full key, by validate and on create.
    let mut bad = file_source(&dir.path().join("none"), "events");
    bad["topic.creation.compacted.partitions"] = json!("0");
    let refused = http.put("/connectors/bad/config", &bad);
    assert_eq!(refused.status, 400, "{}", refused.text);
    let message = refused.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("topic.creation.compacted.partitions"),
        "{message}"
    );
    bad["name"] = json!("bad");
    let validated = http.put("/connector-plugins/file-source/config/validate", &bad);
    assert_eq!(validated.status, 200, "{}", validated.text);
    assert_eq!(validated.body["error_count"], 1, "{}", validated.text);
    let entry = validated.body["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["value"]["name"] == "topic.creation.compacted.partitions")
        .cloned()
        .unwrap_or_else(|| panic!("no entry for the key: {}", validated.text));
    assert!(
        entry["value"]["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("Number of partitions must be -1")),
        "{entry}"
    );
    assert_eq!(http.get("/connectors/bad").status, 404);

    // A topic no group includes takes default's settings.
    let events = log_dir(dir.path(), "events", "one\ntwo\nthree\n");
    assert_eq!(partitions(&broker.bootstrap, "events"), None);
    let created = http.put("/connectors/events/config", &file_source(&events, "events"));
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("events to be created with 3 partitions", || {
        partitions(&broker.bootstrap, "events") == Some(3)
    });
    wait_until("three records in events", || {
        records(&broker.bootstrap, "events", 3) == 3
    });
    assert_eq!(
        topic_config(&broker.bootstrap, "events", "cleanup.policy").as_deref(),
        Some("delete")
    );

    // A topic a transform routes to counts: it is created in the group that includes it.
    let app = log_dir(dir.path(), "app", "a\nb\n");
    let mut routed = file_source(&app, "app");
    routed["transforms"] = json!("route");
    routed["transforms.route.type"] = json!("RegexRouter");
    routed["transforms.route.regex"] = json!("app");
    routed["transforms.route.replacement"] = json!("app-state");
    let created = http.put("/connectors/state/config", &routed);
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("app-state to be created with 1 partition", || {
        partitions(&broker.bootstrap, "app-state") == Some(1)
    });
    wait_until("two records in app-state", || {
        records(&broker.bootstrap, "app-state", 1) == 2
    });
    assert_eq!(
        topic_config(&broker.bootstrap, "app-state", "cleanup.policy").as_deref(),
        Some("compact")
    );
    assert_eq!(
        partitions(&broker.bootstrap, "app"),
        None,
        "the topic before the transform is never written"
    );
}
