//! The REST API over real HTTP: the router served on a loopback port, requests written
//! as HTTP/1.1 bytes, every path's status code and JSON shape checked as Kafka Connect
//! clients expect them. The herder behind it is in memory: this tests the HTTP mapping.

#[path = "support/http.rs"]
mod http;
#[path = "rest/memory_herder.rs"]
mod memory_herder;

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weir_connect::rest;

use http::{Http, Response};
use memory_herder::{source_config, MemoryHerder, CLUSTER_ID, SINK_CLASS, SOURCE_CLASS, WORKER_ID};

/// A REST server on 127.0.0.1, stopped when dropped.
struct Server {
    http: Http,
    shutdown: CancellationToken,
    tasks: JoinSet<std::io::Result<()>>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = Http::new(listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(rest::serve(
            listener,
            Arc::new(MemoryHerder::default()),
            shutdown.clone(),
        ));
        Server {
            http,
            shutdown,
            tasks,
        }
    }

    /// Creates connector `name` from [`source_config`].
    async fn create_source(&self, name: &str) -> Response {
        let response = self
            .http
            .post(
                "/connectors",
                &json!({"name": name, "config": source_config()}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
        response
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Asserts Kafka Connect's error body and returns its message.
fn assert_error(response: &Response, code: u16) -> String {
    assert_eq!(response.status, code, "{}", response.text);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.body["error_code"],
        json!(code),
        "{}",
        response.text
    );
    let message = response.body["message"].as_str().expect("a message");
    assert!(!message.is_empty());
    message.to_owned()
}

#[tokio::test]
async fn root_reports_version_and_kafka_cluster() {
    let server = Server::start().await;
    let response = server.http.get("/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body["kafka_cluster_id"], CLUSTER_ID);
    assert_eq!(response.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(response.body["commit"].is_string());
}

#[tokio::test]
async fn connectors_are_listed_sorted_and_expanded_on_request() {
    let server = Server::start().await;
    let response = server.http.get("/connectors").await;
    assert_eq!((response.status, response.body), (200, json!([])));

    server.create_source("b").await;
    server.create_source("a").await;
    let response = server.http.get("/connectors").await;
    assert_eq!((response.status, response.body), (200, json!(["a", "b"])));

    let response = server.http.get("/connectors?expand=status").await;
    assert_eq!(response.status, 200);
    let body = response.body.as_object().unwrap();
    assert_eq!(body.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(body["a"].as_object().unwrap().len(), 1);
    assert_eq!(body["a"]["status"]["connector"]["state"], "RUNNING");

    let response = server
        .http
        .get("/connectors?expand=status&expand=info")
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body["b"]["status"]["name"], "b");
    assert_eq!(response.body["b"]["info"]["name"], "b");
    assert_eq!(response.body["b"]["info"]["type"], "source");

    let response = server.http.get("/connectors?expand=info").await;
    assert!(response.body["a"]["status"].is_null());
    assert_eq!(response.body["a"]["info"]["config"]["topic"], "lines");

    let message = assert_error(&server.http.get("/connectors?expand=everything").await, 400);
    assert!(message.contains("everything"), "{message}");
}

#[tokio::test]
async fn create_answers_201_with_location_then_409_for_the_same_name() {
    let server = Server::start().await;
    let response = server.create_source("file in").await;
    assert_eq!(response.header("location"), Some("/connectors/file%20in"));
    assert_eq!(response.body["name"], "file in");
    assert_eq!(response.body["type"], "source");
    assert_eq!(response.body["config"]["name"], "file in");
    assert_eq!(response.body["config"]["db.password"], "[hidden]");
    assert_eq!(
        response.body["tasks"],
        json!([{"connector": "file in", "task": 0}])
    );

    let again = json!({"name": "file in", "config": source_config()});
    let message = assert_error(&server.http.post("/connectors", &again).await, 409);
    assert_eq!(message, "Connector file in already exists");
}

#[tokio::test]
async fn create_rejects_bad_requests_with_400() {
    let server = Server::start().await;
    let post = |body: Value| {
        let http = server.http.clone();
        async move { http.post("/connectors", &body).await }
    };

    let message = assert_error(&post(json!({"config": source_config()})).await, 400);
    assert!(message.contains("name is required"), "{message}");
    assert_error(
        &post(json!({"name": "  ", "config": source_config()})).await,
        400,
    );
    assert_error(
        &post(json!({"name": 7, "config": source_config()})).await,
        400,
    );

    let message = assert_error(&post(json!({"name": "a"})).await, 400);
    assert!(message.contains("config is required"), "{message}");

    let mut config = source_config();
    config["name"] = json!("b");
    let message = assert_error(&post(json!({"name": "a", "config": config})).await, 400);
    assert!(
        message.contains("(b)") && message.contains("(a)"),
        "{message}"
    );

    let config = json!({"connector.class": "FileStreamSource", "topic": ["x"]});
    let message = assert_error(&post(json!({"name": "a", "config": config})).await, 400);
    assert!(message.contains("'topic'"), "{message}");

    // The herder's own verdict on the config.
    let config = json!({"connector.class": "NoSuchConnector"});
    let message = assert_error(&post(json!({"name": "a", "config": config})).await, 400);
    assert!(message.contains("NoSuchConnector"), "{message}");

    let message = assert_error(&post(json!(["a"])).await, 400);
    assert!(message.contains("an array"), "{message}");

    let response = server
        .http
        .send("POST", "/connectors", Some(b"{\"name\": \"a\", "))
        .await;
    let message = assert_error(&response, 400);
    assert_eq!(
        message,
        "Malformed JSON request body: EOF while parsing a value at line 1 column 14"
    );

    let message = assert_error(&server.http.send("POST", "/connectors", None).await, 400);
    assert!(message.contains("empty"), "{message}");

    let sleeping = json!({"name": "a", "config": source_config(), "initial_state": "SLEEPING"});
    let message = assert_error(&post(sleeping).await, 400);
    assert!(message.contains("RUNNING, PAUSED or STOPPED"), "{message}");
    assert_eq!(server.http.get("/connectors").await.body, json!([]));
}

#[tokio::test]
async fn create_takes_numbers_and_booleans_as_config_text() {
    let server = Server::start().await;
    let config = json!({
        "connector.class": SINK_CLASS, "topics": "lines", "tasks.max": 2, "errors.log.enable": true,
    });
    let body = json!({"name": "s", "config": config, "initial_state": "RUNNING"});
    let response = server.http.post("/connectors", &body).await;
    assert_eq!(response.status, 201, "{}", response.text);
    assert_eq!(response.body["config"]["tasks.max"], "2");
    assert_eq!(response.body["config"]["errors.log.enable"], "true");
    assert_eq!(response.body["type"], "sink");
    assert_eq!(response.body["tasks"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn connector_info_and_config_or_404() {
    let server = Server::start().await;
    server.create_source("a").await;
    let response = server.http.get("/connectors/a").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body["name"], "a");
    assert_eq!(
        response.body["config"]["connector.class"],
        "FileStreamSource"
    );

    let response = server.http.get("/connectors/a/config").await;
    assert_eq!(response.status, 200);
    let mut expected = source_config();
    expected["name"] = json!("a");
    expected["db.password"] = json!("[hidden]");
    assert_eq!(response.body, expected);

    for path in [
        "/connectors/zz",
        "/connectors/zz/config",
        "/connectors/zz/status",
        "/connectors/zz/tasks",
        "/connectors/zz/offsets",
    ] {
        let message = assert_error(&server.http.get(path).await, 404);
        assert_eq!(message, "Connector zz not found", "{path}");
    }
}

#[tokio::test]
async fn put_config_creates_with_201_then_updates_with_200() {
    let server = Server::start().await;
    let response = server
        .http
        .put("/connectors/a/config", &source_config())
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
    assert_eq!(response.header("location"), Some("/connectors/a"));
    assert_eq!(response.body["name"], "a");
    assert_eq!(response.body["config"]["name"], "a");

    let mut config = source_config();
    config["topic"] = json!("other");
    config["name"] = json!("a");
    let response = server.http.put("/connectors/a/config", &config).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.header("location"), None);
    assert_eq!(response.body["config"]["topic"], "other");

    config["name"] = json!("b");
    let message = assert_error(&server.http.put("/connectors/a/config", &config).await, 400);
    assert!(message.contains("doesn't match"), "{message}");

    let response = server
        .http
        .send("PUT", "/connectors/a/config", Some(b"[1,"))
        .await;
    assert_error(&response, 400);
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let server = Server::start().await;
    server.create_source("a").await;
    let response = server.http.delete("/connectors/a").await;
    assert_eq!(response.status, 204);
    assert!(response.text.is_empty());
    assert_error(&server.http.delete("/connectors/a").await, 404);
    assert_eq!(server.http.get("/connectors").await.body, json!([]));
}

#[tokio::test]
async fn status_and_tasks_have_kafka_connect_shapes() {
    let server = Server::start().await;
    server.create_source("a").await;
    let response = server.http.get("/connectors/a/status").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        json!({
            "name": "a",
            "connector": {"state": "RUNNING", "worker_id": WORKER_ID},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": WORKER_ID}],
            "type": "source",
        })
    );

    let response = server.http.get("/connectors/a/tasks").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body[0]["id"], json!({"connector": "a", "task": 0}));
    assert_eq!(response.body[0]["config"]["topic"], "lines");
    assert_eq!(response.body[0]["config"]["db.password"], "[hidden]");

    let response = server.http.get("/connectors/a/tasks/0/status").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        json!({"id": 0, "state": "RUNNING", "worker_id": WORKER_ID})
    );
    assert_error(&server.http.get("/connectors/a/tasks/1/status").await, 404);
    assert_error(&server.http.get("/connectors/a/tasks/x/status").await, 404);
    assert_error(&server.http.get("/connectors/zz/tasks/0/status").await, 404);

    let response = server
        .http
        .send("POST", "/connectors/a/tasks/0/restart", None)
        .await;
    assert_eq!(response.status, 204, "{}", response.text);
    let response = server
        .http
        .send("POST", "/connectors/a/tasks/5/restart", None)
        .await;
    assert_error(&response, 404);
}

#[tokio::test]
async fn pause_resume_and_stop_answer_202() {
    let server = Server::start().await;
    server.create_source("a").await;
    for (verb, state) in [
        ("pause", "PAUSED"),
        ("stop", "STOPPED"),
        ("resume", "RUNNING"),
    ] {
        let response = server
            .http
            .send("PUT", &format!("/connectors/a/{verb}"), None)
            .await;
        assert_eq!(response.status, 202, "{verb}: {}", response.text);
        assert!(response.text.is_empty(), "{verb}: {}", response.text);
        let status = server.http.get("/connectors/a/status").await;
        assert_eq!(status.body["connector"]["state"], state, "{verb}");
    }
    assert_error(
        &server.http.send("PUT", "/connectors/zz/pause", None).await,
        404,
    );
}

#[tokio::test]
async fn restart_answers_204_plain_and_202_with_status_when_asked() {
    let server = Server::start().await;
    server.create_source("a").await;
    let response = server
        .http
        .send("POST", "/connectors/a/restart", None)
        .await;
    assert_eq!(response.status, 204, "{}", response.text);
    assert!(response.text.is_empty());
    let response = server
        .http
        .send(
            "POST",
            "/connectors/a/restart?includeTasks=false&onlyFailed=false",
            None,
        )
        .await;
    assert_eq!(response.status, 204, "{}", response.text);

    let response = server
        .http
        .send("POST", "/connectors/a/restart?includeTasks=true", None)
        .await;
    assert_eq!(response.status, 202, "{}", response.text);
    assert_eq!(response.body["connector"]["state"], "RESTARTING");
    assert_eq!(response.body["tasks"][0]["state"], "RESTARTING");

    let response = server
        .http
        .send("POST", "/connectors/a/restart?onlyFailed=true", None)
        .await;
    assert_eq!(response.status, 202, "{}", response.text);
    assert_eq!(response.body["connector"]["state"], "RUNNING");

    let response = server
        .http
        .send("POST", "/connectors/a/restart?includeTasks=maybe", None)
        .await;
    let message = assert_error(&response, 400);
    assert!(message.contains("includeTasks"), "{message}");
    let response = server
        .http
        .send("POST", "/connectors/zz/restart", None)
        .await;
    assert_error(&response, 404);
}

#[tokio::test]
async fn offsets_are_read_altered_and_reset() {
    let server = Server::start().await;
    server.create_source("a").await;
    let response = server.http.get("/connectors/a/offsets").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        json!({"offsets": [{"partition": {"filename": "/var/log/in.txt"}, "offset": {"position": 42}}]})
    );

    let change = json!({"offsets": [{"partition": {"filename": "/var/log/in.txt"}, "offset": {"position": 7}}]});
    let message = assert_error(
        &server.http.patch("/connectors/a/offsets", &change).await,
        400,
    );
    assert!(message.contains("STOPPED"), "{message}");
    assert_error(&server.http.delete("/connectors/a/offsets").await, 400);

    server.http.send("PUT", "/connectors/a/stop", None).await;
    let response = server.http.patch("/connectors/a/offsets", &change).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(
        response.body,
        json!({"message": "The offsets for this connector have been altered successfully"})
    );
    let response = server.http.get("/connectors/a/offsets").await;
    assert_eq!(response.body, change);

    let response = server.http.delete("/connectors/a/offsets").await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(
        response.body,
        json!({"message": "The offsets for this connector have been reset successfully"})
    );
    let response = server.http.get("/connectors/a/offsets").await;
    assert_eq!(response.body, json!({"offsets": []}));

    let wrong = json!({"partitions": []});
    let message = assert_error(
        &server.http.patch("/connectors/a/offsets", &wrong).await,
        400,
    );
    assert!(message.contains("offsets"), "{message}");
    assert_error(
        &server.http.patch("/connectors/zz/offsets", &change).await,
        404,
    );
}

#[tokio::test]
async fn active_topics_are_listed_and_reset_with_202() {
    let server = Server::start().await;
    server.create_source("a").await;
    let topic = source_config()["topic"].clone();
    let response = server.http.get("/connectors/a/topics").await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.body, json!({"a": {"topics": [topic]}}));
    let response = server
        .http
        .send("PUT", "/connectors/a/topics/reset", None)
        .await;
    assert_eq!(response.status, 202, "{}", response.text);
    assert!(response.text.is_empty(), "{}", response.text);
    let response = server.http.get("/connectors/a/topics").await;
    assert_eq!(response.body, json!({"a": {"topics": []}}));
    let response = server
        .http
        .send("POST", "/connectors/a/topics/reset", None)
        .await;
    assert_eq!(response.status, 405, "{}", response.text);
}

#[tokio::test]
async fn admin_loggers_list_root_and_refuse_bad_requests() {
    let server = Server::start().await;
    let response = server.http.get("/admin/loggers").await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert!(
        response.body["root"]["level"].is_string(),
        "{}",
        response.text
    );
    let message = assert_error(&server.http.get("/admin/loggers/nope").await, 404);
    assert_eq!(message, "Logger nope not found.");
    let message = assert_error(
        &server
            .http
            .put("/admin/loggers/weir", &json!({"level": "LOUD"}))
            .await,
        400,
    );
    assert_eq!(message, "Invalid log level 'LOUD'.");
    let message = assert_error(
        &server
            .http
            .put(
                "/admin/loggers/weir?scope=cluster",
                &json!({"level": "INFO"}),
            )
            .await,
        400,
    );
    assert!(message.contains("scope=cluster"), "{message}");
    // This test process installed no subscriber control: levels are read-only here.
    let message = assert_error(
        &server
            .http
            .put("/admin/loggers/weir", &json!({"level": "INFO"}))
            .await,
        500,
    );
    assert!(message.contains("cannot be changed"), "{message}");
}

#[tokio::test]
async fn connector_plugins_are_listed_and_described() {
    let server = Server::start().await;
    let expected = json!([
        {"class": SOURCE_CLASS, "type": "source", "version": "1.0.0"},
        {"class": SINK_CLASS, "type": "sink", "version": "1.0.0"},
    ]);
    for path in [
        "/connector-plugins",
        "/connector-plugins?connectorsOnly=true",
        "/connector-plugins?connectorsOnly=false",
    ] {
        let response = server.http.get(path).await;
        assert_eq!(
            (response.status, &response.body),
            (200, &expected),
            "{path}"
        );
    }
    assert_error(
        &server.http.get("/connector-plugins?connectorsOnly=1").await,
        400,
    );

    let response = server
        .http
        .get("/connector-plugins/FileStreamSource/config")
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body[0]["name"], "topic");
    assert_eq!(response.body[0]["type"], "STRING");
    assert_eq!(response.body[0]["required"], true);
    assert_error(
        &server.http.get("/connector-plugins/Nope/config").await,
        404,
    );
}

#[tokio::test]
async fn validate_answers_200_even_with_errors() {
    let server = Server::start().await;
    let path = "/connector-plugins/FileStreamSource/config/validate";
    let response = server.http.put(path, &source_config()).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.body["name"], SOURCE_CLASS);
    assert_eq!(response.body["error_count"], 0);
    assert_eq!(response.body["groups"], json!(["Common"]));
    assert_eq!(response.body["configs"][0]["definition"]["name"], "topic");
    assert_eq!(response.body["configs"][0]["value"]["value"], "lines");

    let response = server
        .http
        .put(path, &json!({"connector.class": "FileStreamSource"}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.body["error_count"], 1);
    let errors = &response.body["configs"][0]["value"]["errors"];
    assert!(errors[0].as_str().unwrap().contains("topic"), "{errors}");

    let message = assert_error(&server.http.put(path, &json!({"topic": "x"})).await, 400);
    assert!(message.contains("connector.class"), "{message}");
    let response = server
        .http
        .put(
            "/connector-plugins/Nope/config/validate",
            &json!({"connector.class": "Nope"}),
        )
        .await;
    assert_error(&response, 404);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let server = Server::start().await;
    server.create_source("a").await;
    let response = server.http.get("/metrics").await;
    assert_eq!(response.status, 200);
    let content_type = response.header("content-type").unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(
        response.text.contains("weir_connect_connectors 1\n"),
        "{}",
        response.text
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_with_the_error_body() {
    let server = Server::start().await;
    for path in ["/nope", "/connectors/a/b/c", "/connector-plugins/x"] {
        let message = assert_error(&server.http.get(path).await, 404);
        assert_eq!(message, "HTTP 404 Not Found", "{path}");
    }
    for (method, path) in [
        ("DELETE", "/connectors"),
        ("POST", "/connectors/a/pause"),
        ("GET", "/connectors/a/restart"),
        ("PUT", "/connector-plugins"),
        ("GET", "/connector-plugins/x/config/validate"),
    ] {
        let response = server.http.send(method, path, None).await;
        let message = assert_error(&response, 405);
        assert_eq!(message, "HTTP 405 Method Not Allowed", "{method} {path}");
    }
    // A name that is not percent-encoded UTF-8 is a bad request, in the same body.
    assert_error(&server.http.get("/connectors/%FF").await, 400);
}

#[tokio::test]
async fn serve_returns_once_shutdown_is_cancelled() {
    let mut server = Server::start().await;
    assert_eq!(server.http.get("/").await.status, 200);
    server.shutdown.cancel();
    let result = server.tasks.join_next().await.expect("the server task");
    result.expect("not panicked").expect("served without error");
}

#[tokio::test]
async fn patch_config_merges_and_removes_keys() {
    let server = Server::start().await;
    server.create_source("a").await;
    let patch = json!({"topic": "other", "tasks.max": 2, "file": null});
    let response = server.http.patch("/connectors/a/config", &patch).await;
    assert_eq!(response.status, 200, "{}", response.text);
    let config = &response.body["config"];
    assert_eq!(config["topic"], "other");
    assert_eq!(config["tasks.max"], "2");
    assert!(config.get("file").is_none(), "{config}");
    // Keys the patch does not name stay, secrets included (shown masked).
    assert_eq!(config["connector.class"], "FileStreamSource");
    assert_eq!(config["db.password"], "[hidden]");

    assert_error(
        &server.http.patch("/connectors/zz/config", &patch).await,
        404,
    );
    let renamed = json!({"name": "b"});
    let message = assert_error(
        &server.http.patch("/connectors/a/config", &renamed).await,
        400,
    );
    assert!(message.contains("doesn't match"), "{message}");
    let message = assert_error(
        &server
            .http
            .patch("/connectors/a/config", &json!(["topic"]))
            .await,
        400,
    );
    assert!(message.contains("JSON object"), "{message}");
}
