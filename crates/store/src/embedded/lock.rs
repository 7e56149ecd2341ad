//! The data directory lock: one process, and one open log, per directory.
//!
//! Two writers on one directory would hand out the same sequence numbers twice, so
//! [`DirLock::acquire`] takes an exclusive, non-blocking lock on `<dir>/tracetail.lock` and
//! fails at once when anyone else holds it. The operating system drops the lock when the file
//! is closed, also when the process dies, so a crash never leaves a stale lock behind.
//!
//! The lock is per open file, not per process: a second [`DirLock::acquire`] in the same
//! process fails too.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// The name of the lock file inside the data directory.
pub(super) const LOCK_FILE: &str = "tracetail.lock";

/// An exclusive lock on a data directory, held until dropped.
#[derive(Debug)]
pub(super) struct DirLock {
    /// The open lock file; closing it releases the lock.
    _file: File,
    /// Where the lock file is, for messages.
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir`, which must exist; [`StoreError::InUse`] if it is locked already.
    pub(super) fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Io {
                action: "opening lock file",
                path: path.clone(),
                source,
            })?;

        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                dir: dir.to_path_buf(),
                lock: path,
            }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                action: "locking",
                path,
                source,
            }),
        }
    }

    /// The lock file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DirLock::acquire(dir.path()).expect("first lock");
        assert_eq!(first.path(), dir.path().join(LOCK_FILE));

        let second = DirLock::acquire(dir.path());
        assert!(
            matches!(second, Err(StoreError::InUse { .. })),
            "got {second:?}"
        );

        drop(first);
        DirLock::acquire(dir.path()).expect("lock is free again after drop");
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_lock_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope");
        let error = DirLock::acquire(&missing).expect_err("no directory");
        assert!(error.to_string().contains("opening lock file"), "{error}");
        assert!(error.to_string().contains("tracetail.lock"), "{error}");
    }
}
