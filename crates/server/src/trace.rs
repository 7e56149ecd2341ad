//! One OpenTelemetry server span per request, and W3C trace context on every answer.
//!
//! [`layer`] wraps every route and the 404 fallback. It reads the request's `traceparent` and
//! `tracestate` ([`tracetail_model::trace_context`]), starts a `SERVER` span that continues a
//! valid incoming trace (or starts a new one), runs the handler with that span as the current
//! OpenTelemetry context (so logs written meanwhile carry its ids), and answers with
//! `traceparent` (this span), `tracestate` (the caller's, when it sent one) and `X-Trace-ID`.
//!
//! A handler that answers with a body outliving the handler, as `GET /v1/stream` does, takes
//! the span over with [`RequestTrace::keep_open`]: the layer then leaves ending it to the body.
//!
//! Requests of a tracetail hub's own OTLP exporter (marked with
//! [`OWN_EXPORT_HEADER`](crate::config::OWN_EXPORT_HEADER)) get a span that is never recorded,
//! so that no hub reports on its own exports or another hub's: a hub exporting to itself, or
//! two exporting to each other, would feed each other without end. Spans always get real ids,
//! from the tracer provider of [`ServerConfig`] or, without one, from a provider that exports
//! nothing.
//!
//! [`ServerConfig`]: crate::ServerConfig

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::{
    FutureExt, SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use tracetail_model::trace_context::format_traceparent;
use tracetail_model::{SpanId, TraceContext, TraceId};

use crate::config::OWN_EXPORT_HEADER;
use crate::state::AppState;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");

/// The instrumentation scope of the server's spans.
pub(crate) const SCOPE: &str = "tracetail-server";

/// The valid trace context of a request, if any (see [`tracetail_model::trace_context`]).
pub(crate) fn incoming_context(headers: &HeaderMap) -> Option<TraceContext> {
    let texts = |name: &HeaderName| {
        headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap_or("\u{0}"))
            .collect::<Vec<_>>()
    };
    TraceContext::from_headers(texts(&TRACEPARENT), texts(&TRACESTATE))
}

/// The span of one request, as handlers find it in the request's extensions.
#[derive(Clone)]
pub(crate) struct RequestTrace {
    /// The OpenTelemetry context whose span is this request's.
    pub(crate) context: Context,
    /// Set by a handler whose body ends the span itself.
    kept_open: Arc<AtomicBool>,
}

impl RequestTrace {
    /// Leaves ending the span to the caller, who must end it when the response body ends.
    pub(crate) fn keep_open(&self) -> Context {
        self.kept_open.store(true, Ordering::Relaxed);
        self.context.clone()
    }
}

/// Middleware: the server span of one request, and trace headers on its answer.
pub(crate) async fn layer(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let incoming = incoming_context(request.headers());
    let parent = match &incoming {
        Some(incoming) => Context::new().with_remote_span_context(remote_span(incoming)),
        None => Context::new(),
    };
    let context = if request.headers().contains_key(OWN_EXPORT_HEADER) {
        unrecorded(&parent)
    } else {
        parent.with_span(start_span(&state, &request, &parent))
    };
    let trace = RequestTrace {
        context: context.clone(),
        kept_open: Arc::new(AtomicBool::new(false)),
    };
    request.extensions_mut().insert(trace.clone());

    let mut response = next.run(request).with_context(context.clone()).await;

    let span = context.span();
    let status = response.status();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        span.set_status(Status::error(status.to_string()));
    }
    if !trace.kept_open.load(Ordering::Relaxed) {
        span.end();
    }
    set_headers(
        response.headers_mut(),
        span.span_context(),
        incoming.as_ref(),
    );
    response
}

/// The span for `request`, named after its route (`GET /v1/stream`), child of `parent`.
fn start_span(
    state: &AppState,
    request: &Request,
    parent: &Context,
) -> opentelemetry_sdk::trace::Span {
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let mut attributes = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("url.path", request.uri().path().to_string()),
    ];
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route));
    }
    state
        .tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(&state.tracer, parent)
}

/// A span that is never recorded or exported, with real ids for the answer's headers.
fn unrecorded(parent: &Context) -> Context {
    let parent_span = parent.span();
    let trace_id = match parent_span.span_context() {
        remote if remote.is_valid() => remote.trace_id(),
        _ => opentelemetry::trace::TraceId::from_bytes(rand::random::<[u8; 16]>()),
    };
    let span_id = opentelemetry::trace::SpanId::from_bytes(rand::random::<[u8; 8]>());
    let ids = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::default(),
        false,
        TraceState::NONE,
    );
    Context::new().with_remote_span_context(ids)
}

/// The caller's span, as OpenTelemetry represents a span of another process.
fn remote_span(incoming: &TraceContext) -> SpanContext {
    let parent = &incoming.parent;
    let flags = if parent.sampled() {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let state = TraceState::from_key_value(
        incoming
            .state
            .entries()
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    )
    .unwrap_or_default();
    SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(parent.trace_id.0),
        opentelemetry::trace::SpanId::from_bytes(parent.parent_id.0),
        flags,
        true,
        state,
    )
}

/// `traceparent`, `tracestate` and `X-Trace-ID` for the span that answered.
fn set_headers(headers: &mut HeaderMap, span: &SpanContext, incoming: Option<&TraceContext>) {
    let trace_id = TraceId(span.trace_id().to_bytes());
    let span_id = SpanId(span.span_id().to_bytes());
    let traceparent = format_traceparent(trace_id, span_id, span.is_sampled());
    let values = [
        (TRACEPARENT, Some(traceparent)),
        (X_TRACE_ID, Some(trace_id.to_hex())),
        (
            TRACESTATE,
            incoming
                .filter(|incoming| !incoming.state.is_empty())
                .map(|incoming| incoming.state.to_header()),
        ),
    ];
    for (name, value) in values {
        let Some(value) = value else { continue };
        let value = HeaderValue::from_str(&value).expect("trace headers are visible ASCII");
        headers.insert(name, value);
    }
}
