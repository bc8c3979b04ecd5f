//! Per-log configuration, named after Kafka's topic-level configs.

/// `message.timestamp.type`: whose clock a batch's timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// The producer's timestamps are stored as produced.
    #[default]
    CreateTime,
    /// The broker overwrites each batch's max timestamp with its own clock on append.
    LogAppendTime,
}

/// Configuration of one partition's log. Field names follow Kafka's topic configs; the
/// defaults are Kafka's.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: a segment is rolled before an append would make it larger.
    pub segment_bytes: u64,
    /// `segment.ms`: a non-empty segment is rolled once this much time has passed since
    /// its first batch's timestamp (or its creation, when it has none).
    pub segment_ms: i64,
    /// `segment.index.bytes`: the active segment's index files are preallocated to this
    /// size and trimmed to their used size on roll and close; a full index rolls.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`: an index entry is added after at least this many bytes of
    /// log have been appended since the previous entry.
    pub index_interval_bytes: u64,
    /// `retention.ms`: segments whose largest timestamp is older than this are deleted;
    /// -1 keeps them forever.
    pub retention_ms: i64,
    /// `retention.bytes`: oldest segments are deleted while the log is larger than this;
    /// -1 means no limit.
    pub retention_bytes: i64,
    /// `flush.messages`: fsync after this many appended records. The default leaves
    /// durability to replication and the page cache, as Kafka does.
    pub flush_messages: i64,
    /// `flush.ms`: fsync when this long has passed since the last flush.
    pub flush_ms: i64,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `max.message.bytes`: the largest record batch (whole batch, 12-byte log overhead
    /// included) accepted by `append`.
    pub max_message_bytes: u64,
    /// `cleanup.policy` includes `compact`: the log cleaner keeps only the latest record
    /// per key in the log's inactive segments.
    pub compact: bool,
    /// `delete.retention.ms`: how long a tombstone survives after the cleaner first saw
    /// it (compacted logs only).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: the cleaner runs once the dirty (not yet cleaned)
    /// share of the cleanable bytes reaches this.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records stay uncompacted at least this long (segments
    /// whose largest timestamp is younger are not cleaned).
    pub min_compaction_lag_ms: i64,
    /// `producer.id.expiration.ms` (a broker setting): producer state of a producer
    /// with no open transaction is dropped this long after its last write.
    pub producer_id_expiration_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * DAY_MS,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * DAY_MS,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            timestamp_type: TimestampType::CreateTime,
            max_message_bytes: 1_048_588,
            compact: false,
            delete_retention_ms: DAY_MS,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            producer_id_expiration_ms: DAY_MS,
        }
    }
}
