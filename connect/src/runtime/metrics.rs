//! Per-task counters, rendered in Prometheus' text format on the worker's `/metrics`.
//!
//! Counters are atomics bumped once per batch, not per record, on the task's own path;
//! the registry lock is taken only when a task starts and when metrics are scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::herder::ConnectorTaskId;
use crate::ConnectorType;

/// The counters of one task. They survive task restarts (Prometheus counters must not
/// go backwards while the worker runs).
#[derive(Debug)]
pub struct TaskMetrics {
    connector_type: ConnectorType,
    /// Records taken in: polled from the source, or consumed from the log by a sink.
    pub records_in: AtomicU64,
    /// Records delivered: acknowledged by the log, or accepted by the external system.
    pub records_out: AtomicU64,
    /// Records dropped by a transform (a filter).
    pub records_filtered: AtomicU64,
    /// Records that failed in a converter, a transform or the external system.
    pub record_errors: AtomicU64,
    /// Failed records written to the dead-letter topic.
    pub dead_letter_records: AtomicU64,
    /// Retries of a failed write, poll or produce.
    pub retries: AtomicU64,
    /// Sink only: records in the log not yet consumed by this task, summed over its
    /// partitions (-1 until known).
    pub lag: AtomicI64,
    /// Gauges a connector defines for itself (a CDC source's slot lag), by name.
    gauges: Mutex<Vec<Gauge>>,
}

/// One connector-defined gauge.
#[derive(Debug, Clone)]
struct Gauge {
    name: &'static str,
    help: &'static str,
    value: Arc<AtomicI64>,
}

impl TaskMetrics {
    fn new(connector_type: ConnectorType) -> TaskMetrics {
        TaskMetrics {
            connector_type,
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            records_filtered: AtomicU64::new(0),
            record_errors: AtomicU64::new(0),
            dead_letter_records: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            lag: AtomicI64::new(-1),
            gauges: Mutex::new(Vec::new()),
        }
    }

    /// The connector-defined gauge `name` of this task, registered on first use and
    /// rendered as `name{connector,task,type}`. `name` must be a valid Prometheus
    /// metric name; the same name always has the same `help`.
    pub fn gauge(&self, name: &'static str, help: &'static str) -> Arc<AtomicI64> {
        let mut gauges = self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gauge) = gauges.iter().find(|g| g.name == name) {
            return Arc::clone(&gauge.value);
        }
        let value = Arc::new(AtomicI64::new(0));
        gauges.push(Gauge {
            name,
            help,
            value: Arc::clone(&value),
        });
        value
    }

    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Every task's metrics on this worker.
#[derive(Debug, Default)]
pub struct Metrics {
    tasks: Mutex<BTreeMap<ConnectorTaskId, Arc<TaskMetrics>>>,
}

type Counter = fn(&TaskMetrics) -> i64;

/// Name, help, type and reader of every series, in output order.
const SERIES: &[(&str, &str, &str, Counter)] = &[
    ("weir_connect_records_in_total", "Records a task took in: polled from its source, or consumed from the log by a sink.", "counter", |m| m.records_in.load(Ordering::Relaxed) as i64),
    ("weir_connect_records_out_total", "Records a task delivered: acknowledged by the log (source), or accepted by the external system (sink).", "counter", |m| m.records_out.load(Ordering::Relaxed) as i64),
    ("weir_connect_records_filtered_total", "Records dropped by a transform.", "counter", |m| m.records_filtered.load(Ordering::Relaxed) as i64),
    ("weir_connect_record_errors_total", "Records that failed in a converter, a transform or the external system.", "counter", |m| m.record_errors.load(Ordering::Relaxed) as i64),
    ("weir_connect_dead_letter_records_total", "Failed records written to the dead-letter topic.", "counter", |m| m.dead_letter_records.load(Ordering::Relaxed) as i64),
    ("weir_connect_retries_total", "Retries of a failed poll, produce or write.", "counter", |m| m.retries.load(Ordering::Relaxed) as i64),
    ("weir_connect_sink_lag_records", "Records in the log not yet consumed by a sink task (-1 until known).", "gauge", |m| m.lag.load(Ordering::Relaxed)),
];

impl Metrics {
    /// The metrics of `task`, registered on first use.
    pub fn task(&self, task: &ConnectorTaskId, connector_type: ConnectorType) -> Arc<TaskMetrics> {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            tasks
                .entry(task.clone())
                .or_insert_with(|| Arc::new(TaskMetrics::new(connector_type))),
        )
    }

    /// Forgets a deleted connector's series.
    pub fn remove_connector(&self, connector: &str) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|id, _| id.connector != connector);
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let tasks: Vec<(ConnectorTaskId, Arc<TaskMetrics>)> = {
            let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            tasks
                .iter()
                .map(|(id, m)| (id.clone(), Arc::clone(m)))
                .collect()
        };
        let mut out = String::new();
        for (name, help, kind, read) in SERIES {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (id, metrics) in &tasks {
                if *name == "weir_connect_sink_lag_records"
                    && metrics.connector_type != ConnectorType::Sink
                {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "{name}{{connector=\"{}\",task=\"{}\",type=\"{}\"}} {}",
                    escape(&id.connector),
                    id.task,
                    metrics.connector_type,
                    read(metrics)
                );
            }
        }
        let gauges: BTreeMap<&'static str, Vec<(&ConnectorTaskId, &TaskMetrics, Gauge)>> = tasks
            .iter()
            .fold(BTreeMap::new(), |mut by_name, (id, metrics)| {
                let gauges = metrics.gauges.lock().unwrap_or_else(|e| e.into_inner());
                for gauge in gauges.iter() {
                    by_name
                        .entry(gauge.name)
                        .or_default()
                        .push((id, &**metrics, gauge.clone()));
                }
                by_name
            });
        for (name, series) in gauges {
            let _ = writeln!(out, "# HELP {name} {}", series[0].2.help);
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (id, metrics, gauge) in series {
                let _ = writeln!(
                    out,
                    "{name}{{connector=\"{}\",task=\"{}\",type=\"{}\"}} {}",
                    escape(&id.connector),
                    id.task,
                    metrics.connector_type,
                    gauge.value.load(Ordering::Relaxed)
                );
            }
        }
        out
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_gauges_render_once_per_name() {
        let metrics = Metrics::default();
        let task = |n| ConnectorTaskId {
            connector: "cdc".into(),
            task: n,
        };
        let a = metrics.task(&task(0), ConnectorType::Source);
        let b = metrics.task(&task(1), ConnectorType::Source);
        a.gauge("weir_test_lag_bytes", "Lag.")
            .store(42, Ordering::Relaxed);
        b.gauge("weir_test_lag_bytes", "Lag.")
            .store(7, Ordering::Relaxed);
        a.gauge("weir_test_lag_bytes", "Lag.")
            .fetch_add(1, Ordering::Relaxed);
        let text = metrics.render();
        assert_eq!(text.matches("# TYPE weir_test_lag_bytes gauge").count(), 1);
        assert!(
            text.contains(r#"weir_test_lag_bytes{connector="cdc",task="0",type="source"} 43"#),
            "{text}"
        );
        assert!(
            text.contains(r#"weir_test_lag_bytes{connector="cdc",task="1",type="source"} 7"#),
            "{text}"
        );
    }

    #[test]
    fn renders_each_task_with_labels() {
        let metrics = Metrics::default();
        let id = ConnectorTaskId {
            connector: "logs \"a\"".into(),
            task: 1,
        };
        let task = metrics.task(&id, ConnectorType::Source);
        TaskMetrics::add(&task.records_in, 5);
        TaskMetrics::add(&task.records_out, 4);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE weir_connect_records_in_total counter"),
            "{text}"
        );
        assert!(text.contains("weir_connect_records_in_total{connector=\"logs \\\"a\\\"\",task=\"1\",type=\"source\"} 5"), "{text}");
        assert!(text.contains("weir_connect_records_out_total{connector=\"logs \\\"a\\\"\",task=\"1\",type=\"source\"} 4"), "{text}");
        assert!(
            !text.contains("weir_connect_sink_lag_records{"),
            "no lag series for a source: {text}"
        );
    }
}
