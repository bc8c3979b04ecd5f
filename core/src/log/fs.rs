//! Every file operation of the log goes through here, each turning an `io::Error` into a
//! [`LogError::Io`] that names the file. Operations that change files or can lose data
//! go through the [`Storage`](super::storage::Storage) installed for the path (the real
//! file system unless a test installed a fault-injecting one); metadata queries and
//! listings go straight to the file system.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use super::error::LogError;
use super::storage::{self, OpenMode};

pub(crate) fn open_rw(path: &Path) -> Result<File, LogError> {
    storage::with(path, |s| s.open(path, OpenMode::ReadWrite))
        .map_err(|e| LogError::io(format!("opening {}", path.display()), e))
}

pub(crate) fn len(file: &File, path: &Path) -> Result<u64, LogError> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| LogError::io(format!("reading the size of {}", path.display()), e))
}

/// Modification time in ms since the epoch, or `None` if the platform cannot tell.
pub(crate) fn modified_ms(file: &File) -> Option<i64> {
    let modified = file.metadata().ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// Fills `buf` from `pos`; fails with `UnexpectedEof` context if the file is shorter.
pub(crate) fn read_exact_at(
    file: &File,
    path: &Path,
    buf: &mut [u8],
    pos: u64,
) -> Result<(), LogError> {
    storage::with(path, |s| s.read_at(file, path, buf, pos)).map_err(|e| {
        LogError::io(
            format!("reading {} bytes at {pos} of {}", buf.len(), path.display()),
            e,
        )
    })
}

pub(crate) fn write_all_at(file: &File, path: &Path, buf: &[u8], pos: u64) -> Result<(), LogError> {
    storage::with(path, |s| s.write_at(file, path, buf, pos)).map_err(|e| {
        LogError::io(
            format!("writing {} bytes at {pos} of {}", buf.len(), path.display()),
            e,
        )
    })
}

pub(crate) fn set_len(file: &File, path: &Path, len: u64) -> Result<(), LogError> {
    storage::with(path, |s| s.set_len(file, path, len))
        .map_err(|e| LogError::io(format!("resizing {} to {len} bytes", path.display()), e))
}

pub(crate) fn sync(file: &File, path: &Path) -> Result<(), LogError> {
    storage::with(path, |s| s.sync(file, path))
        .map_err(|e| LogError::io(format!("fsync of {}", path.display()), e))
}

/// Makes creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    storage::with(dir, |s| s.sync_dir(dir))
        .map_err(|e| LogError::io(format!("fsync of directory {}", dir.display()), e))
}

pub(crate) fn create_dir_all(dir: &Path) -> Result<(), LogError> {
    fs::create_dir_all(dir)
        .map_err(|e| LogError::io(format!("creating directory {}", dir.display()), e))
}

pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), LogError> {
    storage::with(to, |s| s.rename(from, to)).map_err(|e| {
        LogError::io(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )
    })
}

/// Removes a file; one that is already gone is not an error.
pub(crate) fn remove(path: &Path) -> Result<(), LogError> {
    match storage::with(path, |s| s.remove(path)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(LogError::io(format!("deleting {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// File names in `dir` (non-UTF-8 names are skipped: Weir never creates them).
pub(crate) fn list(dir: &Path) -> Result<Vec<String>, LogError> {
    let context = || format!("listing {}", dir.display());
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LogError::io(context(), e))? {
        let entry = entry.map_err(|e| LogError::io(context(), e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// A text file, with bytes that are not UTF-8 replaced (so a damaged file reads as
/// malformed text for its parser to reject, rather than failing the open); `None` if
/// it is missing.
pub(crate) fn read_to_string(path: &Path) -> Result<Option<String>, LogError> {
    Ok(read(path)?.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, LogError> {
    match fs::read(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogError::io(format!("reading {}", path.display()), e)),
    }
}

pub(crate) fn exists(path: &Path) -> bool {
    path.exists()
}

/// Writes `contents` to `path` so that a crash leaves either the old or the new file:
/// write a temporary sibling, fsync it, rename over, fsync the directory.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), LogError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = Path::new(&tmp);
    let file = storage::with(tmp, |s| s.open(tmp, OpenMode::CreateTruncate))
        .map_err(|e| LogError::io(format!("creating {}", tmp.display()), e))?;
    let written = write_all_at(&file, tmp, contents, 0).and_then(|()| sync(&file, tmp));
    drop(file);
    if let Err(error) = written {
        // A full disk must not also keep the half-written file around.
        let _ = remove(tmp);
        return Err(error);
    }
    rename(tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
