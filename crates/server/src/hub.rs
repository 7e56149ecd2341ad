//! Live fan-out: every committed batch reaches every subscriber, encoded once.
//!
//! The store's writer hands each durable batch to [`Hub::publish`], in sequence order. The hub
//! reads the few fields filters need, builds the SSE frames of the whole batch once, one after
//! the other in one buffer, and puts the batch in a bounded ring ([`tokio::sync::broadcast`]) that every subscriber reads at its own pace.
//! Publishing never waits for a subscriber. A subscriber that falls more than the ring behind
//! is told it lagged and catches up from the store, which holds everything the hub ever
//! published; so the ring's size bounds memory, never correctness.
//!
//! Because a batch's frames sit back to back, a subscriber that wants a run of consecutive
//! events of a batch (every unfiltered stream wants all of them) sends that run as one shared
//! slice of the buffer: no copy and no allocation per subscriber, however many events the batch
//! holds.

use std::ops::{Deref, Range};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
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
    /// Where the whole `event: log` (or `event: span`) SSE frame lies in its batch's buffer.
    frame: Range<usize>,
    /// The event JSON inside the frame.
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

/// Records committed together, shared by every subscriber.
pub type LiveBatch = Arc<LiveEvents>;

/// The events of one committed batch, in sequence order (never empty), and their SSE frames
/// back to back in one buffer.
#[derive(Debug)]
pub struct LiveEvents {
    events: Box<[LiveEvent]>,
    frames: Bytes,
}

impl LiveEvents {
    /// The frames of the consecutive events `events` (indices into the batch) as one shared
    /// slice of the batch's buffer.
    pub fn frames_of(&self, events: Range<usize>) -> Bytes {
        debug_assert!(!events.is_empty(), "a run holds at least one event");
        let start = self.events[events.start].frame.start;
        let end = self.events[events.end - 1].frame.end;
        self.frames.slice(start..end)
    }
}

impl Deref for LiveEvents {
    type Target = [LiveEvent];

    fn deref(&self) -> &[LiveEvent] {
        &self.events
    }
}

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
        // Room for the JSON plus a cursor and the field names: one allocation for most batches.
        let estimate: usize = batch.iter().map(|record| record.json.len() + 96).sum();
        let mut frames = BytesMut::with_capacity(estimate);
        let encoded: Vec<Encoded> = batch
            .iter()
            .filter_map(|record| encode(record, &mut frames))
            .collect();
        if encoded.is_empty() {
            return;
        }

        let frames = frames.freeze();
        let events: Box<[LiveEvent]> = encoded
            .into_iter()
            .map(|encoded| LiveEvent {
                seq: encoded.seq,
                level: encoded.keys.level,
                trace_id: encoded.keys.trace_id,
                service: encoded.keys.service,
                kind: encoded.keys.kind,
                json: frames.slice(encoded.json),
                frame: encoded.frame,
                message: OnceLock::new(),
            })
            .collect();
        self.published
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        // An error only means nobody is subscribed right now; the store has the batch.
        let _ = self.sender.send(Arc::new(LiveEvents { events, frames }));
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

/// One record's frame written into its batch's buffer.
struct Encoded {
    seq: u64,
    keys: EventKeys,
    frame: Range<usize>,
    json: Range<usize>,
}

/// Appends the frame of one record to `frames`; `None` (logged) if its JSON does not parse,
/// which would mean the store handed out a record it did not write.
fn encode(record: &Record, frames: &mut BytesMut) -> Option<Encoded> {
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
    let start = frames.len();
    sse::write_frame(frames, id, event, data);
    let end = frames.len();
    // The data line ends two bytes before the frame does ("\n\n").
    let json = end - 2 - data.len()..end - 2;
    Some(Encoded {
        seq: record.seq,
        keys,
        frame: start..end,
        json,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, service: &str, message: &str) -> Record {
        let json = format!(
            r#"{{"id":"00000001-{seq}","ts":"2026-01-01T00:00:00Z","level":"INFO","service":"{service}","message":"{message}"}}"#
        );
        let keys = EventKeys {
            level: Level::Info,
            service: service.into(),
            trace_id: None,
            kind: RecordKind::Log,
        };
        Record {
            seq,
            received_nanos: seq,
            json: Bytes::from(json),
            keys: Some(keys),
        }
    }

    #[test]
    fn a_batch_is_framed_back_to_back_and_runs_are_shared_slices() {
        let hub = Hub::new(4);
        let mut live = hub.subscribe();
        let records: Vec<Record> = (1..=3)
            .map(|seq| record(seq, "api", &format!("m{seq}")))
            .collect();
        hub.publish(&CommittedBatch::from(records.clone()));

        let batch = live.try_recv().expect("one batch");
        assert_eq!(batch.len(), 3);
        let expected: Vec<Bytes> = records
            .iter()
            .map(|record| {
                let id = leading_id(&record.json).expect("id");
                sse::frame(Some(id), "log", &record.json)
            })
            .collect();
        assert_eq!(batch.frames_of(0..3), expected.concat());
        assert_eq!(batch.frames_of(1..2), expected[1]);
        assert_eq!(batch.frames_of(1..3), expected[1..].concat());
        assert_eq!(batch[2].message(), "m3");
        assert_eq!(&*batch[0].service, "api");
    }

    #[test]
    fn a_record_without_its_id_is_left_out_and_the_rest_stay_framed() {
        let hub = Hub::new(4);
        let mut live = hub.subscribe();
        let mut broken = record(2, "api", "lost");
        broken.json = Bytes::from_static(br#"{"level":"INFO","service":"api","message":"x"}"#);
        hub.publish(&CommittedBatch::from(vec![
            record(1, "api", "a"),
            broken,
            record(3, "api", "c"),
        ]));

        let batch = live.try_recv().expect("one batch");
        let seqs: Vec<u64> = batch.iter().map(|event| event.seq).collect();
        assert_eq!(seqs, [1, 3]);
        let text = String::from_utf8(batch.frames_of(0..2).to_vec()).expect("utf-8");
        assert_eq!(text.matches("event: log\n").count(), 2);
        assert!(text.ends_with("\"message\":\"c\"}\n\n"), "{text}");
    }
}
