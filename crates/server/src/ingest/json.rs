//! `POST /v1/events`: log records as a JSON object, a JSON array of objects, or NDJSON.
//!
//! `Content-Type` chooses the framing: `application/json`, or no `Content-Type` at all, is one
//! object or an array of objects; `application/x-ndjson` (also `application/jsonl`) is one
//! object per line, with CRLF line ends tolerated, blank lines skipped, and the last line's
//! newline optional. Anything else answers 415. How each object becomes an event is
//! [`super::json_record`]'s business.
//!
//! The answer is
//! `{"accepted": n, "rejected": [{"index": i, "error": "..."}], "rejected_total": m}`:
//! - `index` is 0-based: the item's position in the array (0 for a single object), or the
//!   line's number in NDJSON counting every line, blank ones too (so `index + 1` is the line
//!   an editor shows).
//! - `rejected` lists the first 1000 rejections; `rejected_total` counts them all.
//! - 200 when any record was stored, or when there was nothing to reject (an empty array or
//!   an empty NDJSON body); 400 when every record was rejected. A body that is not JSON at all
//!   answers 400 with `{"error": ...}`, and nothing of it is stored.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tracetail_model::LogEvent;

use super::body::media_type;
use super::error::{IngestError, json_type};
use super::json_record::{RecordContext, RecordError, to_log_event};

/// The media types `POST /v1/events` accepts, for the 415 message.
const ACCEPTED: &str = "application/json or application/x-ndjson";

/// How many rejections an answer lists.
const LISTED_REJECTIONS: usize = 1000;

/// How the records of a body are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventsFormat {
    /// One JSON object, or an array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl EventsFormat {
    /// The framing `Content-Type` names; JSON when it is missing.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<EventsFormat, IngestError> {
        match media_type(headers).as_deref() {
            None | Some("application/json") => Ok(EventsFormat::Json),
            Some("application/x-ndjson" | "application/jsonl") => Ok(EventsFormat::Ndjson),
            Some(other) => Err(IngestError::UnsupportedMediaType {
                content_type: Some(other.to_string()),
                accepted: ACCEPTED,
            }),
        }
    }

    /// The `protocol` of the ingest span.
    pub(crate) fn protocol(self) -> &'static str {
        match self {
            EventsFormat::Json => "json",
            EventsFormat::Ndjson => "ndjson",
        }
    }
}

/// One rejected record, as listed in the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Rejection {
    /// The record's array position or NDJSON line number, from 0.
    pub(crate) index: usize,
    /// Why it was rejected.
    pub(crate) error: String,
}

/// The rejections of one request: the first few listed, all counted.
#[derive(Debug, Default)]
pub(crate) struct Rejections {
    /// The first [`LISTED_REJECTIONS`].
    pub(crate) listed: Vec<Rejection>,
    /// How many records were rejected.
    pub(crate) total: usize,
    /// How many were rejected for each reason (see [`RecordError::reason`]).
    pub(crate) by_reason: BTreeMap<&'static str, usize>,
}

/// The records of one request: events to store and records rejected.
#[derive(Debug, Default)]
pub(crate) struct EventsBatch {
    /// The accepted records, in body order.
    pub(crate) events: Vec<LogEvent>,
    /// The rejected ones.
    pub(crate) rejections: Rejections,
}

impl EventsBatch {
    fn push(&mut self, index: usize, record: Result<LogEvent, RecordError>) {
        match record {
            Ok(event) => self.events.push(event),
            Err(error) => {
                self.rejections.total += 1;
                *self.rejections.by_reason.entry(error.reason()).or_default() += 1;
                if self.rejections.listed.len() < LISTED_REJECTIONS {
                    self.rejections.listed.push(Rejection {
                        index,
                        error: error.to_string(),
                    });
                }
            }
        }
    }
}

/// Decodes a whole body. CPU-heavy for large bodies.
pub(crate) fn decode(
    format: EventsFormat,
    body: &[u8],
    context: &RecordContext,
) -> Result<EventsBatch, IngestError> {
    match format {
        EventsFormat::Json => decode_json(body, context),
        EventsFormat::Ndjson => Ok(decode_ndjson(body, context)),
    }
}

fn decode_json(body: &[u8], context: &RecordContext) -> Result<EventsBatch, IngestError> {
    let records = match serde_json::from_slice(body).map_err(IngestError::Json)? {
        Value::Array(items) => items,
        Value::Object(fields) => vec![Value::Object(fields)],
        other => {
            return Err(IngestError::NotRecords {
                found: json_type(&other),
            });
        }
    };
    let mut batch = EventsBatch::default();
    for (index, record) in records.into_iter().enumerate() {
        batch.push(index, to_log_event(record, context));
    }
    Ok(batch)
}

fn decode_ndjson(body: &[u8], context: &RecordContext) -> EventsBatch {
    let mut batch = EventsBatch::default();
    for (index, line) in body.split(|&byte| byte == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = serde_json::from_slice(line)
            .map_err(|error| RecordError::NotJson(error.to_string()))
            .and_then(|record| to_log_event(record, context));
        batch.push(index, record);
    }
    batch
}

/// The answer, after the accepted records are durable.
pub(crate) fn answer(accepted: usize, rejections: Rejections) -> Response {
    let status = if accepted == 0 && rejections.total > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = json!({
        "accepted": accepted,
        "rejected": rejections.listed,
        "rejected_total": rejections.total,
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use axum::http::header::CONTENT_TYPE;
    use tracetail_model::{Level, TraceId};

    use super::*;

    const CONTEXT: RecordContext = RecordContext {
        received_nanos: 7,
        traceparent: None,
    };

    fn format_of(content_type: Option<&'static str>) -> Result<EventsFormat, IngestError> {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        }
        EventsFormat::from_headers(&headers)
    }

    fn indexes(batch: &EventsBatch) -> Vec<usize> {
        batch
            .rejections
            .listed
            .iter()
            .map(|rejection| rejection.index)
            .collect()
    }

    #[test]
    fn content_types_choose_the_framing() {
        assert_eq!(format_of(None).expect("json"), EventsFormat::Json);
        assert_eq!(
            format_of(Some("application/json")).expect("json"),
            EventsFormat::Json
        );
        let ndjson = format_of(Some("application/x-ndjson; charset=utf-8"));
        assert_eq!(ndjson.expect("ndjson"), EventsFormat::Ndjson);
        let error = format_of(Some("text/csv")).expect_err("csv");
        assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            error.to_string(),
            "unsupported Content-Type \"text/csv\"; \
             expected application/json or application/x-ndjson"
        );
    }

    #[test]
    fn an_object_and_an_array_of_objects_are_records() {
        let one = decode(EventsFormat::Json, br#"{"msg": "hi"}"#, &CONTEXT).expect("valid");
        assert_eq!(one.events[0].message, "hi");

        let body = br#"[{"msg": "a"}, 42, {"msg": "c", "level": "loud"}, {"msg": "d"}]"#;
        let batch = decode(EventsFormat::Json, body, &CONTEXT).expect("valid");
        assert_eq!(
            batch
                .events
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["a", "d"]
        );
        assert_eq!(indexes(&batch), [1, 2]);
        assert_eq!(
            batch.rejections.listed[0].error,
            "record must be a JSON object, got a number"
        );
    }

    #[test]
    fn a_body_that_is_not_json_or_not_records_is_refused_whole() {
        let error = decode(EventsFormat::Json, b"{\"msg\": ", &CONTEXT).expect_err("truncated");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(
            error
                .to_string()
                .starts_with("request body is not valid JSON: "),
            "{error}"
        );
        let error = decode(EventsFormat::Json, b"\"text\"", &CONTEXT).expect_err("a string");
        assert_eq!(
            error.to_string(),
            "request body must be a JSON object or an array of objects, got a string"
        );
    }

    #[test]
    fn ndjson_tolerates_crlf_blank_lines_and_a_last_line_without_newline() {
        let body = b"{\"msg\":\"a\"}\r\n\r\n   \n{\"msg\":\"b\",\"level\":\"warn\"}\r\n\
                     not json\n{\"msg\":\"c\"}";
        let batch = decode(EventsFormat::Ndjson, body, &CONTEXT).expect("ndjson");
        let messages: Vec<_> = batch.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["a", "b", "c"]);
        assert_eq!(batch.events[1].level, Level::Warn);
        assert_eq!(indexes(&batch), [4], "line numbers count blank lines");
        assert!(
            batch.rejections.listed[0]
                .error
                .starts_with("line is not valid JSON: ")
        );
        assert!(
            decode(EventsFormat::Ndjson, b"", &CONTEXT)
                .expect("empty")
                .events
                .is_empty()
        );
    }

    #[test]
    fn traceparent_fills_records_without_ids() {
        let trace_id = TraceId([7; 16]);
        let span_id = tracetail_model::SpanId([8; 8]);
        let context = RecordContext {
            traceparent: Some((trace_id, span_id)),
            ..CONTEXT
        };
        let body =
            br#"[{"msg": "a"}, {"msg": "b", "trace_id": "01010101010101010101010101010101"}]"#;
        let batch = decode(EventsFormat::Json, body, &context).expect("valid");
        assert_eq!(
            (batch.events[0].trace_id, batch.events[0].span_id),
            (Some(trace_id), Some(span_id))
        );
        assert_eq!(batch.events[1].trace_id, Some(TraceId([1; 16])));
        assert_eq!(
            batch.events[1].span_id, None,
            "a record's own trace is not mixed with another"
        );
    }

    #[test]
    fn rejections_are_listed_up_to_a_limit_and_all_counted() {
        let body = "1\n".repeat(LISTED_REJECTIONS + 5);
        let batch = decode(EventsFormat::Ndjson, body.as_bytes(), &CONTEXT).expect("ndjson");
        assert_eq!(batch.rejections.total, LISTED_REJECTIONS + 5);
        assert_eq!(batch.rejections.listed.len(), LISTED_REJECTIONS);
    }

    #[tokio::test]
    async fn answers_are_200_when_anything_was_accepted_or_nothing_rejected() {
        let rejected = || Rejections {
            listed: vec![Rejection {
                index: 3,
                error: "bad".into(),
            }],
            total: 1,
            by_reason: BTreeMap::from([("bad_level", 1)]),
        };
        assert_eq!(answer(2, rejected()).status(), StatusCode::OK);
        assert_eq!(answer(0, Rejections::default()).status(), StatusCode::OK);
        let all_rejected = answer(0, rejected());
        assert_eq!(all_rejected.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(all_rejected.into_body(), usize::MAX).await;
        let value: Value = serde_json::from_slice(&bytes.expect("in memory")).expect("JSON");
        assert_eq!(
            value,
            json!({
                "accepted": 0, "rejected": [{"index": 3, "error": "bad"}], "rejected_total": 1,
            })
        );
    }
}
