//! What the field transforms share: the side of the record they work on (Kafka's
//! `$Key` / `$Value` variants), how a configured transform names itself in errors, and
//! the JSON object check with its pass-through for tombstones.

use std::fmt;

use serde_json::{Map, Value};

use crate::{ConnectError, Data, Record};

/// The key or the value: Kafka's `$Key` and `$Value` variants of a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Key,
    Value,
}

impl Side {
    pub(super) fn name(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }

    pub(super) fn of(self, record: &Record) -> &Data {
        match self {
            Side::Key => &record.key,
            Side::Value => &record.value,
        }
    }

    pub(super) fn of_mut(self, record: &mut Record) -> &mut Data {
        match self {
            Side::Key => &mut record.key,
            Side::Value => &mut record.value,
        }
    }
}

/// A configured transform's name in errors, `addHost (InsertField$Value)`, so a failing
/// record points at the alias to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Label {
    pub(super) alias: String,
    /// The short type name, e.g. `InsertField$Value`.
    pub(super) type_name: &'static str,
}

impl Label {
    pub(super) fn new(alias: impl Into<String>, type_name: &'static str) -> Label {
        Label {
            alias: alias.into(),
            type_name,
        }
    }

    /// A user error about a record, prefixed with this label.
    pub(super) fn error(&self, message: impl fmt::Display) -> ConnectError {
        ConnectError::user(format!("{self}: {message}"))
    }

    /// The error for a key or value that is not a JSON object.
    pub(super) fn not_an_object(&self, side: Side, kind: &str) -> ConnectError {
        let side = side.name();
        self.error(format_args!(
            "needs a JSON object {side}, got {kind}; set {side}.converter=json"
        ))
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.alias, self.type_name)
    }
}

/// Takes the key or value object out of `record` for editing, leaving null in its
/// place; put it back with [`put_object`]. `Ok(None)` for a null key or a tombstone,
/// which field transforms pass through unchanged as Kafka Connect does. On error the
/// record is left as it was.
pub(super) fn take_object(
    label: &Label,
    side: Side,
    record: &mut Record,
) -> Result<Option<Map<String, Value>>, ConnectError> {
    let data = side.of_mut(record);
    if data.is_null() {
        return Ok(None);
    }
    match std::mem::replace(data, Data::Null) {
        Data::Json(Value::Object(map)) => Ok(Some(map)),
        other => {
            let kind = other.kind();
            *data = other;
            Err(label.not_an_object(side, kind))
        }
    }
}

pub(super) fn put_object(side: Side, record: &mut Record, map: Map<String, Value>) {
    *side.of_mut(record) = Data::Json(Value::Object(map));
}

#[cfg(test)]
pub(super) mod test_support {
    use serde_json::Value;

    use crate::{Data, Record};

    /// A record on `topic` with a JSON value.
    pub(in crate::transforms) fn json_record(topic: &str, value: Value) -> Record {
        Record::new(topic, Data::Json(value))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_alias_and_the_converter_to_set() {
        let label = Label::new("addHost", "InsertField$Value");
        let mut record = Record::new("t", Data::Json(json!("text")));
        let err = take_object(&label, Side::Value, &mut record).unwrap_err();
        assert_eq!(
            err.to_string(),
            "addHost (InsertField$Value): needs a JSON object value, got string; \
             set value.converter=json"
        );
        assert_eq!(record.value, Data::Json(json!("text")), "left as it was");
    }

    #[test]
    fn tombstones_are_not_taken() {
        let label = Label::new("a", "MaskField$Value");
        let mut record = Record::new("t", Data::Null);
        assert_eq!(take_object(&label, Side::Value, &mut record).unwrap(), None);
    }
}
