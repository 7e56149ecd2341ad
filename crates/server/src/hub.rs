//! Live fan-out: every committed batch reaches every subscriber, encoded once.
//!
//! The store's writer hands each durable batch to [`Hub::publish`], in sequence order. The hub
//! reads the few fields filters need, builds each record's SSE frame once, and puts the batch
//! in a bounded ring ([`tokio::sync::broadcast`]) that every subscriber reads at its own pace.
//! Publishing never waits for a subscriber. A subscriber that falls more than the ring behind
//! is told it lagged and catches up from the store, which holds everything the hub ever
//! published; so the ring's size bounds memory, never correctness.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::broadcast;
use tracetail_model::{Level, TraceId, sse};
use tracetail_store::{CommittedBatch, Record};

/// Batches the ring holds before a slow subscriber is declared lagged.
pub const RING_BATCHES: usize = 4096;

/// One committed record, ready for subscribers.
#[derive(Debug)]
pub struct LiveEvent {
    /// Position in the log.
    pub seq: u64,
    /// Level, for the level filter.
    pub level: Level,
    /// Trace, for the trace filter.
    pub trace_id: Option<TraceId>,
    /// Service, for the service filter.
    pub service: Box<str>,
    /// Message, for the text filter.
    pub message: Box<str>,
    /// The whole `event: log` SSE frame, shared by every subscriber that sends it.
    pub frame: Bytes,
}

/// Records committed together, in sequence order; never empty.
pub type LiveBatch = Arc<[LiveEvent]>;

/// The fan-out point. Cheap to clone; all clones share one ring.
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<LiveBatch>,
    published: Arc<AtomicU64>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    /// A hub with an empty ring.
    pub fn new() -> Hub {
        let (sender, _) = broadcast::channel(RING_BATCHES);
        Hub {
            sender,
            published: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Encodes a committed batch once and offers it to every subscriber. Never blocks.
    pub fn publish(&self, batch: &CommittedBatch) {
        let live: Vec<LiveEvent> = batch.iter().filter_map(live_event).collect();
        if live.is_empty() {
            return;
        }
        self.published
            .fetch_add(live.len() as u64, Ordering::Relaxed);
        // An error only means nobody is subscribed right now; the store has the batch.
        let _ = self.sender.send(live.into());
    }

    /// A receiver that sees every batch published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveBatch> {
        self.sender.subscribe()
    }

    /// Live subscribers right now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Records published since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

/// The live form of one record; `None` (logged) if its JSON does not parse, which would mean
/// the store handed out a record it did not write.
fn live_event(record: &Record) -> Option<LiveEvent> {
    let view = match record.view() {
        Ok(view) => view,
        Err(error) => {
            tracing::error!(seq = record.seq, %error, "committed record is not event JSON");
            return None;
        }
    };
    Some(LiveEvent {
        seq: record.seq,
        level: view.level.0,
        trace_id: view.trace_id(),
        service: view.service.into(),
        message: view.message.into(),
        frame: sse::frame(Some(&view.id), "log", &record.json),
    })
}
