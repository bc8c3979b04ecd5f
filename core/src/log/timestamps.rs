//! ListOffsets support: the first record at or after a timestamp, and the record with the
//! largest timestamp. Segments and time indexes narrow the search to one batch; only that
//! batch is read, and its records are looked at only when uncompressed.

use super::batch::{records::RecordPositions, RecordBatchHeader};
use super::config::TimestampType;
use super::error::LogError;
use super::local_log::Log;
use super::segment::Segment;

impl Log {
    /// First record whose timestamp is `>= ts`, as `(offset, timestamp)`, for
    /// ListOffsets by timestamp. Finds the first segment whose largest timestamp reaches
    /// `ts`, then the first batch there whose maxTimestamp does (time index, then offset
    /// index, then a header scan). Inside an uncompressed batch the records are scanned
    /// for the exact record, as Kafka does. Compressed batches are not decompressed: the
    /// answer is the batch's first offset (so a consumer starting there misses nothing)
    /// with the batch's maxTimestamp; for LogAppendTime batches that is exact. Offsets
    /// below the log start are never returned.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        for segment in self.segments.values() {
            if segment.max_timestamp() < ts || segment.size() == 0 {
                continue;
            }
            let Some((mut pos, mut header)) = segment.find_batch_by_timestamp(ts)? else {
                continue;
            };
            loop {
                if header.max_timestamp >= ts && header.last_offset() >= self.log_start_offset {
                    if let Some(found) = self.record_at_or_after(segment, pos, &header, ts)? {
                        return Ok(Some(found));
                    }
                }
                pos += header.total_size() as u64;
                match segment.find_batch_at(pos)? {
                    Some(next) => header = next,
                    None => break,
                }
            }
        }
        Ok(None)
    }

    fn record_at_or_after(
        &self,
        segment: &Segment,
        pos: u64,
        header: &RecordBatchHeader,
        ts: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        if header.compression() != 0 || header.timestamp_type() == TimestampType::LogAppendTime {
            let offset = header.base_offset.max(self.log_start_offset);
            return Ok(Some((offset, header.max_timestamp)));
        }
        let bytes = segment.read_batch(pos, header)?;
        let found = RecordPositions::new(&bytes).and_then(|mut records| {
            records.find(|r| r.timestamp >= ts && r.offset >= self.log_start_offset)
        });
        // The header promises a record at or after `ts`; if the records cannot be read
        // (a producer bug the CRC does not catch), answer as for a compressed batch.
        Ok(Some(found.map_or(
            (
                header.base_offset.max(self.log_start_offset),
                header.max_timestamp,
            ),
            |r| (r.offset, r.timestamp),
        )))
    }

    /// The largest timestamp in the log and the offset of the first record carrying it,
    /// for ListOffsets MAX_TIMESTAMP. The record is exact for uncompressed CreateTime
    /// batches and LogAppendTime batches; for compressed CreateTime batches it is the
    /// batch's first offset. `None` for an empty log.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        if self.log_start_offset >= self.log_end_offset {
            return None;
        }
        let mut best: Option<&Segment> = None;
        for segment in self.segments.values() {
            if segment.size() > 0
                && best.is_none_or(|b| segment.max_timestamp() > b.max_timestamp())
            {
                best = Some(segment);
            }
        }
        let segment = best?;
        let (timestamp, shallow) = (segment.max_timestamp(), segment.offset_of_max_timestamp());
        // The segment knows the batch (by its last offset); look inside for the record.
        // An I/O error here only costs precision, so it degrades to the batch's offset.
        let exact = (|| -> Result<Option<i64>, LogError> {
            let Some((pos, header)) = segment.find_batch(shallow)? else {
                return Ok(None);
            };
            if header.compression() != 0 || header.timestamp_type() == TimestampType::LogAppendTime
            {
                return Ok(Some(header.base_offset));
            }
            let bytes = segment.read_batch(pos, &header)?;
            Ok(RecordPositions::new(&bytes)
                .and_then(|mut records| records.find(|r| r.timestamp == timestamp))
                .map(|r| r.offset)
                .or(Some(header.base_offset)))
        })();
        let offset = match exact {
            Ok(Some(offset)) => offset,
            Ok(None) => shallow,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "reading the max-timestamp batch: {e}");
                shallow
            }
        };
        Some((timestamp, offset))
    }
}
