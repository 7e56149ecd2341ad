//! `GET /metrics`: the hub's own figures in the Prometheus text format, and the operational
//! events that move them.
//!
//! [`Metrics`] owns every metric. Hot paths never touch a metric per event per subscriber:
//! ingest adds once per request, a stream adds once per chunk it writes. Each operational
//! event (records rejected, a subscriber fell behind, a gap sent, a request refused) is one
//! method here that moves its metric and writes one log line with a constant message and
//! structured fields, at most once a second per kind (the lines skipped in between are
//! counted in the next one's `suppressed`). Store figures are read when scraped.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tracetail_subscribers` | gauge | |
//! | `tracetail_ingested_records_total` | counter | `protocol` |
//! | `tracetail_rejected_records_total` | counter | `protocol`, `reason` |
//! | `tracetail_delivered_events_total` | counter | |
//! | `tracetail_sent_bytes_total` | counter | |
//! | `tracetail_catch_ups_total` | counter | |
//! | `tracetail_gaps_total` | counter | `reason`: `unknown`, `evicted`, `future`, `malformed` |
//! | `tracetail_stream_duration_seconds` | histogram | |
//! | `tracetail_ingest_write_seconds` | histogram | `protocol` |
//! | `tracetail_store_size_bytes` | gauge | |
//! | `tracetail_store_records` | gauge | |
//! | `tracetail_refused_requests_total` | counter | `reason` |
//!
//! `protocol` is `otlp_logs`, `otlp_traces` or `events`. Every series of a known label value
//! is there from the start, at 0, so that `rate()` and alerts see the first increase.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// One label.
type Label = [(&'static str, &'static str); 1];
/// Two labels.
type Labels = [(&'static str, &'static str); 2];

/// The `protocol` label values.
const PROTOCOLS: [&str; 3] = ["otlp_logs", "otlp_traces", "events"];
/// The `protocol` and `reason` label values of rejected records.
const REJECTION_REASONS: [(&str, &str); 7] = [
    ("otlp_traces", "bad_id"),
    ("events", "not_json"),
    ("events", "not_an_object"),
    ("events", "bad_time"),
    ("events", "bad_level"),
    ("events", "bad_id"),
    ("events", "bad_attributes"),
];
/// The `reason` label values of gaps.
const GAP_REASONS: [&str; 4] = ["unknown", "evicted", "future", "malformed"];
/// The `reason` label values of refused requests.
const REFUSAL_REASONS: [&str; 5] = [
    "bad_request",
    "too_large",
    "unsupported_media_type",
    "shutting_down",
    "header_timeout",
];

/// Every metric of the hub. Created once per server; shared through [`AppState`].
pub(crate) struct Metrics {
    registry: Registry,
    subscribers: Gauge,
    ingested: Family<Label, Counter>,
    rejected: Family<Labels, Counter>,
    delivered: Counter,
    sent_bytes: Counter,
    catch_ups: Counter,
    gaps: Family<Label, Counter>,
    stream_duration: Histogram,
    ingest_write: Family<Label, Histogram>,
    store_bytes: Gauge,
    store_records: Gauge,
    refused: Family<Label, Counter>,
    /// When each kind of operational event last logged, so that repeats are rate-limited.
    rejected_log: LogLimit,
    lagged_log: LogLimit,
    gap_log: LogLimit,
    refused_log: LogLimit,
}

impl Metrics {
    /// Registers every metric.
    pub(crate) fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::default(),
            subscribers: Gauge::default(),
            ingested: Family::default(),
            rejected: Family::default(),
            delivered: Counter::default(),
            sent_bytes: Counter::default(),
            catch_ups: Counter::default(),
            gaps: Family::default(),
            stream_duration: Histogram::new(exponential_buckets(0.01, 4.0, 12)),
            ingest_write: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_25, 2.0, 14))
            }),
            store_bytes: Gauge::default(),
            store_records: Gauge::default(),
            refused: Family::default(),
            rejected_log: LogLimit::default(),
            lagged_log: LogLimit::default(),
            gap_log: LogLimit::default(),
            refused_log: LogLimit::default(),
        };
        metrics.register();
        metrics.create_known_series();
        metrics
    }

    /// Every labelled series whose label values are known in advance, at 0.
    fn create_known_series(&self) {
        // `get_or_create` creates the series at 0; the guard it returns is not needed.
        for protocol in PROTOCOLS {
            drop(self.ingested.get_or_create(&[("protocol", protocol)]));
            drop(self.ingest_write.get_or_create(&[("protocol", protocol)]));
        }
        for (protocol, reason) in REJECTION_REASONS {
            let labels = [("protocol", protocol), ("reason", reason)];
            drop(self.rejected.get_or_create(&labels));
        }
        for reason in GAP_REASONS {
            drop(self.gaps.get_or_create(&[("reason", reason)]));
        }
        for reason in REFUSAL_REASONS {
            drop(self.refused.get_or_create(&[("reason", reason)]));
        }
    }

    /// Names and describes each metric. prometheus-client adds `_total` to counters itself.
    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "tracetail_subscribers",
            "Open SSE streams",
            self.subscribers.clone(),
        );
        let ingested = "Records stored, by protocol";
        r.register(
            "tracetail_ingested_records",
            ingested,
            self.ingested.clone(),
        );
        let rejected = "Records rejected, by protocol and reason";
        r.register(
            "tracetail_rejected_records",
            rejected,
            self.rejected.clone(),
        );
        let delivered = "Log events and spans written to streams";
        r.register(
            "tracetail_delivered_events",
            delivered,
            self.delivered.clone(),
        );
        let sent = "Bytes written to streams";
        r.register("tracetail_sent_bytes", sent, self.sent_bytes.clone());
        let catch_ups = "Times a stream fell behind live and read the store";
        r.register("tracetail_catch_ups", catch_ups, self.catch_ups.clone());
        r.register(
            "tracetail_gaps",
            "gap events sent, by reason",
            self.gaps.clone(),
        );
        let duration = "How long streams stayed open";
        let stream_duration = self.stream_duration.clone();
        r.register(
            "tracetail_stream_duration_seconds",
            duration,
            stream_duration,
        );
        let write = "From receiving an ingest request to its records being durable";
        r.register(
            "tracetail_ingest_write_seconds",
            write,
            self.ingest_write.clone(),
        );
        let size = "Bytes the store takes on disk";
        r.register("tracetail_store_size_bytes", size, self.store_bytes.clone());
        let records = "Records (log events and spans) retained";
        r.register(
            "tracetail_store_records",
            records,
            self.store_records.clone(),
        );
        let refused = "Requests refused whole, by reason";
        r.register("tracetail_refused_requests", refused, self.refused.clone());
    }

    /// Records were stored: counted, and the time from receiving the request to durable.
    pub(crate) fn ingested(&self, protocol: &'static str, count: usize, received: Instant) {
        self.ingested
            .get_or_create(&[("protocol", protocol)])
            .inc_by(count as u64);
        self.ingest_write
            .get_or_create(&[("protocol", protocol)])
            .observe(received.elapsed().as_secs_f64());
    }

    /// Operational event: records of one request were rejected (a client mistake).
    pub(crate) fn records_rejected(
        &self,
        protocol: &'static str,
        reason: &'static str,
        count: usize,
    ) {
        if count == 0 {
            return;
        }
        let labels = [("protocol", protocol), ("reason", reason)];
        self.rejected.get_or_create(&labels).inc_by(count as u64);
        if let Some(suppressed) = self.rejected_log.allow() {
            tracing::debug!(protocol, reason, count, suppressed, "records rejected");
        }
    }

    /// Operational event: a subscriber fell behind the live ring and reads the store.
    pub(crate) fn subscriber_lagged(&self, after: u64, missed_batches: u64) {
        self.catch_ups.inc();
        if let Some(suppressed) = self.lagged_log.allow() {
            tracing::info!(
                after,
                missed_batches,
                suppressed,
                "subscriber fell behind; reading the store"
            );
        }
    }

    /// Operational event: a stream announced a gap.
    pub(crate) fn gap_sent(&self, reason: &'static str, requested: &str, resumed_from: &str) {
        self.gaps.get_or_create(&[("reason", reason)]).inc();
        if let Some(suppressed) = self.gap_log.allow() {
            tracing::info!(reason, requested, resumed_from, suppressed, "gap sent");
        }
    }

    /// Operational event: a request was refused whole (400, 413, 415, header timeout…).
    pub(crate) fn request_refused(&self, reason: &'static str) {
        self.refused.get_or_create(&[("reason", reason)]).inc();
        if let Some(suppressed) = self.refused_log.allow() {
            tracing::debug!(reason, suppressed, "request refused");
        }
    }

    /// A stream opened; the guard counts it open until dropped, then records its duration.
    pub(crate) fn stream_opened(self: &Arc<Metrics>) -> StreamGuard {
        self.subscribers.inc();
        StreamGuard {
            metrics: Arc::clone(self),
            opened: Instant::now(),
        }
    }

    /// A stream wrote a chunk holding `events` log events and spans.
    pub(crate) fn sent(&self, events: u64, bytes: usize) {
        if events > 0 {
            self.delivered.inc_by(events);
        }
        self.sent_bytes.inc_by(bytes as u64);
    }

    /// The text exposition, with store figures read now.
    fn render(&self, state: &AppState) -> String {
        let stats = state.log.stats();
        self.store_bytes
            .set(i64::try_from(stats.disk_bytes).unwrap_or(i64::MAX));
        self.store_records
            .set(i64::try_from(stats.events).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// Counts one open stream; dropped when the stream ends, however it ends.
pub(crate) struct StreamGuard {
    metrics: Arc<Metrics>,
    opened: Instant,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.metrics.subscribers.dec();
        let open_for = self.opened.elapsed().as_secs_f64();
        self.metrics.stream_duration.observe(open_for);
    }
}

/// Lets a log line through at most once per [`LOG_INTERVAL`].
#[derive(Default)]
struct LogLimit {
    /// Milliseconds since `EPOCH` of the last line let through, plus one (0: never).
    last: AtomicU64,
    /// Lines held back since.
    suppressed: AtomicU64,
}

/// The least time between two log lines of one kind of operational event.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

impl LogLimit {
    /// `Some(lines held back since the last one)` when this one may be logged.
    fn allow(&self) -> Option<u64> {
        let now = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last.load(Ordering::Relaxed);
        let interval = LOG_INTERVAL.as_millis() as u64;
        let due = last == 0 || now.saturating_sub(last) >= interval;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// A fixed instant for [`LogLimit`]'s clock.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The `reason` label of a refused request's status; `None` for statuses that are no refusal.
fn refusal_reason(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::BAD_REQUEST => Some("bad_request"),
        StatusCode::PAYLOAD_TOO_LARGE => Some("too_large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Some("unsupported_media_type"),
        StatusCode::SERVICE_UNAVAILABLE => Some("shutting_down"),
        _ => None,
    }
}

/// Middleware: counts every answer that refuses a request.
pub(crate) async fn count_refusals(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(reason) = refusal_reason(response.status()) {
        state.metrics.request_refused(reason);
    }
    response
}

/// The metrics route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(&state);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    let mut response = text.into_response();
    let value = HeaderValue::from_static(content_type);
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
}
