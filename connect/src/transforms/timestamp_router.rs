//! `TimestampRouter`: renames the topic from the record's topic and timestamp, e.g.
//! `logs` → `logs-20240229`, so a sink can write into time-partitioned indexes or
//! tables. The timestamp is formatted in UTC; a record without one is an error.

use crate::config::{ConfigDef, ConfigIssue, ConfigKey, ConfigType};
use crate::{ConnectError, Record};

use super::date_format::DateFormat;
use super::field::Label;
use super::registry::Settings;
use super::Transform;

pub(super) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                "topic.format",
                ConfigType::String,
                "Format string which can contain ${topic} and ${timestamp} as placeholders \
                 for the topic and timestamp, respectively.",
            )
            .default_value("${topic}-${timestamp}"),
        )
        .define(
            ConfigKey::new(
                "timestamp.format",
                ConfigType::String,
                "Format string for the timestamp, in java.text.SimpleDateFormat's letters \
                 (yyyy, MM, dd, HH, mm, ss, SSS), in UTC.",
            )
            .default_value("yyyyMMdd"),
        )
}

#[derive(Debug)]
struct TimestampRouter {
    label: Label,
    topic_format: String,
    timestamp_format: DateFormat,
}

pub(super) fn build(
    label: Label,
    settings: &Settings,
) -> Result<Box<dyn Transform>, Vec<ConfigIssue>> {
    let pattern = settings.string("timestamp.format").unwrap_or_default();
    let timestamp_format = DateFormat::parse(pattern)
        .map_err(|why| vec![settings.invalid("timestamp.format", pattern, why)])?;
    Ok(Box::new(TimestampRouter {
        label,
        topic_format: settings
            .string("topic.format")
            .unwrap_or_default()
            .to_string(),
        timestamp_format,
    }))
}

impl Transform for TimestampRouter {
    fn keeps_schemas(&self) -> bool {
        true
    }

    fn apply(&self, mut record: Record) -> Result<Option<Record>, ConnectError> {
        let Some(timestamp) = record.timestamp else {
            return Err(self.label.error(format_args!(
                "record on topic {} has no timestamp to route by",
                record.topic
            )));
        };
        let topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &self.timestamp_format.format(timestamp));
        record.topic = topic;
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::field::test_support::json_record;
    use super::super::registry::{transform, try_transform};

    #[test]
    fn routes_by_day_by_default() {
        let t = transform("org.apache.kafka.connect.transforms.TimestampRouter", &[]);
        let mut record = json_record("logs", json!({}));
        record.timestamp = Some(1_709_211_909_007);
        assert_eq!(t.apply(record).unwrap().unwrap().topic, "logs-20240229");
    }

    #[test]
    fn custom_formats() {
        let t = transform(
            "TimestampRouter",
            &[
                ("topic.format", "${timestamp}_${topic}"),
                ("timestamp.format", "yyyy.MM.dd-HH"),
            ],
        );
        let mut record = json_record("logs", json!({}));
        record.timestamp = Some(1_709_211_909_007);
        assert_eq!(
            t.apply(record).unwrap().unwrap().topic,
            "2024.02.29-13_logs"
        );
    }

    #[test]
    fn a_record_without_timestamp_is_a_user_error() {
        let t = transform("TimestampRouter", &[]);
        let err = t.apply(json_record("logs", json!({}))).unwrap_err();
        assert_eq!(err.domain(), crate::ErrorDomain::User);
        assert_eq!(
            err.to_string(),
            "t (TimestampRouter): record on topic logs has no timestamp to route by"
        );
    }

    #[test]
    fn bad_patterns_are_config_issues() {
        let issues =
            try_transform("TimestampRouter", &[("timestamp.format", "yyyy-QQ")]).unwrap_err();
        assert_eq!(issues[0].key, "transforms.t.timestamp.format");
        assert!(issues[0].message.contains("unsupported pattern letter 'Q'"));
    }
}
