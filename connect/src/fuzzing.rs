//! Entry points of the `cargo fuzz` targets in `connect/fuzz/`, shared with the
//! corpus replay test (`connect/tests/fuzz_corpus.rs`). Not part of the API.

use crate::config::parse_properties;
use crate::worker::WorkerConfig;

/// A worker properties file: any text reads without a panic, line numbers of errors
/// are within the text, and whatever parses is checked as a worker config (which
/// reports problems, never panics). Reading is deterministic and keeps no key longer
/// than the text.
pub fn worker_properties(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_properties(&text) {
        Ok(props) => {
            assert_eq!(parse_properties(&text).as_ref(), Ok(&props));
            for (key, value) in &props {
                assert!(key.len() + value.len() <= text.len());
            }
            let _ = WorkerConfig::parse(&props);
        }
        Err(err) => assert!(err.line >= 1 && err.line <= text.lines().count()),
    }
}
