//! [`SpanEvent`]: one OTLP span after normalization, and how it lies in the event log.
//!
//! Its wire form is the span JSON of the contract: the items of `spans` in
//! `GET /v1/traces/{trace_id}` and the `data:` of `event: span`. A store keeps spans in the
//! same log as log events, each wrapped as `{"id": cursor, "span": {...}}`, so that durability,
//! retention and the trace index hold for both alike. [`record_kind`] tells the two apart from
//! the first bytes of stored JSON, and [`span_json`] cuts the span JSON out without parsing.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{EncodedEvent, EventKeys, format_ts, leading_id};
use crate::ids::{SpanId, TraceId};
use crate::level::Level;

/// What a stored record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordKind {
    /// A log event (`event: log`).
    #[default]
    Log,
    /// A span (`event: span`).
    Span,
}

/// One normalized span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// The trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
    /// The parent span; `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// The operation name.
    pub name: String,
    /// `UNSPECIFIED`, `INTERNAL`, `SERVER`, `CLIENT`, `PRODUCER` or `CONSUMER`.
    pub kind: &'static str,
    /// The resource's `service.name`, else `unknown_service`.
    pub service: String,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_nanos: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_nanos: u64,
    /// `UNSET`, `OK` or `ERROR`.
    pub status_code: &'static str,
    /// The status message; empty when unset.
    pub status_message: String,
    /// The span's attributes, as natural JSON.
    pub attributes: Map<String, Value>,
    /// The resource's attributes.
    pub resource: Map<String, Value>,
    /// Timed events within the span.
    pub events: Vec<SpanEventItem>,
}

/// One timed event within a span (an exception, a retry…).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEventItem {
    /// Its name.
    pub name: String,
    /// When it happened, in nanoseconds since the Unix epoch.
    pub ts_nanos: u64,
    /// Its attributes.
    pub attributes: Map<String, Value>,
}

/// The names of OTLP's `Span.SpanKind` values, by number.
pub fn span_kind_name(number: i32) -> &'static str {
    match number {
        1 => "INTERNAL",
        2 => "SERVER",
        3 => "CLIENT",
        4 => "PRODUCER",
        5 => "CONSUMER",
        _ => "UNSPECIFIED",
    }
}

/// The names of OTLP's `Status.StatusCode` values, by number.
pub fn status_code_name(number: i32) -> &'static str {
    match number {
        1 => "OK",
        2 => "ERROR",
        _ => "UNSET",
    }
}

#[derive(Serialize)]
struct WireSpan<'a> {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    name: &'a str,
    kind: &'static str,
    service: &'a str,
    start: String,
    end: String,
    duration_ms: f64,
    status: WireStatus<'a>,
    attributes: &'a Map<String, Value>,
    resource: &'a Map<String, Value>,
    events: Vec<WireSpanEvent<'a>>,
}

#[derive(Serialize)]
struct WireStatus<'a> {
    code: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
}

#[derive(Serialize)]
struct WireSpanEvent<'a> {
    name: &'a str,
    ts: String,
    attributes: &'a Map<String, Value>,
}

impl SpanEvent {
    /// The span JSON of the wire contract: one line, no raw CR or LF.
    pub fn to_json(&self) -> Vec<u8> {
        let events = self
            .events
            .iter()
            .map(|event| WireSpanEvent {
                name: &event.name,
                ts: format_ts(event.ts_nanos),
                attributes: &event.attributes,
            })
            .collect();
        let wire = WireSpan {
            trace_id: self.trace_id.to_hex(),
            span_id: self.span_id.to_hex(),
            parent_span_id: self.parent_span_id.map(|id| id.to_hex()),
            name: &self.name,
            kind: self.kind,
            service: &self.service,
            start: format_ts(self.start_nanos),
            end: format_ts(self.end_nanos),
            duration_ms: self.end_nanos.saturating_sub(self.start_nanos) as f64 / 1e6,
            status: WireStatus {
                code: self.status_code,
                message: &self.status_message,
            },
            attributes: &self.attributes,
            resource: &self.resource,
            events,
        };
        serde_json::to_vec(&wire).expect("maps with string keys always serialize")
    }

    /// Serializes the span for the store, wrapped as `{"span": ...}`; the store adds `id`.
    pub fn encode(&self) -> EncodedEvent {
        let span = self.to_json();
        let mut json = Vec::with_capacity(span.len() + 9);
        json.extend_from_slice(b"{\"span\":");
        json.extend_from_slice(&span);
        json.push(b'}');
        let keys = EventKeys {
            level: Level::Info,
            service: Arc::from(self.service.as_str()),
            trace_id: Some(self.trace_id),
            kind: RecordKind::Span,
        };
        EncodedEvent::from_parts(keys, json)
    }
}

/// Whether stored JSON (as written by [`EncodedEvent::json_with_id`]) is a log or a span.
pub fn record_kind(json: &[u8]) -> RecordKind {
    match after_id(json) {
        Some(rest) if rest.starts_with(b"\"span\":") => RecordKind::Span,
        _ => RecordKind::Log,
    }
}

/// The span JSON inside a stored span record; `None` for a log event.
pub fn span_json(json: &[u8]) -> Option<&[u8]> {
    let rest = after_id(json)?.strip_prefix(b"\"span\":")?;
    rest.strip_suffix(b"}")
}

/// What follows `{"id":"...",` in stored JSON.
fn after_id(json: &[u8]) -> Option<&[u8]> {
    let id = leading_id(json)?;
    json.get(id.len() + 9..)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> SpanEvent {
        SpanEvent {
            trace_id: TraceId([0xab; 16]),
            span_id: SpanId([1; 8]),
            parent_span_id: None,
            name: "GET /cart".into(),
            kind: span_kind_name(2),
            service: "web".into(),
            start_nanos: 1_700_000_000_000_000_000,
            end_nanos: 1_700_000_000_012_500_000,
            status_code: status_code_name(2),
            status_message: String::new(),
            attributes: json!({"n": 1}).as_object().cloned().expect("object"),
            resource: Map::new(),
            events: vec![SpanEventItem {
                name: "retry".into(),
                ts_nanos: 1_700_000_000_001_000_000,
                attributes: Map::new(),
            }],
        }
    }

    #[test]
    fn span_json_has_the_contract_fields() {
        let value: Value = serde_json::from_slice(&sample().to_json()).expect("json");
        assert_eq!(
            value,
            json!({
                "trace_id": "abababababababababababababababab", "span_id": "0101010101010101",
                "name": "GET /cart", "kind": "SERVER", "service": "web",
                "start": "2023-11-14T22:13:20.000000000Z", "end": "2023-11-14T22:13:20.012500000Z",
                "duration_ms": 12.5, "status": {"code": "ERROR"}, "attributes": {"n": 1},
                "resource": {},
                "events": [{"name": "retry", "ts": "2023-11-14T22:13:20.001000000Z",
                            "attributes": {}}],
            })
        );
    }

    #[test]
    fn a_stored_span_is_told_from_a_log_and_its_json_cut_out() {
        let span = sample();
        let stored = span.encode().json_with_id("e-7");
        assert_eq!(record_kind(&stored), RecordKind::Span);
        assert_eq!(span_json(&stored), Some(&span.to_json()[..]));
        assert_eq!(leading_id(&stored), Some("e-7"));

        let log = br#"{"id":"e-8","ts":"x","message":"\"span\":{}"}"#;
        assert_eq!(record_kind(log), RecordKind::Log);
        assert_eq!(span_json(log), None);
    }
}
