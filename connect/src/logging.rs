//! Log levels changed at runtime (KIP-495's `/admin/loggers`).
//!
//! A logger is a tracing target: a Rust module path such as `weir_connect::runtime`
//! (every target below it follows it), or `root` for the default level. Setting a
//! logger also sets its known descendants, as Kafka Connect sets a log4j logger's
//! children, and the answer lists every logger that changed.
//!
//! The process has one set of levels, as it has one global tracing subscriber: the
//! binary that installs the subscriber installs a [`LevelControl`] for it with
//! [`install`]. A worker embedded in a process that did not can read levels but not
//! change them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The root logger's name.
pub const ROOT: &str = "root";

/// Replaces the filter of the process's subscriber.
pub trait LevelControl: Send + Sync + fmt::Debug {
    /// `directives` in `RUST_LOG` syntax (`info,weir_connect::runtime=debug`).
    fn set_filter(&self, directives: &str) -> Result<(), String>;
}

/// A logger's level as `GET /admin/loggers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggerLevel {
    pub level: String,
    /// When it was last set through the API (ms since the epoch); null if never.
    pub last_modified: Option<i64>,
}

/// Why a level could not be set: the REST layer's 400 and 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelError {
    Invalid(String),
    Unsupported(String),
}

/// The levels of the process's loggers.
#[derive(Debug)]
pub struct Loggers {
    control: Option<Arc<dyn LevelControl>>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Pieces of the starting filter that are not `target=level` (span filters, ...),
    /// kept as they are.
    others: Vec<String>,
    levels: BTreeMap<String, LoggerLevel>,
}

static LOGGERS: OnceLock<Loggers> = OnceLock::new();

/// Installs the process's levels, starting from `directives` (the filter the
/// subscriber was built with). Only the first call counts.
pub fn install(directives: &str, control: Arc<dyn LevelControl>) {
    let _ = LOGGERS.set(Loggers::new(directives, Some(control)));
}

/// The process's levels; without [`install`], the tracing default (`info`), read-only.
pub fn loggers() -> &'static Loggers {
    LOGGERS.get_or_init(|| Loggers::new("info", None))
}

impl Loggers {
    fn new(directives: &str, control: Option<Arc<dyn LevelControl>>) -> Loggers {
        let mut levels = BTreeMap::new();
        let mut others = Vec::new();
        let unset = |level: &str| LoggerLevel {
            level: level.to_ascii_uppercase(),
            last_modified: None,
        };
        for piece in directives
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match piece.split_once('=') {
                None if tracing_level(piece).is_some() => {
                    levels.insert(ROOT.to_string(), unset(piece));
                }
                Some((target, level)) if is_target(target) && tracing_level(level).is_some() => {
                    levels.insert(target.to_string(), unset(level));
                }
                _ => others.push(piece.to_string()),
            }
        }
        levels
            .entry(ROOT.to_string())
            .or_insert_with(|| unset("error"));
        Loggers {
            control,
            state: Mutex::new(State { others, levels }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every logger with a level of its own, `root` included.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        self.state().levels.clone()
    }

    /// The logger's own level; `None` for a logger without one.
    pub fn get(&self, name: &str) -> Option<LoggerLevel> {
        self.state().levels.get(name).cloned()
    }

    /// Sets `name` and its known descendants to `level` (a log4j level name: OFF,
    /// FATAL, ERROR, WARN, INFO, DEBUG, TRACE, any case); returns the loggers set.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, LevelError> {
        let level = level.trim().to_ascii_uppercase();
        if tracing_level(&level).is_none() {
            return Err(LevelError::Invalid(format!("Invalid log level '{level}'.")));
        }
        if name != ROOT && !is_target(name) {
            return Err(LevelError::Invalid(format!(
                "Invalid logger name '{name}': use root or a module path such as weir_connect::runtime"
            )));
        }
        let Some(control) = &self.control else {
            return Err(LevelError::Unsupported(
                "This process's log levels cannot be changed at runtime".to_string(),
            ));
        };
        let mut state = self.state();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let mut next = state.levels.clone();
        let affected: Vec<String> = if name == ROOT {
            // The root is every logger's ancestor.
            next.keys().cloned().collect()
        } else {
            let prefix = format!("{name}::");
            next.keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .chain(std::iter::once(name.to_string()))
                .collect()
        };
        for logger in &affected {
            next.insert(
                logger.clone(),
                LoggerLevel {
                    level: level.clone(),
                    last_modified: Some(now),
                },
            );
        }
        control.set_filter(&directives(&next, &state.others))?;
        state.levels = next;
        let mut affected = affected;
        affected.sort();
        Ok(affected)
    }
}

impl From<String> for LevelError {
    fn from(message: String) -> LevelError {
        LevelError::Unsupported(message)
    }
}

/// The filter for `levels`, in `RUST_LOG` syntax.
fn directives(levels: &BTreeMap<String, LoggerLevel>, others: &[String]) -> String {
    let level = |l: &LoggerLevel| tracing_level(&l.level).unwrap_or("info");
    let root = levels.get(ROOT).map(|l| level(l).to_string());
    let targets = levels
        .iter()
        .filter(|(logger, _)| *logger != ROOT)
        .map(|(logger, l)| format!("{logger}={}", level(l)));
    root.into_iter()
        .chain(targets)
        .chain(others.iter().cloned())
        .collect::<Vec<_>>()
        .join(",")
}

/// The tracing level of a log4j (or tracing) level name.
fn tracing_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => return None,
    })
}

/// A module path: identifiers separated by `::`.
fn is_target(name: &str) -> bool {
    !name.is_empty()
        && name.split("::").all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl LevelControl for Recorded {
        fn set_filter(&self, directives: &str) -> Result<(), String> {
            self.0.lock().unwrap().push(directives.to_string());
            Ok(())
        }
    }

    #[test]
    fn the_starting_filter_gives_the_levels_and_unknown_pieces_are_kept() {
        let control = Arc::new(Recorded::default());
        let loggers = Loggers::new("info,rdkafka=off,[span]=debug", Some(control.clone()));
        assert_eq!(loggers.get(ROOT).unwrap().level, "INFO");
        assert_eq!(loggers.get("rdkafka").unwrap().level, "OFF");
        assert_eq!(loggers.get("rdkafka").unwrap().last_modified, None);
        assert!(loggers.get("weir_connect").is_none());
        let set = loggers.set("weir_connect::runtime", "debug").unwrap();
        assert_eq!(set, ["weir_connect::runtime"]);
        assert_eq!(
            control.0.lock().unwrap().last().unwrap(),
            "info,rdkafka=off,weir_connect::runtime=debug,[span]=debug"
        );
        assert!(loggers
            .get("weir_connect::runtime")
            .unwrap()
            .last_modified
            .is_some());
    }

    #[test]
    fn setting_a_logger_sets_its_descendants_and_root_sets_all() {
        let control = Arc::new(Recorded::default());
        let loggers = Loggers::new("warn", Some(control.clone()));
        loggers
            .set("weir_connect::runtime::sink_task", "TRACE")
            .unwrap();
        loggers.set("weir_connectors", "ERROR").unwrap();
        let set = loggers.set("weir_connect", "Debug").unwrap();
        assert_eq!(set, ["weir_connect", "weir_connect::runtime::sink_task"]);
        assert_eq!(
            loggers
                .get("weir_connect::runtime::sink_task")
                .unwrap()
                .level,
            "DEBUG"
        );
        assert_eq!(loggers.get("weir_connectors").unwrap().level, "ERROR");
        let all = loggers.set(ROOT, "info").unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(
            control.0.lock().unwrap().last().unwrap(),
            "info,weir_connect=info,weir_connect::runtime::sink_task=info,weir_connectors=info"
        );
    }

    #[test]
    fn bad_levels_and_names_are_refused_and_change_nothing() {
        let control = Arc::new(Recorded::default());
        let loggers = Loggers::new("info", Some(control.clone()));
        assert_eq!(
            loggers.set("weir", "LOUD"),
            Err(LevelError::Invalid("Invalid log level 'LOUD'.".into()))
        );
        assert!(matches!(
            loggers.set("weir connect", "info"),
            Err(LevelError::Invalid(_))
        ));
        assert!(control.0.lock().unwrap().is_empty());
        let read_only = Loggers::new("info", None);
        assert!(matches!(
            read_only.set("weir", "debug"),
            Err(LevelError::Unsupported(_))
        ));
        assert!(read_only.get("weir").is_none());
    }
}
