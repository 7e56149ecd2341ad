//! `GET /v1/traces/{trace_id}`: one trace's stored spans and log events.
//!
//! The answer is `{"trace_id", "spans": [...], "logs": [...]}`: spans in the span JSON of the
//! contract, by start time; log events in the event JSON of `GET /v1/logs`, in the order the
//! hub received them. Both are written out as stored, never re-serialized. An id that is not
//! 32 hex digits is a 400 (upper case is read as lower case); a trace with nothing stored, or
//! nothing retained, is a 404.
//!
//! One answer holds at most `limit` records (spans and logs together; default and most
//! 10,000), so a trace of millions of records never sits in memory whole. `next` is a cursor
//! when more records of the trace follow, to pass as `after` for the next page, and `null`
//! otherwise; spans are sorted by start time within their page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;
use tracetail_model::span::span_json;
use tracetail_model::{RecordKind, TraceId};

use crate::error::ApiError;
use crate::params::{QueryPairs, after_cursor};
use crate::query::push_next;
use crate::state::AppState;

/// Records per answer, spans and logs together, unless `limit` says fewer.
const MAX_LIMIT: usize = 10_000;

/// The trace route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/traces/{trace_id}", get(get_trace))
}

async fn get_trace(
    State(state): State<Arc<AppState>>,
    Path(trace_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let trace = parse_trace_id(&trace_id)?;
    let pairs = QueryPairs::parse(raw.as_deref());
    let limit = pairs.limit(MAX_LIMIT, MAX_LIMIT)?;
    let after = pairs
        .get("after")
        .map(|cursor| after_cursor(&state, cursor))
        .transpose()?;
    let page = state.log.trace(trace, after.unwrap_or(0), limit).await?;
    let next = page.continue_after().map(|seq| state.log.cursor(seq));
    let records = page.records;
    if records.is_empty() && next.is_none() && after.is_none() {
        let message = format!("no spans or logs of trace {} are stored", trace.to_hex());
        return Err(ApiError::new(StatusCode::NOT_FOUND, message));
    }

    let mut spans: Vec<(String, Bytes)> = Vec::new();
    let mut logs: Vec<Bytes> = Vec::new();
    for record in records {
        match record.kind() {
            RecordKind::Log => logs.push(record.json),
            RecordKind::Span => {
                let Some(json) = span_json(&record.json) else {
                    continue;
                };
                spans.push((start_of(json), record.json.slice_ref(json)));
            }
        }
    }
    // Stable: spans that start together keep the order they arrived in.
    spans.sort_by(|a, b| a.0.cmp(&b.0));

    let spans = spans.iter().map(|(_, json)| json);
    let body = answer_json(&trace, spans, logs.iter(), next);
    let mut response = body.into_response();
    let json = HeaderValue::from_static("application/json");
    response.headers_mut().insert(header::CONTENT_TYPE, json);
    Ok(response)
}

/// A trace id from the path: 32 hex digits in either case.
fn parse_trace_id(text: &str) -> Result<TraceId, ApiError> {
    let valid = text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_hexdigit());
    let id = valid.then(|| TraceId::from_hex(text).ok()).flatten();
    id.ok_or_else(|| {
        let shown: String = text.chars().take(80).collect();
        ApiError::bad_request(format!(
            "trace id {shown:?} is not 32 hexadecimal digits (and not all zeros)"
        ))
    })
}

/// The `start` of span JSON; its fixed-width RFC 3339 form sorts in time order.
fn start_of(json: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Start {
        start: String,
    }
    serde_json::from_slice::<Start>(json)
        .map(|span| span.start)
        .unwrap_or_default()
}

/// `{"trace_id": ..., "spans": [...], "logs": [...], "next": ...}` from JSON already written.
fn answer_json<'a>(
    trace: &TraceId,
    spans: impl Iterator<Item = &'a Bytes>,
    logs: impl Iterator<Item = &'a Bytes>,
    next: Option<String>,
) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"trace_id\":\"");
    body.extend_from_slice(trace.to_hex().as_bytes());
    body.extend_from_slice(b"\",\"spans\":");
    push_array(&mut body, spans);
    body.extend_from_slice(b",\"logs\":");
    push_array(&mut body, logs);
    push_next(&mut body, next);
    body.push(b'}');
    body
}

fn push_array<'a>(body: &mut Vec<u8>, items: impl Iterator<Item = &'a Bytes>) {
    body.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_32_hex_digits_in_either_case() {
        let id = parse_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").expect("upper case");
        assert_eq!(id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        for bad in [
            "abc",
            "4bf92f3577b34da6a3ce929d0e0e47zz",
            &"0".repeat(32),
            &"a".repeat(33),
        ] {
            let error = parse_trace_id(bad).expect_err(bad);
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn the_answer_is_written_from_stored_json() {
        let spans = [Bytes::from_static(br#"{"span_id":"1"}"#)];
        let logs = [
            Bytes::from_static(br#"{"id":"a"}"#),
            Bytes::from_static(b"{}"),
        ];
        let body = answer_json(
            &TraceId([0xab; 16]),
            spans.iter(),
            logs.iter(),
            Some("c-7".into()),
        );
        let value: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(
            value,
            serde_json::json!({"trace_id": "ab".repeat(16), "spans": [{"span_id": "1"}],
                               "logs": [{"id": "a"}, {}], "next": "c-7"})
        );
    }
}
