//! [`LogEvent`]: one log record after normalization, whatever protocol brought it.
//!
//! Its wire form is the event JSON of the contract: the `data:` of `event: log` and the items of
//! `GET /v1/logs`. Stores keep that JSON as it was written, so a record is encoded once at
//! ingest and never again; [`EventView`] reads back the few fields filters need.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{SpanId, TraceId};
use crate::level::Level;
use crate::span::RecordKind;

/// The service name of a record that does not say which service sent it.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// One normalized log record, before a store gives it a cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// When the record happened, in nanoseconds since the Unix epoch.
    pub ts_nanos: u64,
    /// The level name on the wire.
    pub level: Level,
    /// The OTLP severity number (0 when the sender gave only a name or nothing).
    pub severity: i32,
    /// The log text. A non-string body arrives here as its JSON text.
    pub message: String,
    /// The resource's `service.name`, else [`UNKNOWN_SERVICE`].
    pub service: String,
    /// The trace the record belongs to, when known.
    pub trace_id: Option<TraceId>,
    /// The span the record was written in, when known.
    pub span_id: Option<SpanId>,
    /// The record's own attributes, as natural JSON.
    pub attributes: Map<String, Value>,
    /// The attributes of the resource (process, host, service) that sent it.
    pub resource: Map<String, Value>,
}

#[derive(Serialize)]
struct WireEvent<'a> {
    ts: String,
    level: &'static str,
    severity: i32,
    message: &'a str,
    service: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<String>,
    attributes: &'a Map<String, Value>,
    resource: &'a Map<String, Value>,
}

/// What live filters and the trace index need of an event, known at ingest, so that nothing
/// downstream parses the event JSON again to find them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKeys {
    /// The level.
    pub level: Level,
    /// The service.
    pub service: Arc<str>,
    /// The trace, when known.
    pub trace_id: Option<TraceId>,
    /// A log event or a span.
    pub kind: RecordKind,
}

/// A [`LogEvent`] (or a [`crate::SpanEvent`]) serialized once, at ingest, waiting only for its
/// cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The fields filters and indexes read.
    pub keys: EventKeys,
    /// The event JSON without `id`: an object, starting with `{"ts":`.
    json_without_id: Vec<u8>,
}

impl EncodedEvent {
    /// An encoded record from its keys and its JSON without `id` (an object).
    pub(crate) fn from_parts(keys: EventKeys, json_without_id: Vec<u8>) -> EncodedEvent {
        debug_assert!(
            json_without_id.starts_with(b"{\""),
            "a JSON object with fields"
        );
        EncodedEvent {
            keys,
            json_without_id,
        }
    }

    /// The complete event JSON with `id` first.
    pub fn json_with_id(&self, id: &str) -> Vec<u8> {
        debug_assert!(
            crate::check_cursor(id).is_ok(),
            "cursors need no JSON escaping"
        );
        let rest = &self.json_without_id[1..];
        let mut json = Vec::with_capacity(rest.len() + id.len() + 9);
        json.extend_from_slice(b"{\"id\":\"");
        json.extend_from_slice(id.as_bytes());
        json.extend_from_slice(b"\",");
        json.extend_from_slice(rest);
        json
    }

    /// Bytes of JSON, a measure of the record's size.
    pub fn len(&self) -> usize {
        self.json_without_id.len()
    }

    /// Never true: an encoded event always has fields.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl LogEvent {
    /// The event JSON with its cursor: one line, no raw CR or LF anywhere.
    pub fn to_json(&self, id: &str) -> Vec<u8> {
        self.encode().json_with_id(id)
    }

    /// Serializes everything but the cursor, which the store assigns later.
    pub fn encode(&self) -> EncodedEvent {
        let wire = WireEvent {
            ts: format_ts(self.ts_nanos),
            level: self.level.as_str(),
            severity: self.severity,
            message: &self.message,
            service: &self.service,
            trace_id: self.trace_id.map(|id| id.to_hex()),
            span_id: self.span_id.map(|id| id.to_hex()),
            attributes: &self.attributes,
            resource: &self.resource,
        };
        let json_without_id =
            serde_json::to_vec(&wire).expect("maps with string keys always serialize");
        let keys = EventKeys {
            level: self.level,
            service: self.service.as_str().into(),
            trace_id: self.trace_id,
            kind: RecordKind::Log,
        };
        EncodedEvent {
            keys,
            json_without_id,
        }
    }
}

/// The cursor at the start of event JSON written by [`EncodedEvent::json_with_id`], read
/// without parsing the rest.
pub fn leading_id(json: &[u8]) -> Option<&str> {
    let rest = json.strip_prefix(b"{\"id\":\"")?;
    let end = rest.iter().position(|&byte| byte == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// RFC 3339 in UTC with nanoseconds, e.g. `2026-12-03T16:21:10.123456789Z`.
///
/// The fixed width makes these strings sort in time order.
pub fn format_ts(ts_nanos: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_nanos(ts_nanos);
    humantime::format_rfc3339_nanos(time).to_string()
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_nanos() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

/// The fields of stored event JSON that filters read, borrowed where the JSON allows.
#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    /// The cursor.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The time, as written by [`format_ts`].
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// The level name.
    pub level: LevelName,
    /// The service.
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    /// The message.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// The trace id, lower-case hex.
    #[serde(default, borrow)]
    pub trace_id: Option<Cow<'a, str>>,
}

/// A level read back from event JSON.
#[derive(Debug, Clone, Copy)]
pub struct LevelName(pub Level);

impl<'de> Deserialize<'de> for LevelName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <Cow<'de, str>>::deserialize(deserializer)?;
        Level::from_name(&name).map(LevelName).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown level {name:?} in stored event"))
        })
    }
}

impl<'a> EventView<'a> {
    /// Reads the filter fields of one stored event JSON.
    pub fn parse(json: &'a [u8]) -> Result<EventView<'a>, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The trace id as bytes, if present and valid.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.trace_id
            .as_deref()
            .and_then(|hex| TraceId::from_hex(hex).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> LogEvent {
        LogEvent {
            ts_nanos: 1_700_000_000_123_456_789,
            level: Level::Warn,
            severity: 13,
            message: "line one\r\nid: forged\n\ndata: x".into(),
            service: "checkout".into(),
            trace_id: Some(TraceId([0xab; 16])),
            span_id: Some(SpanId([0x01; 8])),
            attributes: json!({"n": 1}).as_object().cloned().expect("object"),
            resource: Map::new(),
        }
    }

    #[test]
    fn json_is_one_line_and_round_trips_the_message() {
        let json = sample().to_json("c-7");
        assert!(!json.contains(&b'\n') && !json.contains(&b'\r'));
        let value: Value = serde_json::from_slice(&json).expect("valid json");
        assert_eq!(value["message"], "line one\r\nid: forged\n\ndata: x");
        assert_eq!(value["ts"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(value["trace_id"], "abababababababababababababababab");
        assert_eq!(value["span_id"], "0101010101010101");
        assert_eq!(value["id"], "c-7");
        assert!(json.starts_with(br#"{"id":"c-7","ts":"#));
        assert_eq!(leading_id(&json), Some("c-7"));
    }

    #[test]
    fn view_reads_the_filter_fields_back() {
        let json = sample().to_json("c-7");
        let view = EventView::parse(&json).expect("view");
        assert_eq!(view.level.0, Level::Warn);
        assert_eq!(view.service, "checkout");
        assert_eq!(view.trace_id(), Some(TraceId([0xab; 16])));
        assert!(view.message.contains("forged"));
    }

    #[test]
    fn every_u64_timestamp_formats() {
        assert_eq!(format_ts(u64::MAX), "2554-07-21T23:34:33.709551615Z");
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000000000Z");
    }
}
