//! `__transaction_state` records in Kafka's layouts (`TransactionLogKey` and
//! `TransactionLogValue` version 0), all integers big-endian, strings as an i16
//! length and UTF-8 bytes:
//!
//! ```text
//! key:   version: i16 (0), transactionalId: string
//! value: version: i16 (0), producerId: i64, producerEpoch: i16,
//!        transactionTimeoutMs: i32, transactionStatus: i8,
//!        transactionPartitions: i32 count (-1 = null), then per topic:
//!            topic: string, partitionIds: i32 count, i32 each
//!        transactionLastUpdateTimestampMs: i64, transactionStartTimestampMs: i64
//! ```
//!
//! A tombstone (null value) removes an expired transactional id. Decoding is bounded:
//! every count is checked against the bytes left before anything is allocated.

use std::collections::BTreeSet;

use super::state::{TxnMetadata, TxnState};

const KEY_VERSION: i16 = 0;
const VALUE_VERSION: i16 = 0;

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed __transaction_state record: {0}")]
pub struct RecordError(pub &'static str);

pub(crate) fn encode_key(transactional_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + transactional_id.len());
    out.extend_from_slice(&KEY_VERSION.to_be_bytes());
    put_string(&mut out, transactional_id);
    out
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<String, RecordError> {
    let mut r = Reader(bytes);
    let version = r.i16()?;
    if version != KEY_VERSION {
        return Err(RecordError("unknown key version"));
    }
    r.string()
}

pub(crate) fn encode_value(meta: &TxnMetadata) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&meta.producer_id.to_be_bytes());
    out.extend_from_slice(&meta.producer_epoch.to_be_bytes());
    out.extend_from_slice(&meta.timeout_ms.to_be_bytes());
    out.push(meta.state.code() as u8);
    let mut topics: Vec<(&str, Vec<i32>)> = Vec::new();
    for (topic, partition) in &meta.partitions {
        match topics.last_mut() {
            Some((last, partitions)) if *last == topic.as_str() => partitions.push(*partition),
            _ => topics.push((topic, vec![*partition])),
        }
    }
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for (topic, partitions) in topics {
        put_string(&mut out, topic);
        out.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
        for p in partitions {
            out.extend_from_slice(&p.to_be_bytes());
        }
    }
    out.extend_from_slice(&meta.last_update_ms.to_be_bytes());
    out.extend_from_slice(&meta.start_ms.to_be_bytes());
    out
}

pub(crate) fn decode_value(
    transactional_id: String,
    bytes: &[u8],
) -> Result<TxnMetadata, RecordError> {
    let mut r = Reader(bytes);
    if r.i16()? != VALUE_VERSION {
        return Err(RecordError("unknown value version"));
    }
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let state = TxnState::from_code(r.i8()?).ok_or(RecordError("unknown transaction status"))?;
    let mut partitions = BTreeSet::new();
    let topics = r.i32()?;
    for _ in 0..topics.max(0) {
        let topic = r.string()?;
        let count = r.i32()?;
        let count = usize::try_from(count).map_err(|_| RecordError("negative partition count"))?;
        if count > r.0.len() / 4 {
            return Err(RecordError("partition count beyond the record"));
        }
        for _ in 0..count {
            partitions.insert((topic.clone(), r.i32()?));
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    Ok(TxnMetadata {
        transactional_id,
        producer_id,
        last_producer_id: -1,
        producer_epoch,
        last_producer_epoch: -1,
        timeout_ms,
        state,
        partitions,
        last_update_ms,
        start_ms,
    })
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn string(&mut self) -> Result<String, RecordError> {
        let len =
            usize::try_from(self.i16()?).map_err(|_| RecordError("negative string length"))?;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| RecordError("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut meta = TxnMetadata::new("app-1".into(), 4000, 60_000, 17);
        meta.producer_epoch = 3;
        meta.state = TxnState::PrepareCommit;
        meta.start_ms = 11;
        meta.partitions.insert(("orders".into(), 2));
        meta.partitions.insert(("orders".into(), 0));
        meta.partitions.insert(("__consumer_offsets".into(), 31));
        let key = encode_key("app-1");
        assert_eq!(decode_key(&key).unwrap(), "app-1");
        let value = encode_value(&meta);
        assert_eq!(decode_value("app-1".into(), &value).unwrap(), meta);
    }

    #[test]
    fn damaged_records_are_errors() {
        let meta = TxnMetadata::new("t".into(), 1, 1, 1);
        let value = encode_value(&meta);
        for cut in 0..value.len() {
            assert!(
                decode_value("t".into(), &value[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut huge = value.clone();
        // One topic claiming 2^30 partitions.
        huge.truncate(2 + 8 + 2 + 4 + 1);
        huge.extend_from_slice(&1i32.to_be_bytes());
        huge.extend_from_slice(&1i16.to_be_bytes());
        huge.push(b'x');
        huge.extend_from_slice(&(1i32 << 30).to_be_bytes());
        assert!(decode_value("t".into(), &huge).is_err());
        assert!(decode_key(&[0, 1, 0]).is_err());
    }
}
