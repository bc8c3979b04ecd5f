//! The Redis sink's keys, declared once in a [`ConfigDef`], and the typed config a task
//! runs with.

use std::time::Duration;

use weir_connect::config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigType, Importance, ParsedConfig, Secret, Validator,
};

use super::command::RedisCommand;
use super::template::KeyTemplate;
use super::uri::RedisUri;

pub(crate) const URI: &str = "redis.uri";
pub(crate) const PASSWORD: &str = "redis.password";
pub(crate) const USERNAME: &str = "redis.username";
pub(crate) const COMMAND: &str = "redis.command";
pub(crate) const KEY: &str = "redis.key";
pub(crate) const ZSET_SCORE_FIELD: &str = "redis.zset.score.field";
pub(crate) const STREAM_MAXLEN: &str = "redis.stream.maxlen";
pub(crate) const TIMEOUT_MS: &str = "redis.timeout.ms";

const GROUP: &str = "Redis";

pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                URI,
                ConfigType::String,
                "Where Redis is: redis://[user@]host[:port][/db]. No password here: use \
                 redis.password.",
            )
            .importance(Importance::High)
            .group(GROUP)
            .validator(Validator::NonEmpty),
        )
        .define(
            ConfigKey::new(PASSWORD, ConfigType::Password, "The password (AUTH).")
                .optional()
                .importance(Importance::High)
                .group(GROUP),
        )
        .define(
            ConfigKey::new(
                USERNAME,
                ConfigType::String,
                "The ACL user; the URI's user if unset, else 'default'.",
            )
            .optional()
            .group(GROUP),
        )
        .define(
            ConfigKey::new(
                COMMAND,
                ConfigType::String,
                "How each record is written: SET, HSET, XADD, LPUSH, RPUSH, SADD or ZADD.",
            )
            .default_value("SET")
            .importance(Importance::High)
            .group(GROUP)
            .validator(Validator::OneOf(RedisCommand::NAMES)),
        )
        .define(
            ConfigKey::new(
                KEY,
                ConfigType::String,
                "The Redis key, a template with ${topic} and ${key}. Default: ${key} for SET \
                 and HSET, ${topic} for XADD, LPUSH, RPUSH, SADD and ZADD.",
            )
            .optional()
            .group(GROUP),
        )
        .define(
            ConfigKey::new(
                ZSET_SCORE_FIELD,
                ConfigType::String,
                "ZADD only: the value field holding the score. Default: the record \
                 timestamp in milliseconds.",
            )
            .optional()
            .group(GROUP),
        )
        .define(
            ConfigKey::new(
                STREAM_MAXLEN,
                ConfigType::Long,
                "XADD only: trim the stream to about this many entries (MAXLEN ~).",
            )
            .optional()
            .group(GROUP)
            .validator(Validator::Range {
                min: Some(1.0),
                max: None,
            }),
        )
        .define(
            ConfigKey::new(
                TIMEOUT_MS,
                ConfigType::Long,
                "How long to wait for a connection or a reply, in milliseconds.",
            )
            .default_value("5000")
            .group(GROUP)
            .validator(Validator::Range {
                min: Some(1.0),
                max: None,
            }),
        )
}

/// What a task runs with. `Debug` is safe to log: the password is a [`Secret`].
#[derive(Debug, Clone)]
pub(crate) struct RedisSinkConfig {
    pub(crate) uri: RedisUri,
    pub(crate) password: Option<Secret>,
    pub(crate) command: RedisCommand,
    pub(crate) key: KeyTemplate,
    pub(crate) score_field: Option<String>,
    pub(crate) stream_maxlen: Option<u64>,
    pub(crate) timeout: Duration,
}

impl RedisSinkConfig {
    /// The typed config, or every problem with it.
    pub(crate) fn from_parsed(config: &ParsedConfig) -> Result<RedisSinkConfig, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut uri = match RedisUri::parse(config.string(URI).unwrap_or_default()) {
            Ok(uri) => Some(uri),
            Err(message) => {
                issues.push(
                    ConfigIssue::new(URI, format!("Invalid redis.uri: {message}"))
                        .with_hint("e.g. redis://127.0.0.1:6379/0"),
                );
                None
            }
        };
        if let (Some(uri), Some(user)) = (uri.as_mut(), config.string(USERNAME)) {
            match &uri.username {
                Some(in_uri) if in_uri != user => issues.push(
                    ConfigIssue::new(
                        USERNAME,
                        format!("redis.username '{user}' differs from the user in redis.uri"),
                    )
                    .with_hint("name the user in one place only"),
                ),
                _ => uri.username = Some(user.to_string()),
            }
        }
        let command = config
            .string(COMMAND)
            .and_then(RedisCommand::from_name)
            .unwrap_or(RedisCommand::Set);
        let template = config.string(KEY).unwrap_or(command.default_key());
        let key = KeyTemplate::parse(template)
            .map_err(|message| {
                issues.push(
                    ConfigIssue::new(KEY, format!("Invalid redis.key: {message}"))
                        .with_hint("e.g. orders:${key} or events:${topic}"),
                )
            })
            .ok();
        let score_field = config.string(ZSET_SCORE_FIELD).map(str::to_string);
        if score_field.is_some() && command != RedisCommand::Zadd {
            issues.push(only_for(ZSET_SCORE_FIELD, "ZADD", command));
        }
        let stream_maxlen = config.long(STREAM_MAXLEN).map(|n| n.unsigned_abs());
        if stream_maxlen.is_some() && command != RedisCommand::Xadd {
            issues.push(only_for(STREAM_MAXLEN, "XADD", command));
        }
        let timeout = Duration::from_millis(config.long(TIMEOUT_MS).unwrap_or(5000).unsigned_abs());
        match (uri, key) {
            (Some(uri), Some(key)) if issues.is_empty() => Ok(RedisSinkConfig {
                uri,
                password: config.password(PASSWORD).cloned(),
                command,
                key,
                score_field,
                stream_maxlen,
                timeout,
            }),
            _ => Err(issues),
        }
    }
}

fn only_for(key: &str, command: &str, actual: RedisCommand) -> ConfigIssue {
    ConfigIssue::new(
        key,
        format!(
            "{key} applies only to redis.command {command}, not {}",
            actual.name()
        ),
    )
    .with_hint(format!("remove {key} or set redis.command: {command}"))
}

#[cfg(test)]
mod tests {
    use weir_connect::config::ConfigMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<RedisSinkConfig, Vec<ConfigIssue>> {
        let props: ConfigMap = weir_connect::config::config_map(pairs);
        let parsed = config_def().parse(&props)?;
        RedisSinkConfig::from_parsed(&parsed)
    }

    #[test]
    fn defaults_follow_the_command() {
        let set = parse(&[(URI, "redis://127.0.0.1:6379")]).unwrap();
        assert_eq!(set.command, RedisCommand::Set);
        assert_eq!(set.key, KeyTemplate::parse("${key}").unwrap());
        assert_eq!(set.timeout, Duration::from_millis(5000));
        let push = parse(&[(URI, "redis://h:1"), (COMMAND, "RPUSH")]).unwrap();
        assert_eq!(push.key, KeyTemplate::parse("${topic}").unwrap());
    }

    #[test]
    fn the_password_is_a_secret_and_the_user_may_come_from_either_key() {
        let config = parse(&[
            (URI, "redis://h:1/2"),
            (PASSWORD, "s3cret"),
            (USERNAME, "app"),
        ])
        .unwrap();
        assert_eq!(config.password.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(config.uri.username.as_deref(), Some("app"));
        assert!(!format!("{config:?}").contains("s3cret"));
        let issues = parse(&[(URI, "redis://ops@h:1"), (USERNAME, "app")]).unwrap_err();
        assert_eq!(issues[0].key, USERNAME);
    }

    #[test]
    fn reports_every_problem_without_echoing_a_password_in_the_uri() {
        let issues = parse(&[
            (URI, "redis://app:s3cret@h:1"),
            (KEY, "${nope}"),
            (ZSET_SCORE_FIELD, "score"),
            (STREAM_MAXLEN, "10"),
        ])
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, [URI, KEY, ZSET_SCORE_FIELD, STREAM_MAXLEN]);
        assert!(issues.iter().all(|i| !i.to_string().contains("s3cret")));
        assert!(issues[0].message.contains("set redis.password instead"));
    }

    #[test]
    fn rejects_an_unknown_command() {
        let issues = parse(&[(URI, "redis://h:1"), (COMMAND, "GETSET")]).unwrap_err();
        assert_eq!(issues[0].key, COMMAND);
    }
}
