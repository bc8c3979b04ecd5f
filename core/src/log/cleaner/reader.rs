//! Reading an inactive segment's batches sequentially, off the partition owner.
//!
//! The cleaner opens the `.log` by path. Inactive segments never change while they
//! exist; if retention deletes one meanwhile, an already open file stays readable and a
//! later open fails, which aborts the pass (the swap would be refused anyway).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use crate::log::batch::{Batch, RecordBatchHeader, HEADER_SIZE, LOG_OVERHEAD};
use crate::log::error::LogError;

/// Read-ahead per segment: few large reads rather than two per batch.
const READ_AHEAD: usize = 1 << 20;

#[derive(Debug)]
pub(super) struct SegmentReader {
    path: PathBuf,
    file: BufReader<File>,
    position: u64,
    size: u64,
}

impl SegmentReader {
    /// Opens `path`, of which the first `size` bytes (the size when the snapshot was
    /// taken) are read.
    pub(super) fn open(path: &Path, size: u64) -> Result<SegmentReader, LogError> {
        let file = File::open(path)
            .map_err(|e| LogError::io(format!("opening {} for cleaning", path.display()), e))?;
        Ok(SegmentReader {
            path: path.to_owned(),
            file: BufReader::with_capacity(READ_AHEAD, file),
            position: 0,
            size,
        })
    }

    /// The next whole batch, or `None` at the end. A length that does not fit the file is
    /// an error: the segment was checked at append and recovery, so it means damage.
    pub(super) fn next_batch(&mut self) -> Result<Option<Batch>, LogError> {
        let remaining = self.size - self.position;
        if remaining == 0 {
            return Ok(None);
        }
        let (path, position) = (self.path.display().to_string(), self.position);
        let corrupt = |reason: String| LogError::CorruptRecord {
            position: 0,
            reason: format!("{path} at byte {position}: {reason}"),
        };
        if remaining < HEADER_SIZE as u64 {
            return Err(corrupt(format!("{remaining} trailing bytes")));
        }
        let mut prefix = [0u8; LOG_OVERHEAD];
        self.read_exact(&mut prefix)?;
        let length = i32::from_be_bytes(prefix[8..12].try_into().expect("4 bytes"));
        let total = usize::try_from(length).unwrap_or(0) + LOG_OVERHEAD;
        if total < HEADER_SIZE || total as u64 > remaining {
            return Err(corrupt(format!("batchLength {length}")));
        }
        let mut buf = BytesMut::zeroed(total);
        buf[..LOG_OVERHEAD].copy_from_slice(&prefix);
        self.read_exact(&mut buf[LOG_OVERHEAD..])?;
        self.position += total as u64;
        let bytes: Bytes = buf.freeze();
        let header = RecordBatchHeader::parse(&bytes).expect("at least a header");
        Ok(Some(Batch { header, bytes }))
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), LogError> {
        self.file.read_exact(buf).map_err(|e| {
            LogError::io(
                format!("reading {} at byte {}", self.path.display(), self.position),
                e,
            )
        })
    }
}
