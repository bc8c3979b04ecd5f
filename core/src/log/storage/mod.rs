//! The storage seam under the log: every file operation that can fail or lose data
//! goes through a [`Storage`], so tests can inject faults (a full disk, failing fsyncs)
//! and power loss ([`CrashableStorage`]) without touching the log's code.
//!
//! The log does not carry a `Storage` around. Instead [`install`] scopes an
//! implementation to a directory tree until the returned guard is dropped; every path
//! outside an installed tree (and every path, when nothing is installed, which is the
//! production case: one relaxed atomic load per operation) uses [`OsStorage`]. The
//! rejected alternative, an `Arc<dyn Storage>` threaded through `Log`, `Segment`,
//! `IndexFile` and the checkpoint functions, changes every constructor of the layer for
//! the sake of tests, and the in-process broker tests would need it threaded through
//! the topic registry too; scoping by directory reaches the same code with no plumbing.
//!
//! ```
//! use std::sync::Arc;
//! use weir_core::log::storage::{self, CrashableStorage};
//! use weir_core::log::{Log, LogConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let disk = Arc::new(CrashableStorage::new());
//! let _guard = storage::install(dir.path(), disk.clone());
//! let log = Log::open(&dir.path().join("t-0"), LogConfig::default(), 0)?;
//! drop(log);
//! disk.power_loss()?; // everything not fsynced is gone
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod crashable;

pub use crashable::CrashableStorage;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// How [`Storage::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read and write; created empty if missing, contents kept otherwise.
    ReadWrite,
    /// Write only; created if missing, truncated to empty otherwise.
    CreateTruncate,
}

/// File operations of the log.
///
/// The contract every implementation keeps, and the log relies on:
///
/// - `write_at` writes all of `buf` or fails. After a failure an unspecified prefix of
///   `buf` may have reached the file; the caller truncates it away.
/// - What is written is visible at once to `read_at` and to memory maps of the file,
///   but it is durable only once `sync` of that file has returned `Ok`. Index files are
///   memory-mapped and their entries are also written through `write_at`; `sync` is
///   preceded by an `msync`.
/// - Creating, renaming and removing a file change its directory; those changes are
///   durable only once `sync_dir` of the directory has returned `Ok`.
/// - A failed `sync` says nothing about what reached the disk (Linux may drop the dirty
///   pages); the caller must not claim durability for anything written since the last
///   successful `sync`.
/// - Errors are plain `io::Error`s (`ENOSPC`, `EIO`, …); the log wraps them with the file
///   name and maps them to `KAFKA_STORAGE_ERROR`.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Opens (creating if missing) the file at `path`.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File>;
    /// Fills `buf` from `pos`; `UnexpectedEof` if the file is shorter.
    fn read_at(&self, file: &File, path: &Path, buf: &mut [u8], pos: u64) -> io::Result<()>;
    /// Writes all of `buf` at `pos` (see the contract above for failures).
    fn write_at(&self, file: &File, path: &Path, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Truncates or extends the file to `len` bytes.
    fn set_len(&self, file: &File, path: &Path, len: u64) -> io::Result<()>;
    /// Makes the file's contents and size durable.
    fn sync(&self, file: &File, path: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals of entries in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file (`NotFound` if it is not there).
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        match mode {
            OpenMode::ReadWrite => OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path),
            OpenMode::CreateTruncate => OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path),
        }
    }

    fn read_at(&self, file: &File, _path: &Path, buf: &mut [u8], pos: u64) -> io::Result<()> {
        file.read_exact_at(buf, pos)
    }

    fn write_at(&self, file: &File, _path: &Path, buf: &[u8], pos: u64) -> io::Result<()> {
        file.write_all_at(buf, pos)
    }

    fn set_len(&self, file: &File, _path: &Path, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn sync(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_all()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}

type Installed = Vec<(u64, PathBuf, Arc<dyn Storage>)>;

static ANY_INSTALLED: AtomicBool = AtomicBool::new(false);
static INSTALLED: RwLock<Installed> = RwLock::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Routes every log file operation on a path under `root` to `storage` until the guard
/// is dropped. The innermost (longest) installed root wins.
pub fn install(root: impl Into<PathBuf>, storage: Arc<dyn Storage>) -> StorageGuard {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut installed = INSTALLED.write().unwrap_or_else(|e| e.into_inner());
    installed.push((id, root.into(), storage));
    ANY_INSTALLED.store(true, Ordering::Release);
    StorageGuard { id }
}

/// Uninstalls a [`Storage`] from its directory tree when dropped.
#[derive(Debug)]
#[must_use = "the storage is uninstalled when the guard is dropped"]
pub struct StorageGuard {
    id: u64,
}

impl Drop for StorageGuard {
    fn drop(&mut self) {
        let mut installed = INSTALLED.write().unwrap_or_else(|e| e.into_inner());
        installed.retain(|(id, _, _)| *id != self.id);
        if installed.is_empty() {
            ANY_INSTALLED.store(false, Ordering::Release);
        }
    }
}

/// Runs `f` with the storage responsible for `path`.
pub(crate) fn with<R>(path: &Path, f: impl FnOnce(&dyn Storage) -> R) -> R {
    if !ANY_INSTALLED.load(Ordering::Acquire) {
        return f(&OsStorage);
    }
    let found = {
        let installed = INSTALLED.read().unwrap_or_else(|e| e.into_inner());
        installed
            .iter()
            .filter(|(_, root, _)| path.starts_with(root))
            .max_by_key(|(_, root, _)| root.as_os_str().len())
            .map(|(_, _, storage)| Arc::clone(storage))
    };
    match found {
        Some(storage) => f(storage.as_ref()),
        None => f(&OsStorage),
    }
}
