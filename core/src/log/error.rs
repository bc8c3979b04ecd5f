//! The log's error type.
//!
//! Kafka error codes are assigned at the protocol edge, not here; each variant documents
//! the code the broker is expected to map it to.

use std::io;

/// Everything that can go wrong in the log layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A batch in an append is damaged: CRC mismatch, unknown magic, or length fields that
    /// disagree with the bytes present. Kafka: `CORRUPT_MESSAGE` (2).
    #[error("corrupt record batch at byte {position} of the append: {reason}")]
    CorruptRecord {
        /// Byte position of the offending batch within the appended buffer.
        position: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A batch is intact but not acceptable: bad record count, offset range or
    /// compression codec. Kafka: `INVALID_RECORD` (87).
    #[error("invalid record batch at byte {position} of the append: {reason}")]
    InvalidRecord {
        /// Byte position of the offending batch within the appended buffer.
        position: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A batch is larger than `max.message.bytes`. Kafka: `MESSAGE_TOO_LARGE` (10).
    #[error("record batch of {size} bytes exceeds max.message.bytes ({max})")]
    RecordTooLarge {
        /// Whole batch size, including the 12-byte log overhead.
        size: usize,
        /// The configured limit.
        max: u64,
    },
    /// A batch uses message format v0 or v1, which Weir does not store.
    /// Kafka: `UNSUPPORTED_FOR_MESSAGE_FORMAT` (43).
    #[error("record batch magic {magic} is not supported; only magic 2 is")]
    UnsupportedMagic {
        /// The magic byte found.
        magic: i8,
    },
    /// A read asked for an offset outside `[log start, log end]`.
    /// Kafka: `OFFSET_OUT_OF_RANGE` (1).
    #[error("offset {requested} is out of range: the log holds [{start}, {end})")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: i64,
        /// Log start offset.
        start: i64,
        /// Log end offset.
        end: i64,
    },
    /// DeleteRecords asked to move the log start beyond the log end.
    /// Kafka: `OFFSET_OUT_OF_RANGE` (1).
    #[error("cannot delete records before offset {requested}: the log ends at {end}")]
    InvalidOffset {
        /// The offset asked for.
        requested: i64,
        /// Log end offset.
        end: i64,
    },
    /// An idempotent or transactional batch does not follow its producer's last
    /// sequence on this partition. Kafka: `OUT_OF_ORDER_SEQUENCE_NUMBER` (45).
    #[error("producer {producer_id}: expected sequence {expected}, got {found}")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        found: i32,
    },
    /// A batch or marker carries an epoch older than the producer's latest here: a
    /// zombie. Kafka: `INVALID_PRODUCER_EPOCH` (47).
    #[error("producer {producer_id} epoch {epoch} is older than its current epoch {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    /// A write that the producer's transaction state forbids (plain data while its
    /// transaction is open, a transactional batch without a producer id).
    /// Kafka: `INVALID_TXN_STATE` (48).
    #[error("producer {producer_id}: {reason}")]
    InvalidTxnState { producer_id: i64, reason: String },
    /// A marker from a transaction coordinator older than the one that wrote the
    /// producer's last marker. Kafka: `TRANSACTION_COORDINATOR_FENCED` (52).
    #[error(
        "producer {producer_id}: coordinator epoch {coordinator_epoch} is older than {current}"
    )]
    CoordinatorFenced {
        producer_id: i64,
        coordinator_epoch: i32,
        current: i32,
    },
    /// A file operation failed; the log directory may be unusable.
    /// Kafka: `KAFKA_STORAGE_ERROR` (56).
    #[error("{context}")]
    Io {
        /// What was being done, and to which file.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl LogError {
    /// True for failures of the storage itself (as opposed to bad input), which Kafka
    /// reports as `KAFKA_STORAGE_ERROR` and which take the log directory offline.
    pub fn is_storage_error(&self) -> bool {
        matches!(self, LogError::Io { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> LogError {
        LogError::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_are_storage_errors_and_keep_their_source() {
        let err = LogError::io(
            "writing /x/00000000000000000000.log",
            io::Error::other("disk on fire"),
        );
        assert!(err.is_storage_error());
        assert_eq!(err.to_string(), "writing /x/00000000000000000000.log");
        assert_eq!(err.source().unwrap().to_string(), "disk on fire");
        let bad = LogError::UnsupportedMagic { magic: 1 };
        assert!(!bad.is_storage_error());
    }
}
