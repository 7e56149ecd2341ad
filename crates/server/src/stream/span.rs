//! The span of one stream: it lives as long as the connection.
//!
//! The request's server span (see `crate::trace`) is handed to the stream, which keeps it open
//! until its body ends. On the way it marks the first event sent (`first_event`, the time to
//! first byte of data), and at the end records what the stream did: `stream.events_sent`,
//! `stream.bytes_sent`, `stream.events_replayed`, `stream.gaps`, `stream.cursor.requested`,
//! `stream.cursor.effective` and `stream.close_reason` (`client_gone`, `shutdown` or `error`).
//!
//! The counts are plain integers the subscriber bumps as it sends; nothing happens per event
//! on the span itself until it ends.

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The client went away (the connection dropped the body).
    ClientGone,
    /// The server is shutting down.
    Shutdown,
    /// Reading the store failed, or the hub stopped.
    Error,
}

impl CloseReason {
    fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientGone => "client_gone",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Error => "error",
        }
    }
}

/// A stream's span and the counts recorded on it when it ends.
pub(crate) struct StreamSpan {
    context: Context,
    requested: Option<String>,
    effective: String,
    events_sent: u64,
    bytes_sent: u64,
    events_replayed: u64,
    gaps: u64,
    /// Set when the stream ends itself; a body dropped before that means the client left.
    close: Option<CloseReason>,
}

impl StreamSpan {
    /// Takes over the request span in `context`; `requested` is the cursor the client sent,
    /// `effective` the one the stream starts after.
    pub(crate) fn new(context: Context, requested: Option<String>, effective: String) -> Self {
        StreamSpan {
            context,
            requested,
            effective,
            events_sent: 0,
            bytes_sent: 0,
            events_replayed: 0,
            gaps: 0,
            close: None,
        }
    }

    /// The OpenTelemetry context of the stream's span.
    pub(crate) fn context(&self) -> &Context {
        &self.context
    }

    /// Counts a chunk written to the connection holding `events` log events.
    pub(crate) fn sent(&mut self, bytes: usize, events: u64) {
        if events > 0 && self.events_sent == 0 {
            self.context.span().add_event("first_event", Vec::new());
        }
        self.events_sent += events;
        self.bytes_sent += bytes as u64;
    }

    /// Counts log events read from the store rather than live.
    pub(crate) fn replayed(&mut self, events: u64) {
        self.events_replayed += events;
    }

    /// Counts an `event: gap`.
    pub(crate) fn gap(&mut self) {
        self.gaps += 1;
    }

    /// Notes why the stream is ending on its own.
    pub(crate) fn closing(&mut self, reason: CloseReason) {
        self.close = Some(reason);
    }
}

impl Drop for StreamSpan {
    fn drop(&mut self) {
        let reason = self.close.unwrap_or(CloseReason::ClientGone);
        let span = self.context.span();
        let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let mut attributes = vec![
            KeyValue::new("stream.events_sent", count(self.events_sent)),
            KeyValue::new("stream.bytes_sent", count(self.bytes_sent)),
            KeyValue::new("stream.events_replayed", count(self.events_replayed)),
            KeyValue::new("stream.gaps", count(self.gaps)),
            KeyValue::new("stream.cursor.effective", self.effective.clone()),
            KeyValue::new("stream.close_reason", reason.as_str()),
        ];
        if let Some(requested) = self.requested.take() {
            attributes.push(KeyValue::new("stream.cursor.requested", requested));
        }
        span.set_attributes(attributes);
        if reason == CloseReason::Error {
            span.set_status(Status::error("the stream ended on an error"));
        }
        span.end();
    }
}
