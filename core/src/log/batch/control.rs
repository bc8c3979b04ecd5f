//! Control batches: the transaction markers (COMMIT / ABORT) a transaction coordinator
//! writes to every partition of a transaction, and their parsing on replay.
//!
//! A control batch has the transactional and control attribute bits set, the
//! producer's id and epoch, base sequence -1, and one record (Kafka's
//! `EndTransactionMarker`), big-endian inside the record's key and value:
//!
//! ```text
//! key:   version: i16 (0), type: i16 (0 = ABORT, 1 = COMMIT)
//! value: version: i16 (0), coordinatorEpoch: i32
//! ```

use bytes::Bytes;

use super::record::{encode_batch, encode_record, Record, RecordIter};
use super::{RecordBatchHeader, CONTROL_BIT, HEADER_SIZE, TRANSACTIONAL_BIT};

/// The outcome a marker records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

impl ControlType {
    fn code(self) -> i16 {
        match self {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
        }
    }

    pub fn is_commit(self) -> bool {
        self == ControlType::Commit
    }
}

/// A transaction marker as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnMarker {
    pub control_type: ControlType,
    pub coordinator_epoch: i32,
}

/// Builds an uncompressed control batch (base offset 0, assigned by the log).
pub fn build_marker(
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
    timestamp: i64,
) -> Bytes {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&marker.control_type.code().to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    let record = Record {
        attributes: 0,
        timestamp_delta: 0,
        offset_delta: 0,
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(value)),
        headers: Vec::new(),
    };
    let mut section = Vec::with_capacity(32);
    encode_record(&mut section, &record, 0, 0);
    let header = RecordBatchHeader {
        base_offset: 0,
        batch_length: 0,
        partition_leader_epoch: -1,
        magic: super::MAGIC_V2,
        crc: 0,
        attributes: TRANSACTIONAL_BIT | CONTROL_BIT,
        last_offset_delta: 0,
        base_timestamp: timestamp,
        max_timestamp: timestamp,
        producer_id,
        producer_epoch,
        base_sequence: -1,
        records_count: 1,
    };
    Bytes::from(encode_batch(&header, &section))
}

/// The marker in a stored control batch (`batch` is the whole batch), or `None` when
/// its record is not a readable transaction marker (Kafka skips unknown control types).
pub fn parse_marker(batch: &Bytes) -> Option<EndTxnMarker> {
    let header = RecordBatchHeader::parse(batch)?;
    if !header.is_control() || header.compression() != 0 || batch.len() < HEADER_SIZE {
        return None;
    }
    let record = RecordIter::new(batch.slice(HEADER_SIZE..), 1)
        .next()?
        .ok()?;
    let key = record.key?;
    if key.len() < 4 {
        return None;
    }
    let control_type = match i16::from_be_bytes([key[2], key[3]]) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        _ => return None,
    };
    let coordinator_epoch = record
        .value
        .filter(|v| v.len() >= 6)
        .map_or(0, |v| i32::from_be_bytes([v[2], v[3], v[4], v[5]]));
    Some(EndTxnMarker {
        control_type,
        coordinator_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::check_stored;

    #[test]
    fn markers_round_trip_and_carry_the_control_attributes() {
        for control_type in [ControlType::Abort, ControlType::Commit] {
            let marker = EndTxnMarker {
                control_type,
                coordinator_epoch: 7,
            };
            let batch = build_marker(42, 3, marker, 1_000);
            let header = check_stored(&batch).unwrap();
            assert!(header.is_control() && header.is_transactional());
            assert_eq!(
                (
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence
                ),
                (42, 3, -1)
            );
            assert_eq!(header.records_count, 1);
            assert_eq!(parse_marker(&batch), Some(marker));
        }
    }

    #[test]
    fn a_data_batch_is_no_marker() {
        let mut builder = super::super::RecordBatchBuilder::new();
        builder.push(1, Some(b"k"), Some(b"v"));
        assert_eq!(parse_marker(&builder.build()), None);
    }
}
