//! One subscriber: the bytes of one stream, from opening frames to the end of the connection.
//!
//! The subscriber keeps one number, `after`: every matching record with a sequence number up
//! to `after` has been sent, and nothing above it. Everything follows from that invariant:
//!
//! - Replay reads the store from `after` up to the latest committed record, a page at a time.
//! - A live batch is sent only if it continues exactly at `after + 1`; records at or below
//!   `after` (already replayed) are skipped. If the batch starts further on, or the ring says
//!   this subscriber lagged, the records in between are read from the store, which holds every
//!   record before the hub sees it. So replay and live never race, and a slow subscriber
//!   costs the hub nothing: it falls back to the store and rejoins live.
//! - Spans share the log: a `trace_id` stream sends its trace's spans as `event: span` (no
//!   `id:`), every other stream steps over them.
//! - If retention evicts records the subscriber has not read yet, it says so with `gap`.
//!
//! The body is a stream polled by the connection itself: there is no task per subscriber,
//! and dropping the connection drops the subscriber with it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use opentelemetry::trace::{FutureExt, TraceContextExt};
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracetail_model::span::span_json;
use tracetail_model::{Filter, RecordKind, sse};
use tracetail_store::{ReadRequest, Record, StoreError};

use super::span::{CloseReason, StreamSpan};
use super::start::{Gap, Start};
use crate::hub::{LiveBatch, LiveEvent};
use crate::metrics::StreamGuard;
use crate::state::AppState;

/// Matching records sent per replay page. A page is one body chunk, which a client that stops
/// reading leaves in the server's memory, so it stays small (about 100 KiB of typical events).
const PAGE_RECORDS: usize = 256;
/// Records looked at per replay page, matching or not.
const PAGE_SCAN: usize = 16 * 1024;

/// The state of one stream.
pub(crate) struct Subscriber {
    state: Arc<AppState>,
    filter: Filter,
    /// Every matching record up to here has been sent; nothing above it.
    after: u64,
    /// A gap to announce with the opening frames.
    opening_gap: Option<Gap>,
    /// This subscriber's place in the hub's ring.
    live: broadcast::Receiver<LiveBatch>,
    /// Cancelled at server shutdown; ends the stream so the client reconnects elsewhere.
    cancel: CancellationToken,
    /// Log events and spans in the chunk being built, counted on the span and in the
    /// metrics once it is sent.
    unsent_events: u64,
    /// Counts this stream as open in the metrics until the subscriber is dropped.
    _open: StreamGuard,
    /// The stream's span, ended when the subscriber is dropped with the body.
    span: StreamSpan,
}

/// What the stream loop does next.
enum Step {
    Send(Bytes),
    Nothing,
    CatchUp,
    End(CloseReason),
}

impl Subscriber {
    /// A subscriber that starts at `start`, with `live` subscribed before `start` was decided.
    pub(crate) fn new(
        state: Arc<AppState>,
        filter: Filter,
        start: Start,
        live: broadcast::Receiver<LiveBatch>,
        span: StreamSpan,
    ) -> Subscriber {
        let cancel = state.shutdown.child_token();
        let open = state.metrics.stream_opened();
        Subscriber {
            unsent_events: 0,
            _open: open,
            state,
            filter,
            after: start.after,
            opening_gap: start.gap,
            live,
            cancel,
            span,
        }
    }

    /// The response body: opening frames, replay, then live events and heartbeats.
    pub(crate) fn into_body(mut self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        // Logs written while the body is polled carry the stream span's ids.
        let context = self.span.context().clone();
        let body = async_stream::stream! {
            yield Ok(self.opening());
            let heartbeat = self.state.config.heartbeat;
            let idle = tokio::time::sleep(heartbeat);
            tokio::pin!(idle);
            let mut catching_up = true;
            // Registered once: a fresh `cancelled()` per wake-up would lock the token each time.
            let cancelled = self.cancel.clone().cancelled_owned();
            tokio::pin!(cancelled);

            loop {
                let step = if catching_up {
                    tokio::select! {
                        biased;
                        () = &mut cancelled => Step::End(CloseReason::Shutdown),
                        page = self.catch_up_page() => match page {
                            Ok(Some(chunk)) => Step::Send(chunk),
                            Ok(None) => {
                                catching_up = false;
                                Step::Nothing
                            }
                            Err(error) => {
                                tracing::warn!(%error, after = self.after, "replay failed; ending stream");
                                Step::End(CloseReason::Error)
                            }
                        },
                    }
                } else {
                    tokio::select! {
                        biased;
                        () = &mut cancelled => Step::End(CloseReason::Shutdown),
                        received = self.live.recv() => self.on_live(received),
                        () = &mut idle => Step::Send(heartbeat_frame()),
                    }
                };

                match step {
                    Step::Send(chunk) => {
                        if !chunk.is_empty() {
                            idle.as_mut().reset(Instant::now() + heartbeat);
                            let events = std::mem::take(&mut self.unsent_events);
                            self.count_sent(chunk.len(), events);
                            yield Ok(chunk);
                        }
                    }
                    Step::Nothing => {}
                    Step::CatchUp => catching_up = true,
                    Step::End(reason) => {
                        self.span.closing(reason);
                        break;
                    }
                }
            }
        };
        body.with_context(context)
    }

    /// `retry:`, `event: open`, and the opening gap if any, as one chunk.
    fn opening(&mut self) -> Bytes {
        let config = &self.state.config;
        let latest = self.state.log.cursor(self.state.log.bounds().latest);
        let span = self.span.context().span();
        let ids = span.span_context();
        let open = json!({
            "trace_id": ids.trace_id().to_string(),
            "span_id": ids.span_id().to_string(),
            "cursor": latest,
            "heartbeat_ms": millis(config.heartbeat),
            "retry_ms": millis(config.retry),
        });
        let mut chunk = BytesMut::new();
        chunk.extend_from_slice(&sse::retry(millis(config.retry)));
        chunk.extend_from_slice(&sse::frame(None, "open", open.to_string().as_bytes()));
        if let Some(gap) = self.opening_gap.take() {
            let metrics = &self.state.metrics;
            metrics.gap_sent(gap.reason, &gap.requested, &gap.resumed_from);
            self.span.gap();
            chunk.extend_from_slice(&gap_frame(&gap));
        }
        let bytes = chunk.freeze();
        self.count_sent(bytes.len(), 0);
        bytes
    }

    /// A chunk of `bytes` holding `events` log events and spans goes out: in the metrics and
    /// in the stream span alike.
    fn count_sent(&mut self, bytes: usize, events: u64) {
        self.state.metrics.sent(events, bytes);
        self.span.sent(bytes, events);
    }

    /// Handles one message from the hub's ring.
    fn on_live(&mut self, received: Result<LiveBatch, RecvError>) -> Step {
        let batch = match received {
            Ok(batch) => batch,
            Err(RecvError::Lagged(batches)) => {
                self.state.metrics.subscriber_lagged(self.after, batches);
                return Step::CatchUp;
            }
            Err(RecvError::Closed) => return Step::End(CloseReason::Shutdown),
        };
        let first = batch.first().map_or(0, |event| event.seq);
        if first > self.after + 1 {
            // Records between are committed but not in the ring for us: read them from the store.
            self.state.metrics.subscriber_lagged(self.after, 0);
            return Step::CatchUp;
        }

        // Runs of consecutive wanted events go out as shared slices of the batch's buffer.
        let mut frames = Frames::default();
        let mut run: Option<std::ops::Range<usize>> = None;
        let unsent = batch.partition_point(|event| event.seq <= self.after);
        for (index, event) in batch.iter().enumerate().skip(unsent) {
            if self.wants(event) {
                run = match run {
                    Some(run) if run.end == index => Some(run.start..index + 1),
                    Some(run) => {
                        frames.push(&batch.frames_of(run));
                        Some(index..index + 1)
                    }
                    None => Some(index..index + 1),
                };
                self.unsent_events += 1;
            }
            self.after = event.seq;
        }
        if let Some(run) = run {
            frames.push(&batch.frames_of(run));
        }
        frames.into_step()
    }

    /// Sends the next page of stored records after `after`; `None` once caught up with the
    /// latest committed record.
    async fn catch_up_page(&mut self) -> Result<Option<Bytes>, StoreError> {
        let bounds = self.state.log.bounds();
        if self.after >= bounds.latest {
            return Ok(None);
        }
        let mut frames = Frames::default();
        if let Some(oldest) = bounds.oldest.filter(|&oldest| oldest > self.after + 1) {
            frames.push(&self.evicted_gap(oldest - 1));
        }

        let through = bounds.latest;
        let (records, scanned_to) = match self.filter.trace_id {
            Some(trace_id) => {
                let page = self
                    .state
                    .log
                    .trace(trace_id, self.after, PAGE_RECORDS)
                    .await?;
                let scanned_to = page.continue_after().map_or(through, |s| s.min(through));
                let mut records = page.records;
                records.retain(|record| record.seq <= through);
                (records, scanned_to)
            }
            None => self.read_page(through).await?,
        };
        for record in &records {
            match record.kind() {
                RecordKind::Span => frames.push(&span_frame(record)),
                RecordKind::Log if self.filter.matches_view(&record.view()?) => {
                    frames.push(&self.replay_frame(record));
                }
                RecordKind::Log => continue,
            }
            self.span.replayed(1);
            self.unsent_events += 1;
        }
        self.after = scanned_to.max(self.after);
        Ok(Some(frames.finish()))
    }

    /// One bounded read of the store after `after`, up to `through`.
    async fn read_page(&self, through: u64) -> Result<(Vec<Record>, u64), StoreError> {
        let request = ReadRequest {
            seqs: Some(self.after + 1..=through),
            filter: self.filter.clone(),
            limit: PAGE_RECORDS,
            scan_limit: PAGE_SCAN,
            ..ReadRequest::default()
        };
        let page = self.state.log.read(request).await?;
        // Nothing looked at means the records were evicted since `bounds`: skip past them,
        // and the next page announces the gap.
        let scanned_to = page.continue_after().unwrap_or(through);
        Ok((page.records, scanned_to))
    }

    /// Whether a live record goes out on this stream: matching log events, and the spans of
    /// the stream's trace (only `trace_id` streams get spans).
    fn wants(&self, event: &LiveEvent) -> bool {
        match event.kind {
            RecordKind::Span => {
                self.filter.trace_id.is_some() && self.filter.trace_id == event.trace_id
            }
            RecordKind::Log => {
                self.filter
                    .matches(&event.service, event.level, event.trace_id, event.message())
            }
        }
    }

    fn replay_frame(&self, record: &Record) -> Bytes {
        sse::frame(
            Some(&self.state.log.cursor(record.seq)),
            "log",
            &record.json,
        )
    }

    /// Moves past evicted records and says so.
    fn evicted_gap(&mut self, resume_after: u64) -> Bytes {
        let gap = Gap {
            requested: self.state.log.cursor(self.after),
            resumed_from: self.state.log.cursor(resume_after),
            reason: "evicted",
        };
        let metrics = &self.state.metrics;
        metrics.gap_sent(gap.reason, &gap.requested, &gap.resumed_from);
        self.span.gap();
        self.after = resume_after;
        gap_frame(&gap)
    }
}

/// Frames to send together: one shared piece is sent as is, several are copied into one
/// buffer so the connection writes them at once.
#[derive(Default)]
struct Frames {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
}

impl Frames {
    fn push(&mut self, frame: &Bytes) {
        if let Some(joined) = &mut self.joined {
            joined.extend_from_slice(frame);
            return;
        }
        match self.first.take() {
            None => self.first = Some(frame.clone()),
            Some(first) => {
                let mut joined = BytesMut::with_capacity((first.len() + frame.len()) * 4);
                joined.extend_from_slice(&first);
                joined.extend_from_slice(frame);
                self.joined = Some(joined);
            }
        }
    }

    fn finish(self) -> Bytes {
        match self.joined {
            Some(joined) => joined.freeze(),
            None => self.first.unwrap_or_default(),
        }
    }

    fn into_step(self) -> Step {
        let bytes = self.finish();
        if bytes.is_empty() {
            Step::Nothing
        } else {
            Step::Send(bytes)
        }
    }
}

/// `event: span` for a stored span; spans carry no `id:`.
fn span_frame(record: &Record) -> Bytes {
    sse::frame(None, "span", span_json(&record.json).unwrap_or(b"{}"))
}

fn gap_frame(gap: &Gap) -> Bytes {
    let data = serde_json::to_vec(gap).expect("a gap always serializes");
    sse::frame(None, "gap", &data)
}

fn heartbeat_frame() -> Bytes {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    sse::frame(
        None,
        "heartbeat",
        format!("{{\"ts\":{}}}", now.as_millis()).as_bytes(),
    )
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
