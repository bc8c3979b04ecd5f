//! Which index a record goes to: the topic's own (lowercased, as Confluent's connector
//! names it), or a data stream `<type>-<dataset>-<namespace>`.
//!
//! The topic is the record's topic after transforms, so `TimestampRouter`
//! (`topic.format: ${topic}-${timestamp}`) gives daily indexes and `RegexRouter` any
//! other naming.

use weir_connect::config::ConfigIssue;

use super::config::{DATA_STREAM_DATASET, DATA_STREAM_NAMESPACE};

/// How index names are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IndexName {
    /// The topic, made a valid index name.
    Topic,
    DataStream(DataStream),
}

/// `<type>-<dataset>-<namespace>`, the namespace a template with `${topic}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataStream {
    prefix: String,
    namespace: String,
}

/// Characters Elasticsearch refuses in data stream names' parts (`-` separates them).
const FORBIDDEN: &[char] = &[
    '\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':', '-', ' ',
];

fn check_part(key: &str, what: &str, value: &str) -> Result<(), ConfigIssue> {
    let bad = value
        .chars()
        .find(|c| FORBIDDEN.contains(c) || c.is_uppercase());
    if value.is_empty() || value.len() > 100 || bad.is_some() {
        return Err(ConfigIssue::new(
            key,
            format!(
                "Invalid {what} '{value}': it must be 1 to 100 lowercase characters without \
                 spaces or any of \\/*?\"<>|,#:-"
            ),
        )
        .with_hint("e.g. app or nginx_access"));
    }
    Ok(())
}

impl DataStream {
    pub(crate) fn new(
        kind: &str,
        dataset: &str,
        namespace: &str,
    ) -> Result<DataStream, ConfigIssue> {
        check_part(DATA_STREAM_DATASET, "data.stream.dataset", dataset)?;
        check_part(
            DATA_STREAM_NAMESPACE,
            "data.stream.namespace",
            &namespace.replace("${topic}", "topic"),
        )?;
        Ok(DataStream {
            prefix: format!("{}-{dataset}-", kind.to_ascii_lowercase()),
            namespace: namespace.to_string(),
        })
    }
}

impl IndexName {
    /// The index (or data stream) for a record of `topic`.
    pub(crate) fn for_topic(&self, topic: &str) -> String {
        match self {
            IndexName::Topic => topic_index(topic),
            IndexName::DataStream(stream) => {
                let namespace = stream
                    .namespace
                    .replace("${topic}", &topic.to_lowercase().replace('-', "_"));
                format!("{}{namespace}", stream.prefix)
            }
        }
    }
}

/// Confluent's `convertTopicToIndexName`: lowercased, at most 255 bytes, no leading `-`
/// or `_`, and `.` / `..` spelled out.
fn topic_index(topic: &str) -> String {
    let mut index = topic.to_lowercase();
    if index.len() > 255 {
        let mut end = 255;
        while !index.is_char_boundary(end) {
            end -= 1;
        }
        index.truncate(end);
    }
    if index.starts_with('-') || index.starts_with('_') {
        index.remove(0);
    }
    if index == "." || index == ".." {
        index = index.replace('.', "dot");
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_become_lowercase_index_names() {
        assert_eq!(IndexName::Topic.for_topic("Orders"), "orders");
        assert_eq!(IndexName::Topic.for_topic("logs-20240229"), "logs-20240229");
        assert_eq!(IndexName::Topic.for_topic("_private"), "private");
        assert_eq!(IndexName::Topic.for_topic(".."), "dotdot");
        assert_eq!(IndexName::Topic.for_topic(&"x".repeat(300)).len(), 255);
    }

    #[test]
    fn data_streams_are_type_dataset_namespace() {
        let stream = IndexName::DataStream(DataStream::new("logs", "app", "${topic}").unwrap());
        assert_eq!(stream.for_topic("App-Logs"), "logs-app-app_logs");
        let fixed = IndexName::DataStream(DataStream::new("metrics", "cpu", "prod").unwrap());
        assert_eq!(fixed.for_topic("anything"), "metrics-cpu-prod");
        let issue = DataStream::new("logs", "My-App", "${topic}").unwrap_err();
        assert_eq!(issue.key, DATA_STREAM_DATASET);
        let issue = DataStream::new("logs", "app", "a:b").unwrap_err();
        assert_eq!(issue.key, DATA_STREAM_NAMESPACE);
    }
}
