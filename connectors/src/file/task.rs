//! The file source task: scans the globs, follows each file by identity through
//! renames, truncation and deletion, and hands lines to the runtime in file order.
//!
//! Rotation rules, checked on every scan (every `poll.interval.ms`):
//! - a tracked file found under another matching name was renamed: it keeps its
//!   position and its records carry the new name; it is never read again from 0;
//! - a tracked file no glob finds any more was deleted or renamed away: it is read to
//!   its end through the open handle, then dropped. Until it is, a new file under its
//!   old name waits, so the records of one partition stay in the order written;
//! - a file found for the first time while running starts at 0 (it is new content);
//!   only files of the first scan use stored positions or `read.from`;
//! - a file shorter than what was read of it was truncated in place: it starts again
//!   at 0 (the tailer detects this on read).

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;
use weir_connect::{ConnectError, Source, SourceContext, SourceRecord};

use super::config::FileSourceConfig;
use super::position::{line_at, rotated, Start, StoredOffsets, ROTATED};
use super::scan::{scan, FileId, Found};
use super::tailer::{Emitted, Tailer};

/// Reads the files matching `file.paths` into `topic`.
#[derive(Debug)]
pub(crate) struct FileSourceTask {
    config: FileSourceConfig,
    /// `connector-task`, for the log.
    name: String,
    files: Vec<Tailer>,
    /// Records read and not yet returned by `poll`, in file order.
    ready: VecDeque<SourceRecord>,
    next_scan: Instant,
    /// The read buffer, reused across reads.
    chunk: Vec<u8>,
    /// Paths already warned about, so an unreadable file is reported once.
    warned: HashSet<PathBuf>,
}

impl FileSourceTask {
    pub(crate) fn new(config: FileSourceConfig) -> FileSourceTask {
        FileSourceTask {
            config,
            name: String::new(),
            files: Vec::new(),
            ready: VecDeque::new(),
            next_scan: Instant::now(),
            chunk: Vec::new(),
            warned: HashSet::new(),
        }
    }

    /// Scans the globs and brings the tracked files in line with what they find.
    /// `stored` is given for the first scan only.
    async fn rescan(&mut self, stored: Option<&StoredOffsets>) -> Result<(), ConnectError> {
        let globs = self.config.globs.clone();
        let found = tokio::task::spawn_blocking(move || scan(&globs))
            .await
            .map_err(|err| ConnectError::internal("scanning file.paths failed").with_source(err))?;
        for (path, err) in found.errors {
            if self.warned.insert(path.clone()) {
                tracing::warn!(task = %self.name, path = %path.display(), "cannot read: {err}");
            }
        }
        let ids: HashSet<FileId> = found.files.iter().map(|f| f.id).collect();
        for tailer in &mut self.files {
            if !tailer.draining && !ids.contains(&tailer.id()) {
                tracing::info!(task = %self.name, file = tailer.path(), "file deleted or renamed out of file.paths: reading it to its end");
                tailer.draining = true;
            }
        }
        for file in found.files {
            match self.files.iter_mut().find(|t| t.id() == file.id) {
                Some(tailer) => {
                    if tailer.path() != file.path.to_string_lossy() {
                        tracing::info!(task = %self.name, from = tailer.path(), to = %file.path.display(), "file renamed: continuing at its position");
                        tailer.rename(&file.path);
                    }
                    tailer.draining = false;
                }
                None => self.track(file, stored).await?,
            }
        }
        Ok(())
    }

    /// Opens a newly found file and places it at its start.
    async fn track(
        &mut self,
        found: Found,
        stored: Option<&StoredOffsets>,
    ) -> Result<(), ConnectError> {
        let path = found.path.clone();
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let file = File::open(&path)?;
            let metadata = file.metadata()?;
            Ok((file, FileId::of(&metadata), metadata.len()))
        })
        .await
        .map_err(|err| ConnectError::internal("opening a file failed").with_source(err))?;
        let (file, id, len) = match opened {
            Ok(opened) => opened,
            // Gone since the scan: the next scan will not list it.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                if self.warned.insert(found.path.clone()) {
                    tracing::warn!(task = %self.name, file = %found.path.display(), "cannot open, skipping it until it can be (give the worker read permission): {err}");
                }
                return Ok(());
            }
        };
        if id != found.id {
            // Replaced between the scan and the open; the next scan sees the new file.
            return Ok(());
        }
        self.warned.remove(&found.path);
        let path = found.path.to_string_lossy();
        let start = match stored {
            Some(stored) => stored.start(&path, id, len, self.config.read_from),
            None => Start::new(0, Some(1), "new file: reading it from the beginning"),
        };
        let (file, line) = match start.line {
            Some(line) => (file, line),
            None => {
                let position = start.position;
                tokio::task::spawn_blocking(move || {
                    let line = line_at(&file, position);
                    (file, line)
                })
                .await
                .map_err(|err| ConnectError::internal("counting lines failed").with_source(err))
                .and_then(|(file, line)| match line {
                    Ok(line) => Ok((file, line)),
                    Err(err) => {
                        Err(ConnectError::external(format!("cannot read {path}")).with_source(err))
                    }
                })?
            }
        };
        tracing::info!(task = %self.name, file = %path, position = start.position, line, "{}", start.reason);
        let mut tailer = Tailer::new(id, &found.path, file, start.position, line, &self.config);
        if !start.own {
            tailer.carry = Some(Emitted {
                position: start.position,
                line,
            });
        }
        self.files.push(tailer);
        Ok(())
    }

    /// Reads every file until the end or until a batch is ready.
    async fn read_files(&mut self) -> Result<(), ConnectError> {
        let max = self.config.batch_max_records;
        let topic = &self.config.topic;
        // A file being drained is read before a new file under its old name, so the
        // records of one partition stay in the order they were written.
        let draining: HashSet<String> = self
            .files
            .iter()
            .filter(|t| t.draining)
            .map(|t| t.path().to_string())
            .collect();
        let mut order: Vec<usize> = (0..self.files.len()).collect();
        order.sort_by_key(|&i| !self.files[i].draining);
        let mut finished = Vec::new();
        for i in order {
            if self.ready.len() >= max {
                break;
            }
            let tailer = &mut self.files[i];
            if !tailer.draining && draining.contains(tailer.path()) {
                continue;
            }
            let at_end = tailer
                .read(topic, &mut self.ready, max, &mut self.chunk)
                .await?;
            if at_end && tailer.draining {
                tailer.finish(topic, &mut self.ready);
                finished.push(tailer.id());
            }
        }
        if !finished.is_empty() {
            self.files.retain(|t| {
                let done = finished.contains(&t.id());
                if done {
                    tracing::info!(task = %self.name, file = t.path(), "finished reading a deleted or renamed file");
                }
                !done
            });
        }
        Ok(())
    }

    /// Sends multiline groups that waited `multiline.timeout.ms` for another line.
    fn flush_timed_out(&mut self) {
        let now = Instant::now();
        let timeout = self.config.multiline_timeout;
        for tailer in &mut self.files {
            if tailer.flush_deadline(timeout).is_some_and(|at| at <= now) {
                tailer.flush(&self.config.topic, &mut self.ready);
            }
        }
    }

    fn take_batch(&mut self) -> Vec<SourceRecord> {
        let n = self.ready.len().min(self.config.batch_max_records);
        let mut batch: Vec<SourceRecord> = self.ready.drain(..n).collect();
        self.carry_positions(&mut batch);
        batch
    }

    /// Puts the positions no partition of their own holds on the batch's last offset
    /// (see `position.rs`). The runtime stores every partition's last offset of a batch
    /// together, so one carrier per batch is enough.
    fn carry_positions(&mut self, batch: &mut [SourceRecord]) {
        if self.files.iter().all(|t| t.carry.is_none()) {
            return;
        }
        // A file with a record in this batch under its current name is stored by it.
        let mut previous: Option<&SourceRecord> = None;
        for record in batch.iter() {
            let same_run = previous.is_some_and(|p| {
                p.source_partition == record.source_partition
                    && p.source_offset.get("inode") == record.source_offset.get("inode")
            });
            previous = Some(record);
            if same_run {
                continue;
            }
            for tailer in &mut self.files {
                if tailer.carry.is_some() && tailer.owns(record) {
                    tailer.carry = None;
                }
            }
        }
        // A file being drained will not be found by a restart: nothing to keep for it.
        let carried: Vec<(FileId, u64, u64)> = self
            .files
            .iter()
            .filter(|t| !t.draining)
            .filter_map(|t| t.carry.map(|c| (t.id(), c.position, c.line)))
            .collect();
        if carried.is_empty() {
            return;
        }
        if let Some(Value::Object(offset)) = batch.last_mut().map(|r| &mut r.source_offset) {
            offset.insert(ROTATED.to_string(), rotated(&carried));
        }
    }
}

#[async_trait]
impl Source for FileSourceTask {
    async fn open(&mut self, context: SourceContext) -> Result<(), ConnectError> {
        self.name = context.to_string();
        if let Some(records) = context.batch_max_records() {
            self.config.batch_max_records = records;
        }
        let stored = StoredOffsets::from_context(&context);
        self.rescan(Some(&stored)).await?;
        self.next_scan = Instant::now() + self.config.poll_interval;
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let deadline = Instant::now() + self.config.poll_interval;
        loop {
            if self.ready.is_empty() {
                if Instant::now() >= self.next_scan {
                    self.rescan(None).await?;
                    self.next_scan = Instant::now() + self.config.poll_interval;
                }
                self.read_files().await?;
                self.flush_timed_out();
            }
            if !self.ready.is_empty() {
                return Ok(self.take_batch());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let timeout = self.config.multiline_timeout;
            let wake = self
                .files
                .iter()
                .filter_map(|t| t.flush_deadline(timeout))
                .fold(deadline, Instant::min);
            tokio::time::sleep_until(wake).await;
        }
    }

    async fn close(&mut self) -> Result<(), ConnectError> {
        self.files.clear();
        self.ready.clear();
        Ok(())
    }
}
