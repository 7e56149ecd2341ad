//! Store errors.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// A stored record is too short to hold its header: the data directory is damaged.
    #[error("stored record with key {key} holds {len} bytes, too few for a record")]
    TruncatedRecord {
        /// The record's key, as hex.
        key: String,
        /// How many bytes its value holds.
        len: usize,
    },
    /// The store's own metadata does not parse: the data directory is damaged.
    #[error("stored metadata {key} is damaged: {value:?}")]
    CorruptMeta {
        /// Which metadata entry.
        key: &'static str,
        /// What it holds (lossy UTF-8).
        value: String,
    },
    /// A group commit failed; the records were not acknowledged and the store stops accepting
    /// appends (the engine refuses writes after a failed sync).
    #[error("committing records {}..={}: {source}", seqs.start(), seqs.end())]
    Commit {
        /// The sequence numbers the records would have received.
        seqs: RangeInclusive<u64>,
        /// The cause, shared by every append of the failed group.
        source: Arc<StoreError>,
    },
    /// A background read task did not finish (it panicked, or the runtime is shutting down).
    #[error("store read task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The store's writer has stopped (shutdown, or an earlier fatal error).
    #[error("the store is closed")]
    Closed,
}
