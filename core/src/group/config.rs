//! Group coordinator settings, named after Kafka's broker configs.

use std::time::Duration;

/// The coordinator's settings. [`Default`] gives Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` when it is
    /// created. An existing topic keeps its count.
    pub offsets_topic_partitions: i32,
    /// `offsets.retention.minutes`: how long the offsets of an empty group are kept.
    pub offsets_retention: Duration,
    /// `offsets.retention.check.interval.ms`
    pub offsets_retention_check_interval: Duration,
    /// `offset.metadata.max.bytes`: the longest metadata string a commit may carry.
    pub offset_metadata_max_bytes: usize,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty
    /// group waits for more members, so a starting fleet does not rebalance per member.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`
    pub max_session_timeout: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            offsets_topic_partitions: 50,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offsets_retention_check_interval: Duration::from_millis(600_000),
            offset_metadata_max_bytes: 4096,
            initial_rebalance_delay: Duration::from_millis(3000),
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
        }
    }
}
