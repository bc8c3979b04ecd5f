//! [`FetchedRecords`]: what a read of the log found, as regions of segment files that
//! have not been read yet.
//!
//! A read only walks batch headers to decide which whole batches go out; the record
//! bytes stay in the page cache until the connection sends them, with `sendfile(2)`
//! straight from the file to the socket where it can, or with positional reads into a
//! buffer where it cannot (TLS, the group coordinator's replay). Either way the
//! memory a fetch holds is a few file handles and offsets, not the data it serves.
//!
//! Each region holds its segment's file open (an `Arc` shared with the [`Segment`]).
//! A segment that retention, DeleteRecords or compaction removes while a region is in
//! flight is unlinked from the directory, but its inode lives on until the last handle
//! goes, so the region still reads exactly the bytes it was cut from. Only truncation
//! (follower truncation, or the removal of a failed append) shortens the file itself;
//! a region beyond the new end then reads short, which both ways of sending report as
//! an error ([`FileRegion::read_at`] fails with `UnexpectedEof`), and the connection
//! that promised those bytes is closed, as Kafka does.
//!
//! [`Segment`]: super::segment::Segment

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::error::LogError;
use super::fs;

/// A segment's `.log` file, shared by the segment and the regions cut from it.
pub(crate) struct SegmentFile {
    pub(crate) file: File,
    /// Where the file was opened. Names it in errors and routes reads through the
    /// storage seam; after a deletion the name is gone but the handle still reads.
    pub(crate) path: PathBuf,
}

impl SegmentFile {
    pub(crate) fn new(file: File, path: PathBuf) -> SegmentFile {
        SegmentFile { file, path }
    }
}

impl fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// `len` bytes of whole record batches at `position` in one segment file.
#[derive(Debug, Clone)]
pub struct FileRegion {
    file: Arc<SegmentFile>,
    position: u64,
    len: usize,
}

impl FileRegion {
    pub(crate) fn new(file: Arc<SegmentFile>, position: u64, len: usize) -> FileRegion {
        FileRegion {
            file,
            position,
            len,
        }
    }

    /// The open segment file, for `sendfile(2)`. Reads must be positional (`pread`,
    /// `sendfile` with an offset): the handle is shared with every other reader.
    pub fn file(&self) -> &File {
        &self.file.file
    }

    /// The path the segment file was opened at (it may have been deleted since).
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Where the region starts in the file.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Bytes in the region; never zero.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an empty read has no region at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `buf` from `offset` bytes into the region. `buf` must fit in the region;
    /// a file truncated under the region fails with `UnexpectedEof`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), LogError> {
        assert!(
            offset
                .checked_add(buf.len())
                .is_some_and(|end| end <= self.len),
            "reading {} bytes at {offset} of a {}-byte region",
            buf.len(),
            self.len
        );
        fs::read_exact_at(
            &self.file.file,
            &self.file.path,
            buf,
            self.position + offset as u64,
        )
    }
}

/// The whole batches one read returned, in offset order: one region per segment the
/// read touched (usually one, two when it crossed into the next segment).
#[derive(Debug, Clone, Default)]
pub struct FetchedRecords {
    regions: Vec<FileRegion>,
    len: usize,
}

impl FetchedRecords {
    /// Nothing fetched.
    pub fn empty() -> FetchedRecords {
        FetchedRecords::default()
    }

    /// Total bytes of every region.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The regions, in offset order; their bytes concatenated are the batches.
    pub fn regions(&self) -> &[FileRegion] {
        &self.regions
    }

    pub(crate) fn push(&mut self, region: FileRegion) {
        if region.is_empty() {
            return;
        }
        self.len += region.len;
        self.regions.push(region);
    }

    /// Reads every region into one buffer: the copying path, for callers that look at
    /// the batches (the group coordinator) or transports that cannot `sendfile`.
    pub fn read_to_bytes(&self) -> Result<Bytes, LogError> {
        let mut out = vec![0u8; self.len];
        let mut at = 0;
        for region in &self.regions {
            region.read_at(0, &mut out[at..at + region.len])?;
            at += region.len;
        }
        Ok(Bytes::from(out))
    }
}
