//! An incremental snapshot's progress as the offsets store it, under Debezium's names.

use std::collections::VecDeque;

use serde_json::{json, Value};
use weir_connect::SourceOffset;

use crate::postgres::position::{
    INCREMENTAL_COLLECTIONS, INCREMENTAL_COLLECTION_CONDITION, INCREMENTAL_COLLECTION_ID,
    INCREMENTAL_COLLECTION_SURROGATE_KEY, INCREMENTAL_MAXIMUM_KEY, INCREMENTAL_PRIMARY_KEY,
};

/// A table waiting for, or in, its incremental snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Collection {
    /// `<schema>.<table>`.
    pub(super) id: String,
    /// An `additional-conditions` filter, SQL for the WHERE clause.
    pub(super) condition: Option<String>,
}

/// What is stored in the offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Progress {
    /// The first is being read.
    pub(super) collections: VecDeque<Collection>,
    /// The primary key of the last row read of the first table, as text values.
    pub(super) last_key: Option<Vec<String>>,
    /// The first table's largest key when its snapshot began: rows inserted after
    /// it stream anyway.
    pub(super) max_key: Option<Vec<String>>,
}

impl Progress {
    pub(super) fn fields(&self) -> Vec<(&'static str, Value)> {
        if self.collections.is_empty() {
            return Vec::new();
        }
        let collections: Vec<Value> = self
            .collections
            .iter()
            .map(|c| {
                json!({
                    INCREMENTAL_COLLECTION_ID: c.id,
                    INCREMENTAL_COLLECTION_CONDITION: c.condition,
                    INCREMENTAL_COLLECTION_SURROGATE_KEY: Value::Null,
                })
            })
            .collect();
        let key = |k: &Option<Vec<String>>| match k {
            Some(values) => Value::String(json!(values).to_string()),
            None => Value::Null,
        };
        vec![
            (
                INCREMENTAL_COLLECTIONS,
                Value::String(Value::Array(collections).to_string()),
            ),
            (INCREMENTAL_PRIMARY_KEY, key(&self.last_key)),
            (INCREMENTAL_MAXIMUM_KEY, key(&self.max_key)),
        ]
    }

    /// The progress in a stored offset; `None` when it has none or it is unreadable.
    pub(super) fn from_offset(offset: &SourceOffset) -> Option<Progress> {
        let text = offset.get(INCREMENTAL_COLLECTIONS)?.as_str()?;
        let entries: Vec<Value> = serde_json::from_str(text).ok()?;
        let collections = entries
            .iter()
            .map(|e| {
                Some(Collection {
                    id: e.get(INCREMENTAL_COLLECTION_ID)?.as_str()?.to_string(),
                    condition: e
                        .get(INCREMENTAL_COLLECTION_CONDITION)
                        .and_then(Value::as_str)
                        .map(String::from),
                })
            })
            .collect::<Option<VecDeque<_>>>()?;
        let key = |name: &str| -> Option<Option<Vec<String>>> {
            match offset.get(name) {
                None | Some(Value::Null) => Some(None),
                Some(Value::String(text)) => serde_json::from_str(text).ok().map(Some),
                Some(_) => None,
            }
        };
        Some(Progress {
            collections,
            last_key: key(INCREMENTAL_PRIMARY_KEY)?,
            max_key: key(INCREMENTAL_MAXIMUM_KEY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_through_offsets() {
        let progress = Progress {
            collections: VecDeque::from([
                Collection {
                    id: "public.a".into(),
                    condition: Some("color = 'blue'".into()),
                },
                Collection {
                    id: "public.b".into(),
                    condition: None,
                },
            ]),
            last_key: Some(vec!["7".into(), "x'y".into()]),
            max_key: Some(vec!["20".into(), "z".into()]),
        };
        let mut offset = json!({"lsn": 10});
        let Value::Object(map) = &mut offset else {
            unreachable!()
        };
        for (k, v) in progress.fields() {
            map.insert(k.into(), v);
        }
        assert!(offset[INCREMENTAL_COLLECTIONS].is_string());
        assert_eq!(Progress::from_offset(&offset), Some(progress));
        assert_eq!(Progress::default().fields(), vec![]);
        assert_eq!(Progress::from_offset(&json!({"lsn": 10})), None);
        assert_eq!(
            Progress::from_offset(&json!({INCREMENTAL_COLLECTIONS: "not json"})),
            None
        );
    }
}
