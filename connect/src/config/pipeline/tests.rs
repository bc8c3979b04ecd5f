//! Pipelines as users write them, and one test per kind of mistake with the exact
//! line and hint reported.

use super::*;
use crate::config::testing::{plugins, props};
use crate::config::Tolerance;

fn parse(text: &str) -> Result<(Pipeline, Vec<ConnectorConfig>), PipelineError> {
    parse_pipeline(text, "app.yaml", &plugins())
}

/// The whole error text.
fn errors(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_source_only_pipeline_flattens_to_kafka_keys() {
    let (pipeline, configs) = parse(
        r#"name: app-logs
source:
  connector: test-source
  tasks.max: 1
  topic: app-logs
  file:
    paths: [/var/log/app/*.log, /var/log/other.log]
  multiline:
    pattern: '^\s'
transforms:
  - name: addHost
    type: InsertField$Value
    static.field: host
    static.value: web-1
    predicate: isTombstone
    negate: true
predicates:
  - name: isTombstone
    type: RecordIsTombstone
converters: {key: string, value: {type: json, schemas.enable: true}}
errors:
  tolerance: all
  log.enable: true
"#,
    )
    .unwrap();
    assert_eq!(pipeline.name, "app-logs");
    let [source] = &pipeline.connectors[..] else {
        panic!("{pipeline:?}")
    };
    assert_eq!(source.name, "app-logs-source");
    assert_eq!(source.section, ConnectorType::Source);
    assert_eq!(
        source.config,
        props(&[
            ("name", "app-logs-source"),
            ("connector.class", "test-source"),
            ("tasks.max", "1"),
            ("topic", "app-logs"),
            ("file.paths", "/var/log/app/*.log,/var/log/other.log"),
            ("multiline.pattern", "^\\s"),
            ("transforms", "addHost"),
            ("transforms.addHost.type", "InsertField$Value"),
            ("transforms.addHost.static.field", "host"),
            ("transforms.addHost.static.value", "web-1"),
            ("transforms.addHost.predicate", "isTombstone"),
            ("transforms.addHost.negate", "true"),
            ("predicates", "isTombstone"),
            ("predicates.isTombstone.type", "RecordIsTombstone"),
            ("key.converter", "string"),
            ("value.converter", "json"),
            ("value.converter.schemas.enable", "true"),
            ("errors.tolerance", "all"),
            ("errors.log.enable", "true"),
        ])
    );
    assert_eq!(source.lines["file.paths"], 7);
    assert_eq!(source.lines["multiline.pattern"], 9);
    assert_eq!(source.lines["transforms.addHost.static.value"], 14);
    assert_eq!(source.line_of("transforms.addHost.unknown"), 11);
    assert_eq!(source.line_of("topics"), 2);
    let [config] = &configs[..] else { panic!() };
    assert_eq!(config.name, "app-logs-source");
    assert_eq!(config.errors.tolerance, Tolerance::All);
    assert_eq!(config.connector.list("file.paths").len(), 2);
}

#[test]
fn a_sink_only_pipeline_resolves_env_references_but_keeps_them_in_its_config() {
    std::env::set_var("WEIR_PIPELINE_TEST_PASSWORD", "hunter2");
    let (pipeline, configs) = parse(
        "name: orders\n\
         sink:\n  connector: io.weir.test.TestSinkConnector\n  topics: [orders, refunds]\n  \
         redis.uri: redis://127.0.0.1:6379\n  redis.password: ${env:WEIR_PIPELINE_TEST_PASSWORD}\n  \
         errors:\n    tolerance: all\n    deadletterqueue.topic.name: orders-dlq\n",
    )
    .unwrap();
    let sink = &pipeline.connectors[0];
    assert_eq!(sink.name, "orders-sink");
    assert_eq!(sink.config["topics"], "orders,refunds");
    assert_eq!(
        sink.config["redis.password"],
        "${env:WEIR_PIPELINE_TEST_PASSWORD}"
    );
    let config = &configs[0];
    assert_eq!(config.topics, ["orders", "refunds"]);
    assert_eq!(config.errors.dlq_topic.as_deref(), Some("orders-dlq"));
    assert_eq!(
        config
            .connector
            .password("redis.password")
            .unwrap()
            .expose(),
        "hunter2"
    );
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn a_chained_pipeline_feeds_the_sink_from_the_source_topic() {
    let (pipeline, configs) = parse(
        "name: app-logs\n\
         source:\n  connector: test-source\n  topic: app-logs\n  file.paths: /var/log/a.log\n  \
         converters: {value: string, header: {type: json, schemas.enable: false}}\n\
         sink:\n  connector: test-sink\n  redis.uri: redis://127.0.0.1:6379\n\
         transforms:\n  - name: drop\n    type: Filter\n",
    )
    .unwrap();
    let names: Vec<&str> = pipeline
        .connectors
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["app-logs-source", "app-logs-sink"]);
    let (source, sink) = (&pipeline.connectors[0], &pipeline.connectors[1]);
    assert_eq!(source.config["value.converter"], "string");
    assert_eq!(source.config["header.converter"], "json");
    assert_eq!(source.config["header.converter.schemas.enable"], "false");
    assert!(!source.config.contains_key("transforms"));
    assert_eq!(sink.config["topics"], "app-logs");
    assert_eq!(sink.config["transforms"], "drop");
    assert!(!sink.config.contains_key("value.converter"));
    assert_eq!(configs[1].topics, ["app-logs"]);
    assert_eq!(
        format!("{:?}", configs[0].value_converter),
        "StringConverter"
    );
}

#[test]
fn a_typo_gets_the_line_and_a_did_you_mean() {
    assert_eq!(
        errors(
            "name: p\n\
             sinc:\n  connector: test-sink\n\
             source:\n  connector: test-source\n  topic: t\n  file:\n    pths: [a.log]\n"
        ),
        "app.yaml:2: sinc: unknown key (hint: did you mean 'sink'?)\n\
         app.yaml:4: file.paths: Missing required configuration \"file.paths\" which has no \
         default value. (hint: set file.paths: Files to read.)\n\
         app.yaml:8: file.pths: Unknown configuration 'file.pths' (hint: did you mean \
         'file.paths'?)"
    );
}

#[test]
fn a_map_where_a_value_is_needed_names_the_line_and_the_fix() {
    assert_eq!(
        errors(
            "name: p\n\
             source:\n  connector: test-source\n  topic:\n    name: t\n  file.paths: [a, b]\n\
             transforms: {addHost: InsertField}\n"
        ),
        "app.yaml:5: topic: takes a single STRING, not a map (hint: write `topic: value`)\n\
         app.yaml:7: transforms: must be a list of maps, not a map (hint: write each as \
         `- name: addHost\n    type: InsertField$Value`)"
    );
    assert_eq!(
        errors("name: p\nsource:\n  connector: test-source\n  topic: [a, b]\n  file.paths: a\n"),
        "app.yaml:4: topic: takes a single STRING, not a list (hint: write `topic: value`)"
    );
}

#[test]
fn a_missing_required_key_points_at_its_section() {
    assert_eq!(
        errors("name: p\nsink:\n  connector: test-sink\n  topics: t\n"),
        "app.yaml:2: redis.uri: Missing required configuration \"redis.uri\" which has no \
         default value. (hint: set redis.uri: Where Redis listens.)"
    );
    assert_eq!(
        errors("sink:\n  connector: test-sink\n"),
        "app.yaml:1: the pipeline has no name (hint: add `name: my-pipeline` at the top)"
    );
    assert_eq!(
        errors("name: p\nsink:\n  topics: t\n"),
        "app.yaml:2: connector: the sink has no connector (hint: add `connector:` with one of: \
         io.weir.test.TestSourceConnector, test-source, io.weir.test.TestSinkConnector, \
         test-sink)"
    );
    assert_eq!(
        errors("name: p\n"),
        "app.yaml:1: the pipeline has neither a source nor a sink (hint: add a source: \
         section, a sink: section, or both)"
    );
}

#[test]
fn bad_yaml_gets_line_and_column() {
    assert_eq!(
        errors("name: p\nsink:\n  connector: 'test-sink\n"),
        "app.yaml:3:14: invalid YAML: while scanning a quoted scalar, found unexpected end of \
         stream"
    );
    assert_eq!(
        errors("name: p\nsink:\n connector: a\n  topics: b\n"),
        "app.yaml:4:9: invalid YAML: mapping values are not allowed in this context"
    );
}

#[test]
fn an_unknown_connector_suggests_the_nearest_plugin() {
    assert_eq!(
        errors("name: p\nsink:\n  topics: t\n  connector: test-snk\n  redis.uri: x\n"),
        "app.yaml:4: connector.class: Failed to find any connector plugin named 'test-snk' \
         (hint: did you mean 'test-sink'?)"
    );
    assert_eq!(
        errors("name: p\nsink:\n  connector: test-source\n  topic: t\n  file.paths: a\n"),
        "app.yaml:3: connector: io.weir.test.TestSourceConnector is a source connector, not a \
         sink (hint: declare it under `source:`)"
    );
}

#[test]
fn a_missing_env_var_names_the_line_and_how_to_set_it() {
    assert_eq!(
        errors(
            "name: p\nsink:\n  connector: test-sink\n  topics: t\n  redis.uri: redis://x\n  \
             redis.password: ${env:WEIR_PIPELINE_TEST_UNSET}\n"
        ),
        "app.yaml:6: redis.password: environment variable WEIR_PIPELINE_TEST_UNSET is not set \
         (hint: set WEIR_PIPELINE_TEST_UNSET in the worker's environment, or give a default: \
         ${env:WEIR_PIPELINE_TEST_UNSET:-value})"
    );
}

#[test]
fn a_key_given_twice_names_both_lines() {
    assert_eq!(
        errors(
            "name: p\nsink:\n  connector: test-sink\n  topics: t\n  redis.uri: x\n  \
             errors.tolerance: all\n  errors:\n    tolerance: none\n"
        ),
        "app.yaml:8: errors.tolerance: given twice (first at line 6) (hint: keep one of them)"
    );
    assert_eq!(
        errors(
            "name: p\nsink:\n  connector: test-sink\n  topics: t\n  redis.uri: x\n  \
             errors: {tolerance: all}\nerrors:\n  log.enable: true\n"
        ),
        "app.yaml:7: errors: is given both at the top level and under sink: (hint: keep one of \
         them)"
    );
}

#[test]
fn pipeline_files_are_read_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.yaml");
    std::fs::write(
        &path,
        "name: logs\nsource:\n  connector: test-source\n  topic: logs\n  file.paths: a.log\n",
    )
    .unwrap();
    let (pipeline, configs) = load_pipeline(&path, &plugins()).unwrap();
    assert_eq!(pipeline.connectors[0].name, "logs-source");
    assert_eq!(configs.len(), 1);

    std::fs::write(&path, "name: logs\nsource:\n  connector: test-source\n").unwrap();
    let err = load_pipeline(&path, &plugins()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}:2: topic: Missing required", path.display())),
        "{err}"
    );

    let missing = dir.path().join("none.yaml");
    let err = load_pipeline(&missing, &plugins()).unwrap_err();
    assert!(matches!(err, PipelineError::Read { .. }), "{err}");
}

#[test]
fn topic_creation_nests_beside_the_topic_a_source_writes() {
    let (_, configs) = parse(
        "name: p\n\
         source:\n  connector: test-source\n  topic: app\n  file.paths: [a.log]\n  \
         topic.creation:\n    groups: [compacted]\n    \
         default: {replication.factor: 1, partitions: 3}\n    \
         compacted: {include: [.*-state], cleanup.policy: compact}\n",
    )
    .unwrap();
    let creation = configs[0].topic_creation.as_ref().expect("on");
    let compacted = creation.group_for("app-state");
    assert_eq!(compacted.name, "compacted");
    assert_eq!(compacted.configs["cleanup.policy"], "compact");
    assert_eq!(creation.group_for("app").partitions, 3);
}
