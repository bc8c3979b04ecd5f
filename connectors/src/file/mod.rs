//! The file source: ships log files into a topic, one record per line or per
//! multiline event, like Filebeat or Kafka's `FileStreamSource`, and survives what log
//! files go through — rotation by rename, copy-truncate, deletion, restarts.
//!
//! ```yaml
//! connector.class: file-source
//! topic: app-logs
//! file.paths: /var/log/app/*.log*
//! multiline.pattern: '^\s'
//! ```
//!
//! Each record's value is the line as a JSON string (without its newline), its key the
//! file's path (so one file's lines stay in order in one partition), and its headers
//! `file.name` (the path) and `file.line` (the first line's number). Its source offset
//! is the byte position just after it, so a restart reads again only what the log had
//! not acknowledged. `position.rs` documents the offsets, `task.rs` the rotation rules.

mod config;
mod lines;
mod multiline;
mod position;
mod scan;
mod tailer;
mod task;

use weir_connect::config::{ConfigDef, ConfigIssue, ParsedConfig};
use weir_connect::{ConnectError, ConnectorPlugin, ConnectorType, ExactlyOnceSupport, Task};

use self::config::FileSourceConfig;
use self::task::FileSourceTask;

/// The file source connector, `io.weir.connect.file.FileSourceConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSourceConnector;

impl ConnectorPlugin for FileSourceConnector {
    fn class(&self) -> &'static str {
        "io.weir.connect.file.FileSourceConnector"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["file-source", "FileSource"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, config: &ParsedConfig) -> Vec<ConfigIssue> {
        config::validate(config)
    }

    /// A position names the file (path, inode and device) and the byte after the
    /// last line read, so resuming from a committed one repeats nothing.
    fn exactly_once_support(&self) -> ExactlyOnceSupport {
        ExactlyOnceSupport::Supported
    }

    fn create_task(&self, config: &ParsedConfig) -> Result<Task, ConnectError> {
        let config = FileSourceConfig::from_parsed(config)?;
        Ok(Task::Source(Box::new(FileSourceTask::new(config))))
    }
}
