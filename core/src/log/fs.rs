//! Every file operation of the log goes through here, each turning an `io::Error` into a
//! [`LogError::Io`] that names the file, and each a single place where a fault-injecting
//! storage layer can later be slotted in.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::error::LogError;

pub(crate) fn open_rw(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
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
    file.read_exact_at(buf, pos).map_err(|e| {
        LogError::io(
            format!("reading {} bytes at {pos} of {}", buf.len(), path.display()),
            e,
        )
    })
}

pub(crate) fn write_all_at(file: &File, path: &Path, buf: &[u8], pos: u64) -> Result<(), LogError> {
    file.write_all_at(buf, pos).map_err(|e| {
        LogError::io(
            format!("writing {} bytes at {pos} of {}", buf.len(), path.display()),
            e,
        )
    })
}

pub(crate) fn set_len(file: &File, path: &Path, len: u64) -> Result<(), LogError> {
    file.set_len(len)
        .map_err(|e| LogError::io(format!("resizing {} to {len} bytes", path.display()), e))
}

pub(crate) fn sync(file: &File, path: &Path) -> Result<(), LogError> {
    file.sync_all()
        .map_err(|e| LogError::io(format!("fsync of {}", path.display()), e))
}

/// Makes creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io(format!("fsync of directory {}", dir.display()), e))
}

pub(crate) fn create_dir_all(dir: &Path) -> Result<(), LogError> {
    fs::create_dir_all(dir)
        .map_err(|e| LogError::io(format!("creating directory {}", dir.display()), e))
}

pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), LogError> {
    fs::rename(from, to).map_err(|e| {
        LogError::io(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )
    })
}

/// Removes a file; one that is already gone is not an error.
pub(crate) fn remove(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
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

pub(crate) fn read_to_string(path: &Path) -> Result<Option<String>, LogError> {
    match fs::read_to_string(path) {
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
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(|e| LogError::io(format!("creating {}", tmp.display()), e))?;
    write_all_at(&file, tmp, contents, 0)?;
    sync(&file, tmp)?;
    drop(file);
    rename(tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}
