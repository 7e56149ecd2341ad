//! [`ClientEvent`]: what a subscription yields. Stream events (`open`, `log`, `span`, `gap`,
//! `heartbeat`) are decoded from their SSE form here; status notes (`Connected`, `Resumed`,
//! `Reconnecting`) come from the reconnect loop and carry what a terminal client shows.
//!
//! Event types this version does not know, and events of the default type `message`, are
//! passed through as [`ClientEvent::Other`], never dropped: the wire contract lets the server
//! add types, and a caller may know them before this crate does.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use tracetail_model::{Level, SpanId, TraceId};

use crate::error::ClientError;
use crate::parser::SseEvent;

/// The longest piece of bad event data quoted in a [`ClientError::Decode`].
const DATA_SNIPPET_CHARS: usize = 200;

/// One item of a subscription: an event of the stream, or a note about the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A connection was established without a cursor (live, or from `since`).
    Connected,
    /// A connection was established resuming after `cursor` (sent as `Last-Event-ID`).
    Resumed {
        /// The cursor the stream resumes after, exclusive.
        cursor: String,
    },
    /// The connection is gone or could not be made; the next attempt starts after `delay`.
    Reconnecting {
        /// Attempts since the last connection that counted as healthy, starting at 1.
        attempt: u32,
        /// How long the stream waits before trying again.
        delay: Duration,
        /// Why the stream is reconnecting.
        reason: ReconnectReason,
    },
    /// `event: open`, first on every connection.
    Open {
        /// The stream's own trace, for finding the server side of this subscription.
        trace_id: TraceId,
        /// The stream's own span.
        span_id: SpanId,
        /// The server's latest cursor when the stream opened.
        cursor: String,
        /// The server's heartbeat interval; the idle watchdog uses three of them.
        heartbeat_ms: u64,
        /// The reconnect delay the server asks for (also sent as `retry:`).
        retry_ms: u64,
    },
    /// `event: log`: one log record.
    Log {
        /// The stream cursor of this event (its SSE `id:`).
        id: String,
        /// The record.
        record: LogRecord,
        /// The event JSON exactly as the server sent it, fields this client does not know
        /// included (for printing it on, as `tracetail tail --json` does).
        data: String,
    },
    /// `event: span`: one span of the trace a `trace_id` stream follows, as sent.
    Span {
        /// The stream cursor of this event (its SSE `id:`, empty when none was ever sent).
        id: String,
        /// The span JSON.
        span: Value,
    },
    /// `event: gap`: the server could not resume exactly where asked.
    Gap {
        /// The cursor that was asked for.
        requested: String,
        /// The cursor the stream resumes after instead.
        resumed_from: String,
        /// Why.
        reason: GapReason,
    },
    /// `event: heartbeat`: the server is alive and had nothing to send.
    Heartbeat,
    /// An event of a type this crate does not know, passed through as it came.
    Other {
        /// The event type (`message` when the server sent none).
        event: String,
        /// The data lines, joined with LF.
        data: String,
        /// The stream's last event ID when the event arrived.
        id: String,
    },
}

impl ClientEvent {
    /// Whether this is a note about the connection rather than an event of the stream.
    pub fn is_status(&self) -> bool {
        matches!(
            self,
            ClientEvent::Connected | ClientEvent::Resumed { .. } | ClientEvent::Reconnecting { .. }
        )
    }
}

/// Why a subscription is reconnecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconnectReason {
    /// The request failed before the server answered, or no answer came within the idle
    /// window (three heartbeat intervals).
    Network(String),
    /// The server answered with a status worth retrying: 408, 429 or 5xx.
    Status(u16),
    /// The server ended the stream.
    Ended,
    /// The stream broke off in the middle of its body.
    Interrupted(String),
    /// Nothing arrived for this long: the watchdog gave up on a silent stream.
    Silent(Duration),
}

impl fmt::Display for ReconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconnectReason::Network(error) => write!(f, "connection failed: {error}"),
            ReconnectReason::Status(status) => write!(f, "server answered {status}"),
            ReconnectReason::Ended => f.write_str("server ended the stream"),
            ReconnectReason::Interrupted(error) => write!(f, "stream broke off: {error}"),
            ReconnectReason::Silent(idle) => write!(f, "stream silent for {idle:?}"),
        }
    }
}

/// Why a `gap` was sent, per the wire contract.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum GapReason {
    /// The cursor belongs to another store or an older incarnation of this one.
    Unknown,
    /// The records after the cursor were removed by retention.
    Evicted,
    /// The cursor is past the latest record.
    Future,
    /// The text is not a cursor at all.
    Malformed,
    /// A reason this version does not know.
    Other(String),
}

impl From<String> for GapReason {
    fn from(reason: String) -> GapReason {
        match reason.as_str() {
            "unknown" => GapReason::Unknown,
            "evicted" => GapReason::Evicted,
            "future" => GapReason::Future,
            "malformed" => GapReason::Malformed,
            _ => GapReason::Other(reason),
        }
    }
}

/// One log record: the event JSON of the wire contract, the `data:` of `event: log` and an
/// item of `GET /v1/logs`. Fields the contract may add later are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogRecord {
    /// The stream cursor of the record.
    pub id: String,
    /// When it happened: RFC 3339, UTC, nanoseconds.
    pub ts: String,
    /// The level.
    #[serde(deserialize_with = "parsed")]
    pub level: Level,
    /// The OTLP severity number (0 when the sender gave none).
    #[serde(default)]
    pub severity: i32,
    /// The log text.
    pub message: String,
    /// The service that sent it.
    pub service: String,
    /// The trace it belongs to, when known.
    #[serde(default, deserialize_with = "parsed_option")]
    pub trace_id: Option<TraceId>,
    /// The span it was written in, when known.
    #[serde(default, deserialize_with = "parsed_option")]
    pub span_id: Option<SpanId>,
    /// The record's attributes.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// The attributes of the resource that sent it.
    #[serde(default)]
    pub resource: Map<String, Value>,
}

/// The data of `event: open`.
#[derive(Deserialize)]
struct OpenData {
    #[serde(deserialize_with = "parsed")]
    trace_id: TraceId,
    #[serde(deserialize_with = "parsed")]
    span_id: SpanId,
    cursor: String,
    heartbeat_ms: u64,
    retry_ms: u64,
}

/// The data of `event: gap`.
#[derive(Deserialize)]
struct GapData {
    requested: String,
    resumed_from: String,
    reason: GapReason,
}

/// Decodes one SSE event into a [`ClientEvent`]; the error names the event and quotes its data.
pub(crate) fn decode(event: SseEvent) -> Result<ClientEvent, ClientError> {
    let decoded = match event.event_type.as_str() {
        "open" => serde_json::from_str::<OpenData>(&event.data).map(|open| ClientEvent::Open {
            trace_id: open.trace_id,
            span_id: open.span_id,
            cursor: open.cursor,
            heartbeat_ms: open.heartbeat_ms,
            retry_ms: open.retry_ms,
        }),
        "log" => serde_json::from_str(&event.data).map(|record| ClientEvent::Log {
            id: event.last_event_id.clone(),
            record,
            data: event.data.clone(),
        }),
        "span" => serde_json::from_str(&event.data).map(|span| ClientEvent::Span {
            id: event.last_event_id.clone(),
            span,
        }),
        "gap" => serde_json::from_str::<GapData>(&event.data).map(|gap| ClientEvent::Gap {
            requested: gap.requested,
            resumed_from: gap.resumed_from,
            reason: gap.reason,
        }),
        // The data (`{"ts": ...}`) says nothing a client needs, so it is not parsed at all.
        "heartbeat" => Ok(ClientEvent::Heartbeat),
        _ => {
            return Ok(ClientEvent::Other {
                event: event.event_type,
                data: event.data,
                id: event.last_event_id,
            });
        }
    };
    decoded.map_err(|source| ClientError::Decode {
        data: event.data.chars().take(DATA_SNIPPET_CHARS).collect(),
        event_type: event.event_type,
        id: event.last_event_id,
        source,
    })
}

/// Deserializes a value from its text form with [`FromStr`].
fn parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// Like [`parsed`], for a field that may be absent or `null`.
fn parsed_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = Option::<String>::deserialize(deserializer)?;
    text.map(|text| text.parse().map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(event_type: &str, data: &str) -> SseEvent {
        SseEvent {
            event_type: event_type.into(),
            data: data.into(),
            last_event_id: "c-1".into(),
        }
    }

    #[test]
    fn a_log_record_reads_ids_levels_and_defaults() {
        let data = r#"{"id":"c-1","ts":"2026-01-01T00:00:00.000000000Z","level":"WARN",
            "message":"m","service":"s","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id":"00f067aa0ba902b7","attributes":{"n":1},"extra":true}"#;
        let ClientEvent::Log { id, record, .. } = decode(sse("log", data)).expect("a log") else {
            panic!("not a log");
        };
        assert_eq!(id, "c-1");
        assert_eq!(record.level, Level::Warn);
        assert_eq!(record.severity, 0);
        assert_eq!(
            record.trace_id.map(|id| id.to_hex()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            record.span_id.map(|id| id.to_hex()).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(record.attributes["n"], 1);
        assert!(record.resource.is_empty());
    }

    #[test]
    fn a_bad_trace_id_is_a_decode_error_quoting_the_data() {
        let data = r#"{"id":"c-1","ts":"t","level":"INFO","message":"m","service":"s",
            "trace_id":"xyz"}"#;
        let error = decode(sse("log", data)).expect_err("bad trace id");
        let message = error.to_string();
        assert!(
            message.contains("trace_id") && message.contains("xyz"),
            "{message}"
        );
    }

    #[test]
    fn an_unknown_gap_reason_is_kept() {
        let data = r#"{"requested":"a","resumed_from":"b","reason":"compacted"}"#;
        let gap = decode(sse("gap", data)).expect("a gap");
        assert!(
            matches!(gap, ClientEvent::Gap { reason: GapReason::Other(reason), .. }
            if reason == "compacted")
        );
    }
}
