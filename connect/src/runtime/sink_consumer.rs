//! The sink task's consumer context: the lag metric from librdkafka's statistics and
//! the outcome of asynchronous offset commits.
//!
//! Both arrive on callbacks served while the task polls for records, so neither
//! blocks the task: the lag used to need a watermark request per partition, answered
//! on the task's own thread, and every commit waited for the coordinator's reply.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::TopicPartitionList;

use crate::herder::ConnectorTaskId;

use super::metrics::TaskMetrics;

/// How often librdkafka reports statistics, and so how fresh the lag metric is.
pub(crate) const STATISTICS_INTERVAL_MS: &str = "5000";

pub(crate) struct SinkConsumerContext {
    pub(crate) id: ConnectorTaskId,
    pub(crate) metrics: Arc<TaskMetrics>,
}

impl ClientContext for SinkConsumerContext {
    fn stats(&self, statistics: Statistics) {
        if let Some(lag) = assigned_lag(&statistics) {
            self.metrics.lag.store(lag, Ordering::Relaxed);
        }
    }
}

impl ConsumerContext for SinkConsumerContext {
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        // A failed commit (a rebalance took the partitions, the coordinator moved) is
        // not fatal: the partitions' next owner re-reads from the last commit.
        if let Err(err) = result {
            tracing::warn!(connector = %self.id.connector, task = self.id.task, %err, "committing offsets failed; the records after the last commit will be written again");
        }
    }
}

/// Records in the log not yet committed, over the partitions assigned to this
/// consumer; `None` until librdkafka knows every assigned partition's watermark and
/// committed offset.
fn assigned_lag(statistics: &Statistics) -> Option<i64> {
    let mut lag = 0;
    let mut known = false;
    for topic in statistics.topics.values() {
        // Partition -1 holds the messages of no partition yet; it has no lag.
        for partition in topic.partitions.values().filter(|p| p.partition >= 0) {
            if !partition.desired {
                continue;
            }
            if partition.consumer_lag < 0 {
                return None;
            }
            lag += partition.consumer_lag;
            known = true;
        }
    }
    known.then_some(lag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statistics(partitions: &[(i32, bool, i64)]) -> Statistics {
        let mut topic = rdkafka::statistics::Topic::default();
        for &(partition, desired, consumer_lag) in partitions {
            let stats = rdkafka::statistics::Partition {
                partition,
                desired,
                consumer_lag,
                ..Default::default()
            };
            topic.partitions.insert(partition, stats);
        }
        let mut statistics = Statistics::default();
        statistics.topics.insert("logs".to_string(), topic);
        statistics
    }

    #[test]
    fn lag_sums_the_assigned_partitions() {
        let stats = statistics(&[(0, true, 5), (1, true, 7), (2, false, 100), (-1, false, 0)]);
        assert_eq!(assigned_lag(&stats), Some(12));
    }

    #[test]
    fn lag_is_unknown_until_every_assigned_partition_reports() {
        assert_eq!(
            assigned_lag(&statistics(&[(0, true, 5), (1, true, -1)])),
            None
        );
        assert_eq!(assigned_lag(&statistics(&[(0, false, 3)])), None);
    }
}
