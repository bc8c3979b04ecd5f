use std::sync::Arc;

use super::TopicConfigs;
use crate::partition::PartitionHandle;
use crate::protocol::Uuid;

use super::MetadataError;

/// A topic as the broker serves it: its identity, configs and partition owners.
#[derive(Debug)]
pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub configs: TopicConfigs,
    pub partitions: Vec<PartitionHandle>,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&PartitionHandle> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// Kafka's internal topics start with a double underscore.
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

/// Kafka's topic name rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), MetadataError> {
    let invalid = |reason: &str| MetadataError::InvalidTopic {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not allowed"));
    }
    if name.len() > 249 {
        return Err(invalid("longer than 249 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(invalid(
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_new-2").is_ok());
        for bad in ["", ".", "..", "a/b", "ümlaut", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
