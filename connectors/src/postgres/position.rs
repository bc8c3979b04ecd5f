//! The positions stored with each record, under Debezium's offset names, and where a
//! restart resumes from them.
//!
//! The replication protocol can only restart at a transaction boundary, so a position
//! inside a transaction keeps two things: `lsn`, the end of the last whole
//! transaction (where streaming restarts), and `lsn_commit`/`lsn_proc`, which
//! transaction was being read and its last change delivered, so the changes before it
//! are skipped when the transaction arrives again. The last record of a transaction
//! carries `lsn` = the transaction's end and no `lsn_proc`: nothing to skip.

use serde_json::{json, Map, Value};
use weir_connect::{SourceOffset, SourcePartition};

/// An incremental snapshot's progress (`incremental.rs`), under Debezium's names:
/// the tables left as a JSON array of `{…_id, …_additional_condition,
/// …_surrogate_key}`, and the last key read and the table's maximum key, each a JSON
/// array of the key columns' text values (where Debezium writes serialized Java
/// objects in hex).
pub(crate) const INCREMENTAL_COLLECTIONS: &str = "incremental_snapshot_collections";
pub(crate) const INCREMENTAL_COLLECTION_ID: &str = "incremental_snapshot_collections_id";
pub(crate) const INCREMENTAL_COLLECTION_CONDITION: &str =
    "incremental_snapshot_collections_additional_condition";
pub(crate) const INCREMENTAL_COLLECTION_SURROGATE_KEY: &str =
    "incremental_snapshot_collections_surrogate_key";
pub(crate) const INCREMENTAL_PRIMARY_KEY: &str = "incremental_snapshot_primary_key";
pub(crate) const INCREMENTAL_MAXIMUM_KEY: &str = "incremental_snapshot_maximum_key";

/// `{"server": <topic.prefix>}`, Debezium's source partition.
pub(crate) fn partition(prefix: &str) -> SourcePartition {
    json!({ "server": prefix })
}

/// A position as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Position {
    /// Where streaming restarts: the end of the last whole transaction (or the slot's
    /// starting point after a snapshot).
    pub(crate) lsn: u64,
    /// The transaction being read when this record was made, by its commit LSN.
    pub(crate) lsn_commit: Option<u64>,
    /// The last change of that transaction whose records all precede this one.
    pub(crate) lsn_proc: Option<u64>,
    pub(crate) tx_id: Option<u32>,
    pub(crate) ts_us: Option<i64>,
    /// A snapshot record; `last_snapshot_record` marks the snapshot's end.
    pub(crate) snapshot: bool,
    pub(crate) last_snapshot_record: bool,
}

impl Position {
    pub(crate) fn to_offset(self) -> SourceOffset {
        let mut map = Map::new();
        map.insert("lsn".into(), json!(self.lsn));
        if let Some(lsn) = self.lsn_commit {
            map.insert("lsn_commit".into(), json!(lsn));
        }
        if let Some(lsn) = self.lsn_proc {
            map.insert("lsn_proc".into(), json!(lsn));
        }
        if let Some(tx) = self.tx_id {
            map.insert("txId".into(), json!(tx));
        }
        if let Some(ts) = self.ts_us {
            map.insert("ts_usec".into(), json!(ts));
        }
        if self.snapshot {
            map.insert("snapshot".into(), json!(true));
            map.insert(
                "last_snapshot_record".into(),
                json!(self.last_snapshot_record),
            );
        }
        Value::Object(map)
    }

    /// A stored offset; `None` when it is not one this connector wrote.
    pub(crate) fn from_offset(offset: &SourceOffset) -> Option<Position> {
        let u64_of = |k: &str| offset.get(k).and_then(Value::as_u64);
        Some(Position {
            lsn: u64_of("lsn")?,
            lsn_commit: u64_of("lsn_commit"),
            lsn_proc: u64_of("lsn_proc"),
            tx_id: u64_of("txId").map(|t| t as u32),
            ts_us: offset.get("ts_usec").and_then(Value::as_i64),
            snapshot: offset
                .get("snapshot")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            last_snapshot_record: offset
                .get("last_snapshot_record")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// Whether this position is inside a snapshot that did not finish.
    pub(crate) fn in_unfinished_snapshot(&self) -> bool {
        self.snapshot && !self.last_snapshot_record
    }

    /// What to skip when streaming restarts here: `(commit LSN, last delivered change)`.
    pub(crate) fn skip(&self) -> Option<(u64, u64)> {
        Some((self.lsn_commit?, self.lsn_proc?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_offsets() {
        let inside = Position {
            lsn: 100,
            lsn_commit: Some(180),
            lsn_proc: Some(150),
            tx_id: Some(731),
            ts_us: Some(1_700_000_000_000_000),
            snapshot: false,
            last_snapshot_record: false,
        };
        let offset = inside.to_offset();
        assert_eq!(
            offset,
            json!({"lsn": 100, "lsn_commit": 180, "lsn_proc": 150, "txId": 731,
                   "ts_usec": 1_700_000_000_000_000_i64})
        );
        assert_eq!(Position::from_offset(&offset), Some(inside));
        assert_eq!(inside.skip(), Some((180, 150)));
    }

    #[test]
    fn a_whole_transaction_skips_nothing() {
        let end = Position {
            lsn: 200,
            tx_id: Some(731),
            ..Position::default()
        };
        assert_eq!(
            Position::from_offset(&end.to_offset()).unwrap().skip(),
            None
        );
    }

    #[test]
    fn snapshot_positions_say_whether_it_finished() {
        let during = Position {
            lsn: 50,
            snapshot: true,
            ..Position::default()
        };
        assert!(Position::from_offset(&during.to_offset())
            .unwrap()
            .in_unfinished_snapshot());
        let last = Position {
            last_snapshot_record: true,
            ..during
        };
        assert!(!Position::from_offset(&last.to_offset())
            .unwrap()
            .in_unfinished_snapshot());
        assert_eq!(Position::from_offset(&json!({"position": 3})), None);
    }
}
