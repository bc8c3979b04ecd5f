//! Finding the files the globs match, with the identity that survives a rename.
//!
//! Files are identified by (device, inode), not by name: after `app.log` is renamed
//! to `app.log.1` it is still the same file at the same position, and a new `app.log`
//! is a different file. This is what Filebeat's registry keys on too.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// A file's identity: the device and inode it lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

impl FileId {
    pub(crate) fn of(metadata: &std::fs::Metadata) -> FileId {
        FileId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
}

/// A regular file a glob matched.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) path: PathBuf,
    pub(crate) id: FileId,
}

/// What one scan saw.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Each file once, under the first name a glob gave for it.
    pub(crate) files: Vec<Found>,
    /// Paths and directories that could not be read, with the reason.
    pub(crate) errors: Vec<(PathBuf, std::io::Error)>,
}

/// Lists the regular files matching `globs` (blocking: run it off the runtime threads).
pub(crate) fn scan(globs: &[String]) -> Scan {
    let mut result = Scan::default();
    let mut seen = HashSet::new();
    for pattern in globs {
        // Patterns were validated with the config; a bad one here matches nothing.
        let Ok(paths) = glob::glob(pattern) else {
            continue;
        };
        for entry in paths {
            let path = match entry {
                Ok(path) => path,
                Err(err) => {
                    let path = err.path().to_path_buf();
                    result.errors.push((path, err.into()));
                    continue;
                }
            };
            // Follows symlinks: a link to a log is read as the file it points to.
            match std::fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => {
                    let id = FileId::of(&metadata);
                    if seen.insert(id) {
                        result.files.push(Found { path, id });
                    }
                }
                Ok(_) => {}
                // Deleted between listing and stat: the next scan will not list it.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => result.errors.push((path, err)),
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_matching_regular_file_once_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "a\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), "b\n").unwrap();
        std::fs::create_dir(dir.path().join("d.log")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("a.log"), dir.path().join("z.log")).unwrap();
        let glob = format!("{}/*.log", dir.path().display());
        let scan = scan(&[glob.clone(), glob]);
        let names: Vec<_> = scan
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.log"]);
        assert!(scan.errors.is_empty());
    }
}
