use crate::log::LogError;

use super::ConfigError;

/// Why a topic operation failed. Each variant maps to one Kafka error code at the
/// protocol edge.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopic { name: String, reason: String },
    #[error("invalid partition count: {0}")]
    InvalidPartitions(String),
    #[error("invalid replication factor {0}: this broker is a single node, so only 1 (or -1 for the default) is possible")]
    InvalidReplicationFactor(i32),
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    #[error("topic '{0}' is internal and cannot be changed this way")]
    InternalTopic(String),
    #[error("opening the log of partition {partition} of topic '{topic}' failed")]
    Log {
        topic: String,
        partition: i32,
        #[source]
        source: LogError,
    },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the topic metadata file {path} is unreadable: {reason}")]
    CorruptMetadata { path: String, reason: String },
}
