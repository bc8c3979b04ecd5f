//! Transaction coordinator settings, with Kafka's names and defaults.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer
    /// may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.state.log.num.partitions`.
    pub state_log_partitions: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often open
    /// transactions are checked against their timeout.
    pub abort_timed_out_interval: Duration,
    /// `transactional.id.expiration.ms`: an idle transactional id is forgotten this
    /// long after its last transaction.
    pub transactional_id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub remove_expired_interval: Duration,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: 900_000,
            state_log_partitions: 50,
            abort_timed_out_interval: Duration::from_secs(10),
            transactional_id_expiration_ms: 7 * 24 * 3600 * 1000,
            remove_expired_interval: Duration::from_secs(3600),
        }
    }
}
