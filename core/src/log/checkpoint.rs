//! Offset checkpoint files, in Kafka's text format:
//!
//! ```text
//! 0                       <- format version
//! 1                       <- number of entries
//! orders 3 1234           <- topic, partition, offset
//! ```
//!
//! Kafka keeps one such file per log directory, covering every partition in it, which
//! needs a lock shared by all partitions. Weir keeps one file per partition directory
//! (with exactly one entry) so each partition's single owner writes its own files and no
//! lock is shared on the append path.

use std::path::Path;

use super::error::LogError;
use super::fs;

/// Offset below which everything is known to be fsynced; recovery starts there.
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// The log start offset, which DeleteRecords and retention move.
pub(crate) const LOG_START_FILE: &str = "log-start-offset-checkpoint";

const VERSION: &str = "0";

/// Writes a one-entry checkpoint atomically.
pub(crate) fn write(path: &Path, topic: &str, partition: i32, offset: i64) -> Result<(), LogError> {
    let contents = format!("{VERSION}\n1\n{topic} {partition} {offset}\n");
    fs::write_atomically(path, contents.as_bytes())
}

/// The offset of the first entry; `None` if the file is missing. A malformed file is
/// reported and treated as missing: both checkpoints then fall back to the safe answer
/// (recover everything, keep every segment).
pub(crate) fn read(path: &Path) -> Result<Option<i64>, LogError> {
    let Some(contents) = fs::read(path)? else {
        return Ok(None);
    };
    let parsed = std::str::from_utf8(&contents)
        .map_err(|_| "not UTF-8 text".to_owned())
        .and_then(parse);
    match parsed {
        Ok(offset) => Ok(offset),
        Err(why) => {
            tracing::warn!(path = %path.display(), "ignoring malformed checkpoint: {why}");
            Ok(None)
        }
    }
}

fn parse(contents: &str) -> Result<Option<i64>, String> {
    let mut lines = contents.lines();
    let version = lines.next().ok_or("empty file")?;
    if version.trim() != VERSION {
        return Err(format!("unknown version {version:?}"));
    }
    let count: usize = lines
        .next()
        .ok_or("no entry count")?
        .trim()
        .parse()
        .map_err(|_| "entry count is not a number")?;
    let entries: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    if entries.len() != count {
        return Err(format!(
            "{count} entries announced, {} present",
            entries.len()
        ));
    }
    let Some(entry) = entries.first() else {
        return Ok(None);
    };
    let fields: Vec<&str> = entry.split_whitespace().collect();
    match fields.as_slice() {
        [_topic, partition, offset] if partition.parse::<i32>().is_ok() => offset
            .parse()
            .map(Some)
            .map_err(|_| format!("offset {offset:?} is not a number")),
        _ => Err(format!("malformed entry {entry:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_FILE);
        assert_eq!(read(&path).unwrap(), None);
        write(&path, "orders", 3, 1234).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n1\norders 3 1234\n"
        );
        assert_eq!(read(&path).unwrap(), Some(1234));
        write(&path, "orders", 3, 99).unwrap();
        assert_eq!(read(&path).unwrap(), Some(99));
        assert!(!dir
            .path()
            .join(format!("{RECOVERY_POINT_FILE}.tmp"))
            .exists());
    }

    #[test]
    fn malformed_files_read_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG_START_FILE);
        for junk in [
            "",
            "1\n1\nt 0 5\n",
            "0\n2\nt 0 5\n",
            "0\n1\nt x 5\n",
            "0\n1\nt 0 five\n",
        ] {
            std::fs::write(&path, junk).unwrap();
            assert_eq!(read(&path).unwrap(), None, "{junk:?}");
        }
        std::fs::write(&path, "0\n0\n").unwrap();
        assert_eq!(read(&path).unwrap(), None);
    }
}
