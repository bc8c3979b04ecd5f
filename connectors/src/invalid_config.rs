//! The error a connector's `create_task` gives for a config its typed reading refused:
//! every issue, in one line.

use weir_connect::config::ConfigIssue;
use weir_connect::ConnectError;

/// `invalid <what> config: <issue>; <issue>…`.
pub(crate) fn invalid_config(what: &str, issues: &[ConfigIssue]) -> ConnectError {
    let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
    ConnectError::user(format!("invalid {what} config: {}", issues.join("; ")))
}
