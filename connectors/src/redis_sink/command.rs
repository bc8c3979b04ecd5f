//! How one record becomes one Redis command.
//!
//! Every record maps to at most one command, so a reply in the transaction's `EXEC`
//! array points back at exactly one record. A tombstone (null value) deletes: `DEL` of
//! the resolved key for SET, HSET, XADD, LPUSH and RPUSH — for the list and stream
//! commands that is the whole list or stream, since their entries have no identity a
//! record could name — and `SREM`/`ZREM` of the member named by the record key for SADD
//! and ZADD.
//!
//! Values are written as their bytes when they are bytes (Redis strings are binary-safe,
//! so nothing is lost), otherwise as text: strings as they are, other JSON serialized.

use redis::Cmd;
use serde_json::Value;
use weir_connect::{ConnectError, Data, Record};

use super::config::RedisSinkConfig;

/// The Redis command each record is written with (`redis.command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisCommand {
    Set,
    Hset,
    Xadd,
    Lpush,
    Rpush,
    Sadd,
    Zadd,
}

impl RedisCommand {
    pub(crate) const NAMES: &'static [&'static str] =
        &["SET", "HSET", "XADD", "LPUSH", "RPUSH", "SADD", "ZADD"];

    pub(crate) fn from_name(name: &str) -> Option<RedisCommand> {
        Some(match name {
            "SET" => RedisCommand::Set,
            "HSET" => RedisCommand::Hset,
            "XADD" => RedisCommand::Xadd,
            "LPUSH" => RedisCommand::Lpush,
            "RPUSH" => RedisCommand::Rpush,
            "SADD" => RedisCommand::Sadd,
            "ZADD" => RedisCommand::Zadd,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            RedisCommand::Set => "SET",
            RedisCommand::Hset => "HSET",
            RedisCommand::Xadd => "XADD",
            RedisCommand::Lpush => "LPUSH",
            RedisCommand::Rpush => "RPUSH",
            RedisCommand::Sadd => "SADD",
            RedisCommand::Zadd => "ZADD",
        }
    }

    /// The key template when `redis.key` is unset: one key per record key for the
    /// commands that overwrite, one collection per topic for those that accumulate.
    pub(crate) fn default_key(self) -> &'static str {
        match self {
            RedisCommand::Set | RedisCommand::Hset => "${key}",
            _ => "${topic}",
        }
    }
}

/// One record's command and the key it touches, for error messages.
pub(crate) struct RecordWrite {
    pub(crate) cmd: Cmd,
    pub(crate) name: &'static str,
    pub(crate) key: String,
}

/// Without the arguments: they are record data, which logs should not carry.
impl std::fmt::Debug for RecordWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWrite")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The command writing `record`, or the user error that keeps it from being written.
pub(crate) fn record_write(
    config: &RedisSinkConfig,
    record: &Record,
) -> Result<RecordWrite, ConnectError> {
    let key = config.key.render(record)?;
    let write = |name: &'static str, cmd: Cmd| RecordWrite {
        cmd,
        name,
        key: key.clone(),
    };
    let command = config.command;
    if record.value.is_null() {
        return Ok(match command {
            RedisCommand::Sadd | RedisCommand::Zadd => {
                let name = if command == RedisCommand::Sadd {
                    "SREM"
                } else {
                    "ZREM"
                };
                let member = record.key.to_text().ok_or_else(|| {
                    ConnectError::user(format!(
                        "a tombstone for {} removes the member named by the record key, but \
                         the key is null (redis key '{key}')",
                        command.name()
                    ))
                })?;
                write(name, redis::cmd(name).arg(&key).arg(member).clone())
            }
            _ => write("DEL", redis::cmd("DEL").arg(&key).clone()),
        });
    }
    let mut cmd = redis::cmd(command.name());
    cmd.arg(&key);
    match command {
        RedisCommand::Set | RedisCommand::Lpush | RedisCommand::Rpush | RedisCommand::Sadd => {
            cmd.arg(payload(&record.value));
        }
        RedisCommand::Hset => {
            let object = record.value.as_object().ok_or_else(|| {
                ConnectError::user(format!(
                    "HSET writes one hash field per member of a JSON object, but the value is \
                     {} (redis key '{key}')",
                    article(record.value.kind())
                ))
            })?;
            if object.is_empty() {
                return Err(ConnectError::user(format!(
                    "HSET needs at least one field, but the value is an empty object (redis key \
                     '{key}')"
                )));
            }
            for (field, value) in object {
                cmd.arg(field).arg(field_text(value));
            }
        }
        RedisCommand::Xadd => {
            if let Some(limit) = config.stream_maxlen {
                cmd.arg("MAXLEN").arg("~").arg(limit);
            }
            cmd.arg("*");
            match record.value.as_object() {
                Some(object) if object.is_empty() => {
                    return Err(ConnectError::user(format!(
                        "XADD needs at least one field, but the value is an empty object \
                         (redis key '{key}')"
                    )))
                }
                Some(object) => {
                    for (field, value) in object {
                        cmd.arg(field).arg(field_text(value));
                    }
                }
                None => {
                    cmd.arg("value").arg(payload(&record.value));
                }
            }
        }
        RedisCommand::Zadd => {
            let score = score(config, record, &key)?;
            let member = match record.key.is_null() {
                false => payload(&record.key),
                true => payload(&record.value),
            };
            // Display, not the redis crate's float encoding: `1700000000123`, not `…123.0`.
            cmd.arg(score.to_string()).arg(member);
        }
    }
    Ok(write(command.name(), cmd))
}

/// The bytes of a non-null key or value: bytes as they are, JSON strings unquoted,
/// other JSON serialized.
fn payload(data: &Data) -> Vec<u8> {
    match data {
        Data::Bytes(bytes) => bytes.to_vec(),
        other => other.to_text().unwrap_or_default().into_bytes(),
    }
}

/// A hash or stream field's value: strings as they are, anything else as JSON text.
fn field_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn score(config: &RedisSinkConfig, record: &Record, key: &str) -> Result<f64, ConnectError> {
    let Some(field) = &config.score_field else {
        return record.timestamp.map(|ms| ms as f64).ok_or_else(|| {
            ConnectError::user(format!(
                "ZADD scores by the record timestamp, but the record has none (redis key \
                 '{key}')"
            ))
        });
    };
    let value = record
        .value
        .as_object()
        .and_then(|object| object.get(field));
    let score = match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    score.filter(|s| s.is_finite()).ok_or_else(|| {
        let found = match value {
            Some(value) => format!("'{value}'"),
            None if record.value.as_object().is_some() => "no such field".to_string(),
            None => format!("{} value", article(record.value.kind())),
        };
        ConnectError::user(format!(
            "ZADD takes the score from the value field '{field}', which must hold a finite \
             number; found {found} (redis key '{key}')"
        ))
    })
}

fn article(kind: &str) -> String {
    match kind {
        "array" | "object" => format!("an {kind}"),
        "null" | "bytes" => kind.to_string(),
        _ => format!("a {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;
    use weir_connect::config::ConfigMap;
    use weir_connect::ErrorDomain;

    use super::*;
    use crate::redis_sink::config::{config_def, RedisSinkConfig};

    fn config(pairs: &[(&str, &str)]) -> RedisSinkConfig {
        let mut props: ConfigMap = weir_connect::config::config_map(pairs);
        props.insert("redis.uri".into(), "redis://127.0.0.1:1".into());
        RedisSinkConfig::from_parsed(&config_def().parse(&props).unwrap()).unwrap()
    }

    fn record(key: Data, value: Data) -> Record {
        let mut record = Record::new("orders", value);
        record.key = key;
        record.timestamp = Some(1_700_000_000_123);
        record
    }

    fn json(value: serde_json::Value) -> Data {
        Data::Json(value)
    }

    /// The command's arguments as text, e.g. `["SET", "k", "v"]`.
    fn args(write: &RecordWrite) -> Vec<String> {
        write
            .cmd
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                redis::Arg::Cursor => "<cursor>".into(),
            })
            .collect()
    }

    fn written(pairs: &[(&str, &str)], record: &Record) -> Vec<String> {
        args(&record_write(&config(pairs), record).unwrap())
    }

    fn failure(pairs: &[(&str, &str)], record: &Record) -> ConnectError {
        let err = record_write(&config(pairs), record).unwrap_err();
        assert_eq!(err.domain(), ErrorDomain::User, "{err}");
        assert!(!err.is_retryable());
        err
    }

    #[test]
    fn set_writes_the_value_text_under_the_key() {
        let r = record(json(json!("k1")), json(json!({"a": 1})));
        assert_eq!(written(&[], &r), ["SET", "k1", r#"{"a":1}"#]);
        let r = record(json(json!(7)), Data::Bytes(Bytes::from_static(b"raw")));
        assert_eq!(
            written(&[("redis.key", "${topic}:${key}")], &r),
            ["SET", "orders:7", "raw"]
        );
    }

    #[test]
    fn hset_writes_one_field_per_member() {
        let r = record(json(json!("u1")), json(json!({"age": 30, "name": "ann"})));
        assert_eq!(
            written(&[("redis.command", "HSET")], &r),
            ["HSET", "u1", "age", "30", "name", "ann"]
        );
        let err = failure(
            &[("redis.command", "HSET")],
            &record(json(json!("u1")), json(json!("x"))),
        );
        assert!(err.to_string().contains("the value is a string"), "{err}");
        let err = failure(
            &[("redis.command", "HSET")],
            &record(json(json!("u1")), json(json!({}))),
        );
        assert!(err.to_string().contains("empty object"), "{err}");
    }

    #[test]
    fn xadd_writes_fields_or_one_value_field() {
        let pairs = [("redis.command", "XADD"), ("redis.stream.maxlen", "100")];
        let r = record(Data::Null, json(json!({"id": 1, "s": "x"})));
        assert_eq!(
            written(&pairs, &r),
            ["XADD", "orders", "MAXLEN", "~", "100", "*", "id", "1", "s", "x"]
        );
        let r = record(Data::Null, json(json!([1, 2])));
        assert_eq!(
            written(&[("redis.command", "XADD")], &r),
            ["XADD", "orders", "*", "value", "[1,2]"]
        );
    }

    #[test]
    fn list_and_set_commands_add_the_value_text() {
        let r = record(Data::Null, json(json!("v")));
        for name in ["LPUSH", "RPUSH", "SADD"] {
            assert_eq!(
                written(&[("redis.command", name)], &r),
                [name, "orders", "v"]
            );
        }
    }

    #[test]
    fn zadd_scores_by_timestamp_or_field() {
        let r = record(json(json!("m1")), json(json!({"score": 2.5})));
        assert_eq!(
            written(&[("redis.command", "ZADD")], &r),
            ["ZADD", "orders", "1700000000123", "m1"]
        );
        let pairs = [
            ("redis.command", "ZADD"),
            ("redis.zset.score.field", "score"),
        ];
        assert_eq!(written(&pairs, &r), ["ZADD", "orders", "2.5", "m1"]);
        let keyless = record(Data::Null, json(json!({"score": "4"})));
        assert_eq!(
            written(&pairs, &keyless),
            ["ZADD", "orders", "4", r#"{"score":"4"}"#]
        );
        for bad in [json!({"score": "x"}), json!({"other": 1}), json!("nan")] {
            let err = failure(&pairs, &record(Data::Null, json(bad)));
            assert!(err.to_string().contains("'score'"), "{err}");
        }
        let mut untimed = record(Data::Null, json(json!(1)));
        untimed.timestamp = None;
        failure(&[("redis.command", "ZADD")], &untimed);
    }

    #[test]
    fn tombstones_delete_the_key_or_remove_the_member() {
        let tombstone = record(json(json!("k1")), Data::Null);
        assert_eq!(written(&[], &tombstone), ["DEL", "k1"]);
        assert_eq!(
            written(&[("redis.command", "HSET")], &tombstone),
            ["DEL", "k1"]
        );
        for name in ["XADD", "LPUSH", "RPUSH"] {
            assert_eq!(
                written(&[("redis.command", name)], &tombstone),
                ["DEL", "orders"]
            );
        }
        assert_eq!(
            written(&[("redis.command", "SADD")], &tombstone),
            ["SREM", "orders", "k1"]
        );
        assert_eq!(
            written(&[("redis.command", "ZADD")], &tombstone),
            ["ZREM", "orders", "k1"]
        );
        let err = failure(
            &[("redis.command", "SADD")],
            &record(Data::Null, Data::Null),
        );
        assert!(err.to_string().contains("key is null"), "{err}");
    }

    #[test]
    fn a_key_template_needing_a_null_key_fails_the_record() {
        let err = failure(&[], &record(Data::Null, json(json!("v"))));
        assert!(err.to_string().contains("${key}"), "{err}");
    }
}
