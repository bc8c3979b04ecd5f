//! One file being read: its open handle, the bytes read but not yet returned as
//! records, and its multiline state.
//!
//! Reads are positional (`pread`) at the tailer's own position, in 256 KiB chunks on
//! the blocking pool, and nothing about the tailer changes until a read has completed.
//! So a `poll` cancelled mid-read leaves the tailer as it was, and reading through the
//! open handle keeps working after the file is renamed or deleted.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;
use weir_connect::{ConnectError, Data, Header, Record, SourceRecord};

use super::config::FileSourceConfig;
use super::lines::LineReader;
use super::multiline::{Group, Multiline};
use super::position::{offset, partition};
use super::scan::FileId;

/// Bytes read per `pread`.
pub(crate) const CHUNK: usize = 256 * 1024;

/// The name a tailer's records carry; it changes when the file is renamed.
#[derive(Debug)]
struct Name {
    id: FileId,
    path: String,
    /// The path as a header value, shared by every record.
    header: Bytes,
    partition: Value,
}

impl Name {
    fn new(id: FileId, path: &Path) -> Name {
        let path = path.to_string_lossy().into_owned();
        Name {
            id,
            header: Bytes::from(path.clone()),
            partition: partition(&path),
            path,
        }
    }

    /// Queues `group` as a record and remembers where it ends.
    fn emit(
        &self,
        emitted: &mut Emitted,
        topic: &str,
        group: Group,
        out: &mut VecDeque<SourceRecord>,
    ) {
        *emitted = Emitted {
            position: group.end,
            line: group.next_line,
        };
        out.push_back(self.record(topic, group));
    }

    fn record(&self, topic: &str, group: Group) -> SourceRecord {
        let mut record = Record::new(topic, Data::Json(Value::String(group.text)));
        record.key = Data::Json(Value::String(self.path.clone()));
        record.headers = vec![
            Header::new("file.name", self.header.clone()),
            Header::new("file.line", group.first_line.to_string()),
        ];
        SourceRecord {
            record,
            source_partition: self.partition.clone(),
            source_offset: offset(group.end, group.next_line, self.id),
        }
    }
}

/// The end of the last record a tailer queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Emitted {
    pub(crate) position: u64,
    /// The number of the line starting at `position`.
    pub(crate) line: u64,
}

/// What one read found.
#[derive(Debug)]
enum Filled {
    /// This many bytes were read into the chunk.
    Data(usize),
    /// Nothing after the tailer's position yet.
    Eof,
    /// The file is shorter than what was read of it: it was truncated in place.
    Truncated(u64),
}

/// A file being read.
#[derive(Debug)]
pub(crate) struct Tailer {
    name: Name,
    file: Arc<File>,
    reader: LineReader,
    multiline: Option<Multiline>,
    /// When the last line was read, for `multiline.timeout.ms`.
    last_line_at: Instant,
    /// The last read reached the end of the file and every complete line is returned.
    at_eof: bool,
    emitted: Emitted,
    /// The position to store on another partition's offset, because this file's own
    /// partition (its current name) does not hold it: the file was renamed since its
    /// last record, or resumed from a position stored under another name. Cleared once
    /// a batch carries a record of the file under its current name.
    pub(crate) carry: Option<Emitted>,
    /// No glob matches the file any more (deleted or renamed away): it is read to its
    /// end, then dropped.
    pub(crate) draining: bool,
}

impl Tailer {
    /// A tailer for `file`, at byte `position` where line number `line` starts.
    pub(crate) fn new(
        id: FileId,
        path: &Path,
        file: File,
        position: u64,
        line: u64,
        config: &FileSourceConfig,
    ) -> Tailer {
        Tailer {
            name: Name::new(id, path),
            file: Arc::new(file),
            reader: LineReader::new(position, line, config.max_line_bytes),
            multiline: config.multiline.clone().map(Multiline::new),
            last_line_at: Instant::now(),
            at_eof: false,
            emitted: Emitted { position, line },
            carry: None,
            draining: false,
        }
    }

    pub(crate) fn id(&self) -> FileId {
        self.name.id
    }

    pub(crate) fn path(&self) -> &str {
        &self.name.path
    }

    /// The file now has another name: later records carry it. Called only when every
    /// queued record was returned, so the last queued position is acknowledged before
    /// any later batch is.
    pub(crate) fn rename(&mut self, path: &Path) {
        self.name = Name::new(self.name.id, path);
        self.carry = Some(self.emitted);
    }

    /// Whether `record` is one of this file's under its current name.
    pub(crate) fn owns(&self, record: &SourceRecord) -> bool {
        record.source_partition == self.name.partition
            && record.source_offset.get("inode").and_then(Value::as_u64) == Some(self.name.id.ino)
    }

    /// Reads records into `out` until the end of the file or until `out` holds `max`.
    /// Returns whether the end was reached. `chunk` is a reusable read buffer.
    pub(crate) async fn read(
        &mut self,
        topic: &str,
        out: &mut VecDeque<SourceRecord>,
        max: usize,
        chunk: &mut Vec<u8>,
    ) -> Result<bool, ConnectError> {
        self.at_eof = false;
        loop {
            let mut lines = 0usize;
            while out.len() < max {
                let Some(line) = self.reader.next_line() else {
                    break;
                };
                lines += 1;
                match &mut self.multiline {
                    None => {
                        let group = Group::single(line);
                        self.name.emit(&mut self.emitted, topic, group, out);
                    }
                    Some(multiline) => {
                        let (name, emitted) = (&self.name, &mut self.emitted);
                        multiline.push(line, &mut |group| name.emit(emitted, topic, group, out));
                    }
                }
            }
            if lines > 0 {
                self.last_line_at = Instant::now();
            }
            if out.len() >= max {
                return Ok(false);
            }
            match self.fill(chunk).await? {
                Filled::Data(n) => self.reader.extend(&chunk[..n]),
                Filled::Eof => {
                    self.at_eof = true;
                    return Ok(true);
                }
                Filled::Truncated(len) => {
                    tracing::warn!(
                        file = %self.name.path,
                        size = len,
                        position = self.reader.read_pos(),
                        "file is shorter than the position read (truncated in place, as by \
                         copytruncate): reading it again from the beginning"
                    );
                    self.flush(topic, out);
                    self.reader.reset(0, 1);
                }
            }
        }
    }

    /// When the pending multiline group must be sent, if there is one and no line can
    /// continue it before then.
    pub(crate) fn flush_deadline(&self, timeout: Duration) -> Option<Instant> {
        let pending = self.multiline.as_ref().is_some_and(|m| m.has_pending());
        (pending && self.at_eof).then_some(self.last_line_at + timeout)
    }

    /// Sends the pending multiline group, if any.
    pub(crate) fn flush(&mut self, topic: &str, out: &mut VecDeque<SourceRecord>) {
        if let Some(group) = self.multiline.as_mut().and_then(Multiline::flush) {
            self.name.emit(&mut self.emitted, topic, group, out);
        }
    }

    /// Sends everything left, the unfinished last line included: the file is gone and
    /// nothing will complete it.
    pub(crate) fn finish(&mut self, topic: &str, out: &mut VecDeque<SourceRecord>) {
        self.flush(topic, out);
        if let Some(line) = self.reader.take_partial() {
            let group = Group::single(line);
            self.name.emit(&mut self.emitted, topic, group, out);
        }
    }

    /// Reads the next chunk at the tailer's position on the blocking pool.
    async fn fill(&self, chunk: &mut Vec<u8>) -> Result<Filled, ConnectError> {
        let file = Arc::clone(&self.file);
        let at = self.reader.read_pos();
        // Taken, not borrowed: if the poll is cancelled the buffer is simply lost and
        // the next read allocates another.
        let mut buf = std::mem::take(chunk);
        let (buf, result) = tokio::task::spawn_blocking(move || {
            let result = read_chunk(&file, at, &mut buf);
            (buf, result)
        })
        .await
        .map_err(|err| ConnectError::internal("a file read did not complete").with_source(err))?;
        *chunk = buf;
        result.map_err(|err| {
            ConnectError::external(format!("cannot read {}", self.name.path)).with_source(err)
        })
    }
}

fn read_chunk(file: &File, at: u64, buf: &mut Vec<u8>) -> std::io::Result<Filled> {
    let len = file.metadata()?.len();
    if len < at {
        return Ok(Filled::Truncated(len));
    }
    if len == at {
        return Ok(Filled::Eof);
    }
    if buf.len() != CHUNK {
        buf.resize(CHUNK, 0);
    }
    let want = CHUNK.min((len - at).try_into().unwrap_or(CHUNK));
    loop {
        match file.read_at(&mut buf[..want], at) {
            Ok(0) => return Ok(Filled::Eof),
            Ok(n) => return Ok(Filled::Data(n)),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
