//! Entry points of the `cargo fuzz` targets in `connect/fuzz/`, shared with the
//! corpus replay test (`connect/tests/fuzz_corpus.rs`). Not part of the API.

use crate::config::parse_properties;
use crate::converter::{HeaderConverter, SimpleHeaderConverter};
use crate::worker::records::{ActiveTopic, ConfigRecord, StatusRecord, Subject, TopicStatus};
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

/// A header value read by the default header converter: any bytes read without a
/// panic or an error, and the value read, written again and read back, is the same
/// value (so a header copied through a transform keeps its meaning).
pub fn header_value(data: &[u8]) {
    let converter = SimpleHeaderConverter;
    let value = converter
        .to_connect_header("t", "h", Some(data))
        .expect("the simple header converter reads any bytes");
    let written = converter
        .from_connect_header("t", "h", &value)
        .expect("the simple header converter writes any value it reads");
    let again = converter
        .to_connect_header("t", "h", written.as_deref())
        .expect("the simple header converter reads any bytes");
    assert_eq!(again, value, "{:?}", String::from_utf8_lossy(data));
}

/// A record of the config or status topic, as a worker reads it from the log: the
/// key is the bytes before the first NUL, the value the bytes after it (none without
/// a NUL: a tombstone). Any record decodes or is refused without a panic, and what
/// decodes, written again, decodes to the same record under the same key.
pub fn storage_record(data: &[u8]) {
    let (key, value) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let key = String::from_utf8_lossy(key);
    if let Ok(record) = ConfigRecord::decode(&key, value) {
        assert_eq!(record.key(), key);
        let written = record.value();
        assert_eq!(
            ConfigRecord::decode(&record.key(), written.as_deref()),
            Ok(record)
        );
    }
    if let Some(topic) = ActiveTopic::from_key(&key) {
        assert_eq!(topic.key(), key);
    }
    if let Some(subject) = Subject::from_status_key(&key) {
        assert_eq!(
            Subject::from_status_key(&subject.status_key()),
            Some(subject)
        );
    }
    if let Some(value) = value {
        if let Ok(status) = StatusRecord::decode(value) {
            assert_eq!(StatusRecord::decode(&status.encode()), Ok(status));
        }
        if let Ok(topic) = TopicStatus::decode(value) {
            assert_eq!(TopicStatus::decode(&topic.encode()), Ok(topic));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_values_read_back_as_they_were_read() {
        for text in [
            "",
            " ",
            "null",
            " NULL ",
            "-0",
            "-0.0",
            "1e308",
            "1e309",
            "18446744073709551616",
            " 42 ",
            "[1, 2.50, {\"a\": null}]",
            "{\"n\": 1e400}",
            "\u{fffd}",
        ] {
            super::header_value(text.as_bytes());
        }
        super::header_value(b"\xff\xfe");
    }

    #[test]
    fn storage_records_decode_or_are_refused() {
        for data in [
            &b"connector-a\0{\"properties\":{\"x\":\"1\"}}"[..],
            b"connector-a",
            b"target-state-a\0{\"state\":\"PAUSED\"}",
            b"restart-connector-a",
            b"create-connector-a\0{\"claim\":\"w-1\"}",
            b"status-task-a-b-007\0{\"state\":\"RUNNING\",\"worker_id\":\"w\"}",
            b"topic-t-connector-c-connector-d\0{\"topic\":{\"name\":\"t\",\"connector\":\"c\",\"task\":0,\"discoverTimestamp\":1}}",
            b"\xff\0\xff",
        ] {
            super::storage_record(data);
        }
    }
}
