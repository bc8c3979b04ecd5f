//! Active topics (KIP-558): the topics a connector's tasks have produced to or
//! consumed from, as `GET /connectors/{name}/topics` lists them.
//!
//! A task tells the worker about a topic the first time it uses one; the worker
//! stores it once per connector. Each task keeps the topics it already reported, so
//! the per-record cost is one set lookup. A reset (`PUT …/topics/reset`) bumps the
//! reporter's epoch: the tasks then forget what they reported and report again the
//! topics they still use, as Kafka Connect's tasks do after a reset.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::herder::ConnectorTaskId;

/// Where tasks report the topics they use (the worker).
pub trait TopicReporter: Send + Sync + fmt::Debug {
    /// Changes whenever reported topics were reset.
    fn epoch(&self) -> u64;

    /// `task` used `topic`; the reporter stores it unless it is known already.
    fn report(&self, task: &ConnectorTaskId, topic: &str);
}

/// One task's side: what it reported since the last reset.
#[derive(Debug)]
pub(crate) struct TopicTracker {
    task: ConnectorTaskId,
    reporter: Option<Arc<dyn TopicReporter>>,
    reported: Mutex<Reported>,
}

#[derive(Debug, Default)]
struct Reported {
    epoch: u64,
    topics: HashSet<String>,
}

impl TopicTracker {
    /// `None` when topic tracking is disabled: nothing is recorded.
    pub(crate) fn new(task: ConnectorTaskId, reporter: Option<Arc<dyn TopicReporter>>) -> Self {
        let epoch = reporter.as_ref().map_or(0, |r| r.epoch());
        TopicTracker {
            task,
            reporter,
            reported: Mutex::new(Reported {
                epoch,
                topics: HashSet::new(),
            }),
        }
    }

    /// The task used `topic`.
    pub(crate) fn record(&self, topic: &str) {
        let Some(reporter) = &self.reporter else {
            return;
        };
        let epoch = reporter.epoch();
        {
            let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
            if reported.epoch != epoch {
                reported.epoch = epoch;
                reported.topics.clear();
            }
            if !reported.topics.insert(topic.to_string()) {
                return;
            }
        }
        reporter.report(&self.task, topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug, Default)]
    struct Recorder {
        epoch: AtomicU64,
        reports: Mutex<Vec<String>>,
    }

    impl TopicReporter for Recorder {
        fn epoch(&self) -> u64 {
            self.epoch.load(Ordering::Relaxed)
        }
        fn report(&self, task: &ConnectorTaskId, topic: &str) {
            let report = format!("{}-{}:{topic}", task.connector, task.task);
            self.reports.lock().unwrap().push(report);
        }
    }

    fn task() -> ConnectorTaskId {
        ConnectorTaskId {
            connector: "logs".into(),
            task: 2,
        }
    }

    #[test]
    fn each_topic_is_reported_once_until_a_reset() {
        let recorder = Arc::new(Recorder::default());
        let tracker = TopicTracker::new(task(), Some(recorder.clone()));
        for topic in ["a", "b", "a", "a", "b"] {
            tracker.record(topic);
        }
        assert_eq!(*recorder.reports.lock().unwrap(), ["logs-2:a", "logs-2:b"]);
        recorder.epoch.fetch_add(1, Ordering::Relaxed);
        tracker.record("b");
        tracker.record("b");
        assert_eq!(
            *recorder.reports.lock().unwrap(),
            ["logs-2:a", "logs-2:b", "logs-2:b"]
        );
    }

    #[test]
    fn nothing_is_tracked_when_tracking_is_disabled() {
        let tracker = TopicTracker::new(task(), None);
        tracker.record("a");
        assert!(tracker.reported.lock().unwrap().topics.is_empty());
    }
}
