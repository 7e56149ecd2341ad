//! The embedded backend: a durable event log in a local data directory, on fjall.
//!
//! ```no_run
//! # use std::{sync::Arc, time::Duration};
//! # use tracetail_store::{CommitListener, EventLog};
//! use tracetail_store::embedded::{EmbeddedLog, EmbeddedOptions};
//!
//! # async fn example() -> Result<(), tracetail_store::StoreError> {
//! let options = EmbeddedOptions {
//!     dir: "tracetail-data".into(),
//!     retention_age: Duration::from_secs(7 * 24 * 3600),
//!     retention_size: 1 << 30,
//! };
//! let listener: CommitListener = Arc::new(|batch| println!("{} records committed", batch.len()));
//! let log = EmbeddedLog::open(options, listener)?;
//! let seqs = log.append(Vec::new()).await?;
//! log.close()?;
//! # Ok(()) }
//! ```
//!
//! The data directory holds `tracetail.lock` (module `lock`) and `fjall/`, the engine's
//! files, with these keyspaces:
//! - `events`: the records by sequence number (module `record`), evicted by FIFO compaction
//!   (module `retention`);
//! - `meta`: epoch, numbering position, oldest retained record and retention (module `meta`);
//! - `trace.<first_seq>`: buckets of the trace index (module `trace_index`).
//!
//! Spans are records of the same log, not a keyspace of their own: an OTLP span is stored as
//! `{"id": cursor, "span": {...}}` in `events` and indexed by its trace id like any log event
//! with one (see [`tracetail_model::span`]). So a span is made durable by the same group
//! commit as the log events it arrives with, is evicted by the same FIFO retention by size and
//! age (one budget for both: spans take their share of `--retention-size`), survives restarts
//! the same way, and `trace` finds a trace's spans and logs in one index walk. The price is
//! that spans take sequence numbers: cursors of log events skip the numbers spans took, and
//! filtered reads step over spans (see module `read`).
//!
//! Appends go to one writer thread that commits whatever is queued as one batch with one
//! fsync (module `writer`). Reads run on tokio's blocking pool (module `read`). Cursors are
//! `{epoch}-{seq}` (module `cursor`).

mod cursor;
mod lock;
mod meta;
mod read;
mod record;
mod retention;
mod trace_index;
mod writer;

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use fjall::{Database, Keyspace, PersistMode};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tracetail_model::{EncodedEvent, TraceId};

use self::cursor::Epoch;
use self::lock::DirLock;
use self::retention::{BoundsTracker, Retention};
use self::trace_index::TraceIndex;
use self::writer::AppendRequest;
use crate::{
    Bounds, CommitListener, EventLog, Located, ReadPage, ReadRequest, StoreError, StoreStats,
};

/// Appends waiting for the writer beyond this many make `append` wait for room.
const APPEND_QUEUE: usize = 256;

/// Where and how much to store.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// The data directory; created if missing. One process at a time may use it.
    pub dir: PathBuf,
    /// Records older than this are evicted, a table of records at a time, by whole seconds;
    /// zero keeps records forever. Fixed when the directory is created.
    pub retention_age: Duration,
    /// Records are evicted, oldest first, once they take more than this many bytes on disk
    /// (compressed; the trace index and the journal come on top); 0 sets no limit. Fixed when
    /// the directory is created.
    pub retention_size: u64,
}

/// The embedded [`EventLog`]. Open it with [`EmbeddedLog::open`]; [`EventLog::close`] it at
/// shutdown (dropping it also stops the writer after the queued appends, and syncs).
pub struct EmbeddedLog {
    shared: Arc<Shared>,
    /// Hands appends to the writer thread. `close` takes it; the writer then drains the queue
    /// and stops.
    appends: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    /// The writer thread, joined by `close` or on drop.
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// What the writer thread and the read tasks share. Dropped when the last of them ends.
struct Shared {
    db: Database,
    events: Keyspace,
    meta: Keyspace,
    epoch: Epoch,
    bounds: BoundsTracker,
    trace_index: TraceIndex,
    /// Group commits (fsyncs) since open.
    commits: AtomicU64,
    /// Declared last so it is released only after the engine above has shut down.
    lock: DirLock,
}

impl EmbeddedLog {
    /// Opens (or creates) the log in `options.dir`, taking the directory's lock, and starts
    /// its writer thread. `listener` hears of every committed batch, in order.
    ///
    /// Fails with [`StoreError::InUse`] at once if another process, or another open log in
    /// this process, holds the directory.
    pub fn open(
        options: EmbeddedOptions,
        listener: CommitListener,
    ) -> Result<Arc<EmbeddedLog>, StoreError> {
        std::fs::create_dir_all(&options.dir).map_err(|source| StoreError::Io {
            action: "creating data directory",
            path: options.dir.clone(),
            source,
        })?;
        let lock = DirLock::acquire(&options.dir)?;
        let (shared, position) = Shared::open(&options, lock)?;
        let shared = Arc::new(shared);

        let (sender, receiver) = mpsc::channel(APPEND_QUEUE);
        let writer =
            writer::spawn(Arc::clone(&shared), listener, receiver, position).map_err(|source| {
                StoreError::Io {
                    action: "starting the writer thread for",
                    path: options.dir.clone(),
                    source,
                }
            })?;

        let bounds = shared.bounds();
        tracing::info!(
            dir = %options.dir.display(),
            epoch = shared.epoch.as_str(),
            oldest = bounds.oldest,
            latest = bounds.latest,
            "opened event log"
        );
        Ok(Arc::new(EmbeddedLog {
            shared,
            appends: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        }))
    }

    /// Group commits (each one fsync) since the log was opened.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// The first sequence numbers of the trace index buckets, oldest first (diagnostics).
    pub fn trace_buckets(&self) -> Vec<u64> {
        self.shared.trace_index.first_seqs()
    }

    /// The lock file this log holds.
    pub fn lock_path(&self) -> &Path {
        self.shared.lock.path()
    }

    /// Stops the writer once it has committed what is queued, and waits for it.
    fn stop_writer(&self) {
        drop(
            self.appends
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(handle) = handle else { return };
        // Dropped from the writer's own thread (a listener held the last handle): it stops on
        // its own once this returns, since the queue is closed.
        if handle.thread().id() == std::thread::current().id() {
            return;
        }
        if handle.join().is_err() {
            tracing::error!("the store writer thread panicked; appends after it were refused");
        }
    }

    async fn append_events(
        &self,
        events: Vec<EncodedEvent>,
    ) -> Result<RangeInclusive<u64>, StoreError> {
        // Clone the sender only now, at the first poll, and drop it as soon as the request is
        // queued: a held clone would keep `close` waiting.
        let sender = self
            .appends
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let sender = sender.ok_or(StoreError::Closed)?;
        if events.is_empty() {
            return Ok(writer::EMPTY_RANGE);
        }
        let (reply, answer) = oneshot::channel();
        sender
            .send(AppendRequest { events, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `work` on the blocking pool with the shared state.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || work(&shared)).await?
    }
}

impl Shared {
    /// Opens the engine and everything kept in it; returns where numbering stands.
    fn open(
        options: &EmbeddedOptions,
        lock: DirLock,
    ) -> Result<(Shared, meta::Position), StoreError> {
        let requested = Retention {
            size_bytes: options.retention_size,
            age: options.retention_age,
        };
        let db = Database::builder(options.dir.join("fjall"))
            .manual_journal_persist(true)
            .max_journaling_size(requested.journal_limit())
            .open()?;
        let meta = db.keyspace("meta", meta::options)?;
        let epoch = meta::load_or_create_epoch(&db, &meta)?;
        let retention = meta::settle_retention(&db, &meta, requested)?;
        let events = db.keyspace("events", || retention.events_options())?;
        let position = meta::load_position(&meta, &events)?;
        let first_retained = meta::load_first_retained(&meta)?;
        let trace_index = TraceIndex::open(&db, &retention)?;

        let shared = Shared {
            bounds: BoundsTracker::new(position.last_seq, first_retained),
            db,
            events,
            meta,
            epoch,
            trace_index,
            commits: AtomicU64::new(0),
            lock,
        };
        Ok((shared, position))
    }

    /// The current bounds; the last known ones if the engine cannot be read.
    fn bounds(&self) -> Bounds {
        self.bounds
            .bounds(&self.db, &self.events)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the oldest record failed; using the last known");
                self.bounds.last_known()
            })
    }
}

impl EventLog for EmbeddedLog {
    /// Queues the events for the writer and waits for their commit. An empty `events`
    /// touches nothing and returns the empty range `1..=0`. If the returned future is dropped
    /// after the events were queued, they may still be committed.
    fn append(
        &self,
        events: Vec<EncodedEvent>,
    ) -> BoxFuture<'_, Result<RangeInclusive<u64>, StoreError>> {
        Box::pin(self.append_events(events))
    }

    fn bounds(&self) -> Bounds {
        self.shared.bounds()
    }

    fn cursor(&self, seq: u64) -> String {
        self.shared.epoch.cursor(seq)
    }

    fn locate(&self, cursor: &str) -> Located {
        self.shared.epoch.locate(cursor)
    }

    fn read(&self, request: ReadRequest) -> BoxFuture<'_, Result<ReadPage, StoreError>> {
        Box::pin(self.blocking(move |shared| read::read(shared, &request)))
    }

    fn trace(
        &self,
        trace_id: TraceId,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<ReadPage, StoreError>> {
        Box::pin(self.blocking(move |shared| read::trace(shared, &trace_id, after, limit)))
    }

    fn first_received_since(&self, nanos: u64) -> BoxFuture<'_, Result<Option<u64>, StoreError>> {
        Box::pin(self.blocking(move |shared| read::first_received_since(shared, nanos)))
    }

    fn stats(&self) -> StoreStats {
        let disk_bytes = self.shared.db.disk_space().unwrap_or_else(|error| {
            tracing::debug!(%error, "measuring disk space failed");
            0
        });
        let Bounds { oldest, latest } = self.shared.bounds();
        let events = oldest.map_or(0, |oldest| latest - oldest + 1);
        StoreStats { disk_bytes, events }
    }

    /// Commits what is queued, stops the writer and syncs everything. Later appends fail with
    /// [`StoreError::Closed`]; reads keep working. Calling it again only syncs again.
    fn close(&self) -> Result<(), StoreError> {
        self.stop_writer();
        let shared = &*self.shared;
        let first_retained = shared.bounds.first_retained(&shared.db, &shared.events)?;
        meta::store_first_retained(&shared.meta, first_retained)?;
        shared.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}

impl Drop for EmbeddedLog {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog")
            .field("lock", &self.shared.lock.path())
            .field("epoch", &self.shared.epoch)
            .field("bounds", &self.shared.bounds())
            .finish_non_exhaustive()
    }
}
