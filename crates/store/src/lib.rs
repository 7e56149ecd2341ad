//! The durable event log, and the seam between one machine and many.
//!
//! - [`EventLog`]: what the server needs of a store: durable append with group commit,
//!   cursor resolution, reads by cursor range and by trace, and a commit listener that sees
//!   every committed batch in cursor order.
//! - [`embedded`]: the default backend, on fjall in a local data directory.
//!
//! A record is a log event or a span ([`RecordKind`]); both share one numbering, one
//! retention and one trace index. Reads by filter ([`EventLog::read`]) return log events only;
//! reads by trace ([`EventLog::trace`]) return both.
//!
//! A store assigns each record a sequence number, contiguous and increasing from 1, and a
//! cursor that names the sequence number and the store's *epoch*: a random id drawn when the
//! data directory is created. A cursor from another epoch (the directory was wiped, or it
//! came from another deployment) is recognised as foreign, never mistaken for a position.
#![warn(missing_docs)]

use std::ops::RangeInclusive;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tracetail_model::span::record_kind;
use tracetail_model::{EncodedEvent, EventKeys, EventView, Filter, RecordKind, TraceId};

pub mod embedded;
mod error;

pub use error::StoreError;

/// One stored record: its sequence number, when the store received it, and its event JSON
/// (which includes its cursor as `id`).
#[derive(Debug, Clone)]
pub struct Record {
    /// Position in the log; contiguous and increasing from 1.
    pub seq: u64,
    /// When the store accepted it, in nanoseconds since the Unix epoch. Never decreases with
    /// `seq`, so `since` can be answered by bisection.
    pub received_nanos: u64,
    /// The event JSON of the wire contract, one line.
    pub json: Bytes,
    /// The filter fields, when the record comes straight from ingest (records read back from
    /// disk leave this out: [`Record::view`] reads them from the JSON).
    pub keys: Option<EventKeys>,
}

impl Record {
    /// A log event or a span. Spans have no [`EventView`]: read them with
    /// [`tracetail_model::span::span_json`].
    pub fn kind(&self) -> RecordKind {
        match &self.keys {
            Some(keys) => keys.kind,
            None => record_kind(&self.json),
        }
    }

    /// The fields filters read (of a log event; a span is reported as corrupt).
    pub fn view(&self) -> Result<EventView<'_>, StoreError> {
        EventView::parse(&self.json).map_err(|source| StoreError::Corrupt {
            seq: self.seq,
            source,
        })
    }
}

/// Records just made durable, in sequence order, handed to the commit listener.
pub type CommittedBatch = Arc<[Record]>;

/// Called once per committed batch, after it is durable, in sequence order, from the store's
/// writer. It must not block: hand the batch on and return.
pub type CommitListener = Arc<dyn Fn(&CommittedBatch) + Send + Sync>;

/// The oldest and latest sequence numbers held; both `None` while the log is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    /// The oldest record still retained.
    pub oldest: Option<u64>,
    /// The latest record committed (it may have been evicted since, if retention is tiny).
    pub latest: u64,
}

/// Where a client's cursor points, as far as this store can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// A cursor of this store; resume after `seq` (exclusive). Records after it may since have
    /// been evicted or not exist yet: compare with [`EventLog::bounds`].
    Seq(u64),
    /// Shaped like this store's cursors, but of another epoch (the data directory was wiped,
    /// or it is another deployment's).
    Foreign,
    /// Not shaped like any cursor this kind of store writes.
    Malformed,
}

/// Which way a read walks the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// A bounded read of the log.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    /// Sequence numbers to look at, inclusive.
    pub seqs: Option<RangeInclusive<u64>>,
    /// Only records received at or after this time (nanoseconds).
    pub received_since: Option<u64>,
    /// Only records received before this time (nanoseconds).
    pub received_until: Option<u64>,
    /// Which records to return.
    pub filter: Filter,
    /// Walk direction.
    pub order: Order,
    /// Return at most this many matching records; 0 sets no limit.
    pub limit: usize,
    /// Stop after looking at this many records, matching or not, so one read never runs long;
    /// 0 sets no limit.
    pub scan_limit: usize,
}

/// The answer to a [`ReadRequest`].
#[derive(Debug, Clone, Default)]
pub struct ReadPage {
    /// Matching records, in the requested order.
    pub records: Vec<Record>,
    /// The last sequence number looked at; continue after it (before it, descending).
    /// `None` when nothing was looked at.
    pub scanned_to: Option<u64>,
    /// Whether the walk reached the end of the requested range (no more records to look at).
    pub exhausted: bool,
}

impl ReadPage {
    /// Where the next page starts (after it, ascending; before it, descending); `None` when
    /// there is no next page.
    pub fn continue_after(&self) -> Option<u64> {
        self.scanned_to.filter(|_| !self.exhausted)
    }
}

/// Size figures for metrics and `/readyz`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    /// Bytes on disk.
    pub disk_bytes: u64,
    /// Records retained (approximate).
    pub events: u64,
}

/// What the server needs of a store.
pub trait EventLog: Send + Sync + 'static {
    /// Makes `events` durable (fsync; concurrent appends share one) and returns the sequence
    /// numbers they received. Either every event is stored or, on error, none is acknowledged.
    fn append(
        &self,
        events: Vec<EncodedEvent>,
    ) -> BoxFuture<'_, Result<RangeInclusive<u64>, StoreError>>;

    /// The current bounds.
    fn bounds(&self) -> Bounds;

    /// The cursor text of a sequence number.
    fn cursor(&self, seq: u64) -> String;

    /// Resolves a cursor that passed [`tracetail_model::check_cursor`].
    fn locate(&self, cursor: &str) -> Located;

    /// Reads log events by sequence range, time and filter; spans are looked at (they count
    /// towards `scan_limit`) but never returned.
    fn read(&self, request: ReadRequest) -> BoxFuture<'_, Result<ReadPage, StoreError>>;

    /// Retained records of one trace with a sequence number above `after`, in order: log
    /// events and spans, from at most `limit` entries of the trace index. The page's
    /// `scanned_to` is where the next page starts; `exhausted` says there is no next page yet.
    fn trace(
        &self,
        trace_id: TraceId,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<ReadPage, StoreError>>;

    /// The first sequence number received at or after `nanos`; `None` if there is none yet.
    fn first_received_since(&self, nanos: u64) -> BoxFuture<'_, Result<Option<u64>, StoreError>>;

    /// Size figures.
    fn stats(&self) -> StoreStats;

    /// Flushes and syncs everything; called once at shutdown.
    fn close(&self) -> Result<(), StoreError>;
}
