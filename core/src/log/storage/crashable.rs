//! A [`Storage`] over the real file system that remembers what was made durable, so a
//! test can cut the power, and that can run out of space or fail fsyncs on demand.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{OpenMode, OsStorage, Storage};

/// The durability model of [`CrashableStorage`]: a file's contents are those of its
/// last successful `sync`, or empty if it never had one; a directory's entries are
/// those of its last successful `sync_dir`. Files that existed before the storage first
/// saw them count as durable, contents and name. Directories themselves are not
/// modelled and always survive (the log fsyncs a partition directory's parent when it
/// creates it).
///
/// Operations go to the real file system, so the log (and its memory maps) see a
/// normal disk; [`power_loss`](Self::power_loss) rewrites the touched directories to
/// their durable state. Drop every `Log` on the storage before calling it, as a
/// real power cut stops the process first.
#[derive(Debug, Default)]
pub struct CrashableStorage {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_inode: u64,
    /// Durable contents per inode; `None` if never synced.
    contents: BTreeMap<u64, Option<Vec<u8>>>,
    /// Live names of the files this storage has seen.
    names: BTreeMap<PathBuf, u64>,
    /// Durable entries per directory.
    durable_dirs: BTreeMap<PathBuf, BTreeMap<PathBuf, u64>>,
    /// Bytes that `write_at` may still write; `None` is unlimited.
    space_left: Option<u64>,
    fail_syncs: bool,
    syncs: u64,
    /// Operations that may still change the disk before the power goes.
    ops_left: Option<u64>,
}

fn parent(path: &Path) -> PathBuf {
    path.parent().unwrap_or(Path::new(".")).to_owned()
}

impl State {
    /// Counts one operation that changes the disk; fails once the power is cut.
    fn op(&mut self) -> io::Result<()> {
        match &mut self.ops_left {
            Some(0) => Err(io::Error::other("power cut (simulated)")),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The inode at `path`, adopting a file that existed before as durable.
    fn inode(&mut self, path: &Path) -> u64 {
        if let Some(&id) = self.names.get(path) {
            return id;
        }
        let id = self.next_inode;
        self.next_inode += 1;
        let existing = std::fs::read(path).ok();
        if existing.is_some() {
            self.durable_dirs
                .entry(parent(path))
                .or_default()
                .insert(path.to_owned(), id);
        }
        self.contents.insert(id, existing);
        self.names.insert(path.to_owned(), id);
        id
    }
}

fn no_space() -> io::Error {
    io::Error::from_raw_os_error(28) // ENOSPC
}

impl CrashableStorage {
    /// A storage with unlimited space and working fsyncs.
    pub fn new() -> CrashableStorage {
        CrashableStorage::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Limits what `write_at` may still write, in bytes: a write that does not fit
    /// writes what fits and fails with `ENOSPC`, as a full disk does. `None` frees the
    /// disk again.
    pub fn set_space_left(&self, bytes: Option<u64>) {
        self.state().space_left = bytes;
    }

    /// Makes every `sync` and `sync_dir` fail with `EIO` (and make nothing durable).
    pub fn set_fail_syncs(&self, fail: bool) {
        self.state().fail_syncs = fail;
    }

    /// Lets `ops` more operations that change the disk (open, write, set_len, sync,
    /// rename, remove) through, then fails every one, as if the machine had stopped
    /// there; follow with [`power_loss`](Self::power_loss). `None` lifts the cut.
    pub fn cut_power_after(&self, ops: Option<u64>) {
        self.state().ops_left = ops;
    }

    /// Whether a cut set with [`cut_power_after`](Self::cut_power_after) was reached.
    pub fn power_is_cut(&self) -> bool {
        self.state().ops_left == Some(0)
    }

    /// Successful `sync` calls so far.
    pub fn syncs(&self) -> u64 {
        self.state().syncs
    }

    /// Cuts the power: every directory this storage touched gets back its durable
    /// entries, and every file its durable contents. Files created since the
    /// directory's last sync disappear; files removed since reappear. A cut set with
    /// [`cut_power_after`](Self::cut_power_after) is lifted: the machine is back.
    pub fn power_loss(&self) -> io::Result<()> {
        let mut state = self.state();
        let mut dirs: BTreeSet<PathBuf> = state.durable_dirs.keys().cloned().collect();
        dirs.extend(state.names.keys().map(|p| parent(p)));
        let mut names = BTreeMap::new();
        for dir in dirs {
            let durable = state.durable_dirs.get(&dir).cloned().unwrap_or_default();
            let live: Vec<PathBuf> = state
                .names
                .keys()
                .filter(|p| parent(p) == dir)
                .cloned()
                .collect();
            for path in live {
                if !durable.contains_key(&path) {
                    match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                        _ => {}
                    }
                }
            }
            for (path, id) in durable {
                let contents = state.contents.get(&id).cloned().flatten();
                std::fs::write(&path, contents.unwrap_or_default())?;
                names.insert(path, id);
            }
        }
        state.names = names;
        state.ops_left = None;
        Ok(())
    }
}

impl Storage for CrashableStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        let mut state = self.state();
        state.op()?;
        if !state.names.contains_key(path) {
            if path.exists() {
                state.inode(path);
            } else {
                let id = state.next_inode;
                state.next_inode += 1;
                state.contents.insert(id, None);
                state.names.insert(path.to_owned(), id);
            }
        }
        OsStorage.open(path, mode)
    }

    fn read_at(&self, file: &File, path: &Path, buf: &mut [u8], pos: u64) -> io::Result<()> {
        OsStorage.read_at(file, path, buf, pos)
    }

    fn write_at(&self, file: &File, path: &Path, buf: &[u8], pos: u64) -> io::Result<()> {
        let mut state = self.state();
        state.op()?;
        if let Some(left) = state.space_left {
            let fits = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            state.space_left = Some(left - fits as u64);
            if fits < buf.len() {
                OsStorage.write_at(file, path, &buf[..fits], pos)?;
                return Err(no_space());
            }
        }
        OsStorage.write_at(file, path, buf, pos)
    }

    fn set_len(&self, file: &File, path: &Path, len: u64) -> io::Result<()> {
        self.state().op()?;
        OsStorage.set_len(file, path, len)
    }

    fn sync(&self, file: &File, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.op()?;
        if state.fail_syncs {
            return Err(io::Error::from_raw_os_error(5)); // EIO
        }
        // Durability is simulated, so the real fsync is skipped: it would only slow
        // the tests down.
        let _ = file;
        let id = state.inode(path);
        let contents = std::fs::read(path)?;
        state.contents.insert(id, Some(contents));
        state.syncs += 1;
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.op()?;
        if state.fail_syncs {
            return Err(io::Error::from_raw_os_error(5));
        }
        let entries: BTreeMap<PathBuf, u64> = state
            .names
            .iter()
            .filter(|(p, _)| parent(p) == dir)
            .map(|(p, &id)| (p.clone(), id))
            .collect();
        state.durable_dirs.insert(dir.to_owned(), entries);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.op()?;
        // Adopt both files first, so that pre-existing ones keep their durable state.
        let id = state.inode(from);
        if to.exists() {
            state.inode(to);
        }
        OsStorage.rename(from, to)?;
        state.names.remove(from);
        state.names.insert(to.to_owned(), id);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.op()?;
        if path.exists() {
            state.inode(path);
        }
        OsStorage.remove(path)?;
        state.names.remove(path);
        Ok(())
    }
}
