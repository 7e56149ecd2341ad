//! Ingest: `POST /v1/logs` and `POST /v1/traces` (OTLP/HTTP logs and spans) and
//! `POST /v1/events` (JSON and NDJSON).
//!
//! Every request takes the same four steps:
//! 1. [`body`] reads the body within `--max-body`, measured after gzip decompression.
//! 2. [`otlp`], [`otlp_traces`] or [`json`] decodes it, and [`normalize`], [`otlp_traces`] or
//!    [`json_record`] turns each record into a [`LogEvent`] (a span into a
//!    [`tracetail_model::SpanEvent`]), encoded once for the store. This runs on the blocking
//!    pool when the body is gzip or larger than 64 KiB, so no async worker stalls on a big
//!    batch.
//! 3. The batch is appended to the [`tracetail_store::EventLog`], which returns once it is
//!    durable, and counted in the metrics.
//! 4. The answer: 2xx only after step 3, so an acknowledged record survives a crash.
//!
//! A request is refused whole (400, 413, 415, see [`error`]) before anything is stored, or
//! its valid records are stored whole and the rest reported per record. Each request runs in
//! an `ingest` span that records `protocol`, `accepted` and `rejected` when it ends; nothing is
//! logged per record.
//!
//! The rest: [`otlp_json`], [`otlp_traces_json`] and [`otlp_json_value`] read OTLP/JSON,
//! [`traceparent`] reads the header that gives `/v1/events` records their trace.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tracetail_model::event::now_nanos;
use tracetail_model::{EncodedEvent, LogEvent};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::error::ApiError;
use crate::state::AppState;
use body::RawBody;
use error::IngestError;
use json::EventsFormat;
use json_record::RecordContext;
use otlp::OtlpEncoding;

mod body;
mod error;
mod json;
mod json_fields;
mod json_record;
mod normalize;
mod otlp;
mod otlp_ids;
mod otlp_json;
mod otlp_json_value;
mod otlp_refusal;
mod otlp_traces;
mod otlp_traces_json;
mod traceparent;

/// `POST /v1/logs`, `POST /v1/traces` and `POST /v1/events`.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/logs", post(post_otlp_logs))
        .route("/v1/events", post(post_events))
        .route("/v1/traces", post(post_otlp_traces))
        // `body` enforces `--max-body` itself, after decompression.
        .layer(DefaultBodyLimit::disable())
}

async fn post_otlp_logs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let encoding = OtlpEncoding::from_headers(&headers).ok();
    let refuse = move |error| otlp_refusal::refusal(encoding, error);
    in_ingest_span(ingest_otlp(&state, headers, body), refuse).await
}

async fn post_otlp_traces(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let encoding = OtlpEncoding::from_headers(&headers).ok();
    let refuse = move |error| otlp_refusal::refusal(encoding, error);
    in_ingest_span(ingest_traces(&state, headers, body), refuse).await
}

async fn post_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    in_ingest_span(
        ingest_events(&state, headers, body),
        IntoResponse::into_response,
    )
    .await
}

/// Runs one ingest request in its `ingest` span and turns a refusal into its answer.
async fn in_ingest_span(
    ingest: impl Future<Output = Result<Response, ApiError>>,
    refuse: impl FnOnce(ApiError) -> Response,
) -> Response {
    ingest
        .instrument(ingest_span())
        .await
        .unwrap_or_else(refuse)
}

fn ingest_span() -> Span {
    tracing::info_span!(
        "ingest",
        protocol = Empty,
        accepted = Empty,
        rejected = Empty
    )
}

/// Reads, decodes, stores and answers one OTLP/HTTP request.
async fn ingest_otlp(
    state: &AppState,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let max_body = state.config.max_body;
    let encoding = OtlpEncoding::from_headers(&headers)?;
    Span::current().record("protocol", encoding.protocol());
    let raw = body::read(&headers, body, max_body).await?;

    let received_nanos = now_nanos();
    let (events, warning) = decode_off_worker(raw, max_body, move |plain| {
        let batch = otlp::decode(encoding, plain, received_nanos)?;
        Ok((encode_all(&batch.events), batch.warning))
    })
    .await?;

    let accepted = append(state, "otlp_logs", events, received).await?;
    record_counts(accepted, 0);
    Ok(otlp::answer(encoding, warning))
}

/// Reads, decodes, stores and answers one OTLP/HTTP traces request.
async fn ingest_traces(
    state: &AppState,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let max_body = state.config.max_body;
    let encoding = OtlpEncoding::from_headers(&headers)?;
    Span::current().record("protocol", encoding.traces_protocol());
    let raw = body::read(&headers, body, max_body).await?;

    let (events, batch) = decode_off_worker(raw, max_body, move |plain| {
        let mut batch = otlp_traces::decode(encoding, plain)?;
        let events = batch.spans.drain(..).map(|span| span.encode()).collect();
        Ok((events, batch))
    })
    .await?;

    let accepted = append(state, "otlp_traces", events, received).await?;
    let rejected = batch.rejected.count();
    state
        .metrics
        .records_rejected("otlp_traces", "bad_id", rejected);
    record_counts(accepted, rejected);
    Ok(otlp_traces::answer(encoding, &batch))
}

/// Reads, decodes, stores and answers one `/v1/events` request.
async fn ingest_events(
    state: &AppState,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let max_body = state.config.max_body;
    let format = EventsFormat::from_headers(&headers)?;
    Span::current().record("protocol", format.protocol());
    let raw = body::read(&headers, body, max_body).await?;

    let context = RecordContext {
        received_nanos: now_nanos(),
        traceparent: traceparent::from_headers(&headers),
    };
    let (events, rejections) = decode_off_worker(raw, max_body, move |plain| {
        let batch = json::decode(format, plain, &context)?;
        Ok((encode_all(&batch.events), batch.rejections))
    })
    .await?;

    let accepted = append(state, "events", events, received).await?;
    for (&reason, &count) in &rejections.by_reason {
        state.metrics.records_rejected("events", reason, count);
    }
    record_counts(accepted, rejections.total);
    Ok(json::answer(accepted, rejections))
}

/// Decompresses and decodes `raw`: inline when that is cheap, else on the blocking pool.
async fn decode_off_worker<T, F>(raw: RawBody, max_body: usize, decode: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&[u8]) -> Result<T, IngestError> + Send + 'static,
{
    let inline = raw.decodes_inline();
    let work = move || raw.into_plain(max_body).and_then(|plain| decode(&plain));
    let decoded = if inline {
        work()
    } else {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|join_error| {
                tracing::error!(error = %join_error, "ingest decoding task failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error decoding the request",
                )
            })?
    };
    decoded.map_err(ApiError::from)
}

fn encode_all(events: &[LogEvent]) -> Vec<EncodedEvent> {
    events.iter().map(LogEvent::encode).collect()
}

/// Stores `events` durably and counts them under `protocol`, with the time since the request
/// was `received`; returns how many.
async fn append(
    state: &AppState,
    protocol: &'static str,
    events: Vec<EncodedEvent>,
    received: Instant,
) -> Result<usize, ApiError> {
    let count = events.len();
    if count > 0 {
        state.log.append(events).await?;
        state.metrics.ingested(protocol, count, received);
    }
    Ok(count)
}

fn record_counts(accepted: usize, rejected: usize) {
    let span = Span::current();
    span.record("accepted", accepted);
    span.record("rejected", rejected);
}

#[cfg(test)]
mod tests;
