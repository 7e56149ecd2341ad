//! Store errors.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data directory.
    #[error(
        "data directory {} is in use by another tracetail process (lock held on {}); \
         stop it or choose another --data-dir",
        dir.display(),
        lock.display()
    )]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating data directory`, `locking`…).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Engine(#[from] fjall::Error),
    /// A stored record does not parse: the data directory is damaged.
    #[error("stored record {seq} is not valid event JSON: {source}")]
    Corrupt {
        /// The record.
        seq: u64,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The store's writer has stopped (shutdown, or an earlier fatal error).
    #[error("the store is closed")]
    Closed,
}
