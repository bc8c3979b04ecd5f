//! Source partitions and offsets of the file source, and where a file starts when the
//! task opens.
//!
//! Partition `{"file": "<absolute path>"}`; offset `{"position": <byte after the
//! record>, "line": <number of the next line>, "inode": <ino>, "dev": <device>}`. The
//! identity in the offset is what lets a restart follow a file that was renamed while
//! the task was down: a stored position is applied to the file that has its (dev,
//! inode), whatever its name is now.
//!
//! A file renamed since its last record has no partition of its own holding its
//! position (its old name's partition soon holds the next file's). Such positions ride
//! on the last offset of each batch as `"rotated": [{"inode", "dev", "position",
//! "line"}, ...]`, so a restart finds every file the globs still match where it was.
//!
//! Stored positions are consulted only for the files of the first scan. A file that
//! appears later is new content and starts at 0; consulting old positions for it would
//! risk applying the position of a deleted file whose inode number was reused.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use serde_json::{json, Value};
use weir_connect::{SourceContext, SourceOffset, SourcePartition};

use super::config::ReadFrom;
use super::scan::FileId;

/// The partition of the file at `path`.
pub(crate) fn partition(path: &str) -> SourcePartition {
    json!({ "file": path })
}

/// The offset just after a record ending at byte `position`.
pub(crate) fn offset(position: u64, next_line: u64, id: FileId) -> SourceOffset {
    json!({ "position": position, "line": next_line, "inode": id.ino, "dev": id.dev })
}

/// `rotated` entries: positions of files whose own partition does not hold them.
pub(crate) fn rotated(files: &[(FileId, u64, u64)]) -> Value {
    files
        .iter()
        .map(|(id, position, line)| {
            json!({ "position": position, "line": line, "inode": id.ino, "dev": id.dev })
        })
        .collect()
}

/// The key of [`rotated`] entries in an offset.
pub(crate) const ROTATED: &str = "rotated";

/// A position stored for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) position: u64,
    /// Missing when the offset was written by hand (`PATCH …/offsets`) without it.
    pub(crate) line: Option<u64>,
    id: Option<FileId>,
}

/// Where a file starts reading, and why (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    pub(crate) position: u64,
    /// `None`: count the lines before `position`.
    pub(crate) line: Option<u64>,
    pub(crate) reason: &'static str,
    /// The position came from the file's own partition: nothing to carry for it.
    pub(crate) own: bool,
}

/// The positions the task was opened with, by path and by identity.
#[derive(Debug, Default)]
pub(crate) struct StoredOffsets {
    by_path: HashMap<String, Stored>,
    by_id: HashMap<FileId, Stored>,
}

impl StoredOffsets {
    pub(crate) fn from_context(context: &SourceContext) -> StoredOffsets {
        let mut stored = StoredOffsets::default();
        for (partition, offset) in context.offsets() {
            let Ok(partition) = serde_json::from_str::<Value>(partition) else {
                continue;
            };
            if let Some(rotated) = offset.get(ROTATED).and_then(Value::as_array) {
                for entry in rotated {
                    if let Some(entry @ Stored { id: Some(id), .. }) = parse(entry) {
                        stored.add(id, entry);
                    }
                }
            }
            let (Some(path), Some(entry)) =
                (partition.get("file").and_then(Value::as_str), parse(offset))
            else {
                continue;
            };
            if let Some(id) = entry.id {
                stored.add(id, entry);
            }
            stored.by_path.insert(path.to_string(), entry);
        }
        stored
    }

    /// One file may be stored under several names (its names before and after a
    /// rotation); the furthest position is the latest.
    fn add(&mut self, id: FileId, entry: Stored) {
        let best = self.by_id.entry(id).or_insert(entry);
        if entry.position > best.position {
            *best = entry;
        }
    }

    /// Where the file `id` at `path`, `len` bytes long, found by the first scan starts.
    pub(crate) fn start(&self, path: &str, id: FileId, len: u64, read_from: ReadFrom) -> Start {
        let by_path = self.by_path.get(path);
        let found = match (self.by_id.get(&id), by_path) {
            (Some(stored), _) => Some((stored, "resuming from the stored position")),
            (None, Some(stored)) if stored.id.is_none() => Some((
                stored,
                "resuming from the stored position (no identity stored)",
            )),
            (None, Some(_)) => {
                return Start::new(
                    0,
                    Some(1),
                    "replaced by a new file while stopped: reading it from the beginning",
                );
            }
            (None, None) => None,
        };
        let mut start = match (found, read_from) {
            (Some((stored, _)), _) if stored.position > len => Start::new(
                0,
                Some(1),
                "truncated while stopped (shorter than its stored position): reading it again \
                 from the beginning",
            ),
            // Position 0 is line 1 whatever was stored.
            (Some((stored, reason)), _) if stored.position == 0 => Start::new(0, Some(1), reason),
            (Some((stored, reason)), _) => Start::new(stored.position, stored.line, reason),
            (None, ReadFrom::Beginning) => {
                Start::new(0, Some(1), "new file: reading it from the beginning")
            }
            (None, ReadFrom::End) => Start::new(
                len,
                None,
                "new file with read.from=end: reading lines added from now on",
            ),
        };
        start.own = by_path.is_some_and(|stored| {
            stored.id.is_none_or(|stored_id| stored_id == id) && stored.position == start.position
        });
        start
    }
}

impl Start {
    /// A start read from nowhere but given: a file found while running starts at 0.
    pub(crate) fn new(position: u64, line: Option<u64>, reason: &'static str) -> Start {
        Start {
            position,
            line,
            reason,
            own: false,
        }
    }
}

fn parse(offset: &Value) -> Option<Stored> {
    let field = |name: &str| offset.get(name).and_then(Value::as_u64);
    let id = match (field("dev"), field("inode")) {
        (Some(dev), Some(ino)) => Some(FileId { dev, ino }),
        _ => None,
    };
    Some(Stored {
        position: field("position")?,
        line: field("line"),
        id,
    })
}

/// The number of the line starting at byte `position`: one more than the newlines
/// before it (blocking; reads the file in large chunks).
pub(crate) fn line_at(file: &File, position: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    let mut newlines = 0u64;
    while at < position {
        let want = buf.len().min((position - at) as usize);
        let n = match file.read_at(&mut buf[..want], at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        newlines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        at += n as u64;
    }
    Ok(newlines + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: FileId = FileId { dev: 1, ino: 10 };
    const B: FileId = FileId { dev: 1, ino: 11 };

    fn stored(entries: &[(&str, Value)]) -> StoredOffsets {
        let context = SourceContext::new(
            "c",
            0,
            entries.iter().map(|(p, o)| (partition(p), o.clone())),
        );
        StoredOffsets::from_context(&context)
    }

    #[test]
    fn resumes_a_file_by_identity_under_its_new_name() {
        let stored = stored(&[("/l/app.log", offset(40, 5, A))]);
        let start = stored.start("/l/app.log.1", A, 100, ReadFrom::Beginning);
        assert_eq!((start.position, start.line), (40, Some(5)));
    }

    #[test]
    fn takes_the_furthest_position_of_a_file_stored_under_two_names() {
        let stored = stored(&[
            ("/l/app.log", offset(40, 5, A)),
            ("/l/app.log.1", offset(90, 9, A)),
        ]);
        let start = stored.start("/l/app.log.1", A, 100, ReadFrom::Beginning);
        assert_eq!(start.position, 90);
    }

    #[test]
    fn a_new_file_under_a_stored_name_starts_at_the_beginning_even_with_read_from_end() {
        let stored = stored(&[("/l/app.log", offset(40, 5, A))]);
        let start = stored.start("/l/app.log", B, 100, ReadFrom::End);
        assert_eq!((start.position, start.line), (0, Some(1)));
    }

    #[test]
    fn an_unknown_file_follows_read_from() {
        let stored = stored(&[]);
        assert_eq!(stored.start("/x", A, 100, ReadFrom::Beginning).position, 0);
        let end = stored.start("/x", A, 100, ReadFrom::End);
        assert_eq!((end.position, end.line), (100, None));
    }

    #[test]
    fn a_file_shorter_than_its_position_starts_again() {
        let stored = stored(&[("/l/app.log", offset(400, 50, A))]);
        assert_eq!(
            stored.start("/l/app.log", A, 100, ReadFrom::End).position,
            0
        );
    }

    #[test]
    fn a_hand_written_position_without_identity_applies_by_path() {
        let stored = stored(&[("/l/app.log", json!({"position": 7}))]);
        let start = stored.start("/l/app.log", A, 100, ReadFrom::Beginning);
        assert_eq!((start.position, start.line), (7, None));
    }

    #[test]
    fn counts_lines_before_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(line_at(&file, 0).unwrap(), 1);
        assert_eq!(line_at(&file, 4).unwrap(), 3);
        assert_eq!(line_at(&file, 6).unwrap(), 4);
    }
}
