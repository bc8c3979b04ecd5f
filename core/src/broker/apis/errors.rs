//! Weir's errors turned into Kafka error codes: the only place that mapping lives.

use crate::log::LogError;
use crate::metadata::MetadataError;
use crate::partition::PartitionError;
use crate::protocol::ErrorCode;

pub(super) fn log_error_code(error: &LogError) -> ErrorCode {
    match error {
        LogError::OffsetOutOfRange { .. } | LogError::InvalidOffset { .. } => {
            ErrorCode::OffsetOutOfRange
        }
        LogError::RecordTooLarge { .. } => ErrorCode::MessageTooLarge,
        LogError::CorruptRecord { .. } => ErrorCode::CorruptMessage,
        LogError::InvalidRecord { .. } => ErrorCode::InvalidRecord,
        LogError::UnsupportedMagic { .. } => ErrorCode::UnsupportedForMessageFormat,
        LogError::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch { .. } => ErrorCode::InvalidProducerEpoch,
        LogError::InvalidTxnState { .. } => ErrorCode::InvalidTxnState,
        LogError::CoordinatorFenced { .. } => ErrorCode::TransactionCoordinatorFenced,
        other if other.is_storage_error() => ErrorCode::KafkaStorageError,
        _ => ErrorCode::UnknownServerError,
    }
}

pub(super) fn partition_error_code(error: &PartitionError) -> ErrorCode {
    match error {
        PartitionError::Log(error) => log_error_code(error),
        PartitionError::Closed { .. } => ErrorCode::NotLeaderOrFollower,
    }
}

pub(super) fn metadata_error_code(error: &MetadataError) -> ErrorCode {
    match error {
        MetadataError::TopicAlreadyExists(_) => ErrorCode::TopicAlreadyExists,
        MetadataError::UnknownTopic(_) => ErrorCode::UnknownTopicOrPartition,
        MetadataError::InvalidTopic { .. } => ErrorCode::InvalidTopicException,
        MetadataError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        MetadataError::InvalidReplicationFactor(_) => ErrorCode::InvalidReplicationFactor,
        MetadataError::InvalidReplicaAssignment(_) => ErrorCode::InvalidReplicaAssignment,
        MetadataError::InvalidConfig(_) => ErrorCode::InvalidConfig,
        MetadataError::InternalTopic(_) => ErrorCode::InvalidRequest,
        MetadataError::Log { .. } | MetadataError::Io { .. } => ErrorCode::KafkaStorageError,
        MetadataError::CorruptMetadata { .. } => ErrorCode::UnknownServerError,
    }
}

/// The message a client shows: the error with its causes.
pub(super) fn message(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
