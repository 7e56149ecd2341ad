//! Live fan-out: every committed batch reaches every subscriber, encoded once.
//!
//! The store's writer hands each durable batch to [`Hub::publish`], in sequence order. The hub
//! reads the few fields filters need, builds each record's SSE frame once, and puts the batch
//! in a bounded ring ([`tokio::sync::broadcast`]) that every subscriber reads at its own pace.
//! Publishing never waits for a subscriber. A subscriber that falls more than the ring behind
//! is told it lagged and catches up from the store, which holds everything the hub ever
//! published; so the ring's size bounds memory, never correctness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::broadcast;
use tracetail_model::event::leading_id;
use tracetail_model::span::span_json;
use tracetail_model::{EventKeys, EventView, Level, RecordKind, TraceId, sse};
use tracetail_store::{CommittedBatch, Record};

/// Batches the ring holds by default before a slow subscriber is declared lagged.
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
    pub service: Arc<str>,
    /// A log event or a span: spans go only to streams of their trace.
    pub kind: RecordKind,
    /// The whole `event: log` (or `event: span`) SSE frame, shared by every subscriber that
    /// sends it.
    pub frame: Bytes,
    /// The event JSON inside `frame`.
    json: Bytes,
    /// The message, read from the JSON by the first subscriber with a text filter.
    message: OnceLock<Box<str>>,
}

impl LiveEvent {
    /// The message, for the text filter. Parsed once per event, on first use.
    pub fn message(&self) -> &str {
        self.message
            .get_or_init(|| match EventView::parse(&self.json) {
                Ok(view) => view.message.into(),
                Err(_) => Box::from(""),
            })
    }
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
        Hub::new(RING_BATCHES)
    }
}

impl Hub {
    /// A hub with an empty ring of `ring_batches` batches.
    pub fn new(ring_batches: usize) -> Hub {
        let (sender, _) = broadcast::channel(ring_batches.max(1));
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
    let keys = match &record.keys {
        Some(keys) => keys.clone(),
        None => keys_from_json(record)?,
    };
    let Some(cursor) = leading_id(&record.json) else {
        tracing::error!(
            seq = record.seq,
            "committed record does not start with its id"
        );
        return None;
    };
    // A span's JSON is written once at ingest and always wrapped, so it is always there.
    let (event, id, data) = match keys.kind {
        RecordKind::Log => ("log", Some(cursor), &record.json[..]),
        RecordKind::Span => ("span", None, span_json(&record.json).unwrap_or(b"{}")),
    };
    let frame = sse::frame(id, event, data);
    let json_start = frame.len() - data.len() - 2;
    Some(LiveEvent {
        seq: record.seq,
        level: keys.level,
        trace_id: keys.trace_id,
        service: keys.service,
        kind: keys.kind,
        json: frame.slice(json_start..frame.len() - 2),
        frame,
        message: OnceLock::new(),
    })
}

fn keys_from_json(record: &Record) -> Option<EventKeys> {
    if record.kind() == RecordKind::Span {
        return span_keys(record);
    }
    match record.view() {
        Ok(view) => Some(EventKeys {
            level: view.level.0,
            trace_id: view.trace_id(),
            service: view.service.as_ref().into(),
            kind: RecordKind::Log,
        }),
        Err(error) => {
            tracing::error!(seq = record.seq, %error, "committed record is not event JSON");
            None
        }
    }
}

/// The keys of a span record read back from the store.
fn span_keys(record: &Record) -> Option<EventKeys> {
    #[derive(serde::Deserialize)]
    struct SpanKeys {
        trace_id: String,
        service: String,
    }
    let json = span_json(&record.json)?;
    let parsed: SpanKeys = serde_json::from_slice(json)
        .inspect_err(|error| {
            tracing::error!(seq = record.seq, %error, "committed record is not span JSON");
        })
        .ok()?;
    Some(EventKeys {
        level: Level::Info,
        service: parsed.service.into(),
        trace_id: TraceId::from_hex(&parsed.trace_id).ok(),
        kind: RecordKind::Span,
    })
}
