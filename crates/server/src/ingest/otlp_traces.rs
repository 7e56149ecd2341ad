//! `POST /v1/traces`: OTLP/HTTP spans in protobuf or JSON, answered in the request's encoding.
//!
//! The request rules are those of `POST /v1/logs` (see [`super::otlp`]): `Content-Type` picks
//! the encoding, `--max-body` holds after decompression, OTLP/JSON keys are camelCase. A span
//! means nothing without its ids, so a span whose trace or span id is missing, of the wrong
//! length, all zeros or not hex is rejected: not stored, counted in
//! `partialSuccess.rejectedSpans`, and described in `errorMessage`. An invalid
//! `parentSpanId` only drops the parent (the span is stored as a root) and is described too.
//!
//! Normalization, to the span JSON of [`tracetail_model::span`]: `service` is the resource's
//! `service.name`; `attributes` are the span's, plus `otel.scope.name` and
//! `otel.scope.version`; `kind` and `status.code` are the enum names without their prefix;
//! times are RFC 3339 with nanoseconds; values as for logs.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Map, Value, json};
use tracetail_model::span::{span_kind_name, status_code_name};
use tracetail_model::{IdError, SpanEvent, SpanEventItem, SpanId, TraceId};

use super::error::IngestError;
use super::normalize::{ResourceContext, ScopeContext, key_values_to_json, with_scope_and_event};
use super::otlp::OtlpEncoding;
use super::otlp_ids::UnlinkedIds;
use super::otlp_traces_json;

/// The protobuf message a request body holds.
pub(super) const REQUEST: &str = "ExportTraceServiceRequest";

/// One OTLP span, whichever encoding brought it, its values already natural JSON.
#[derive(Debug)]
pub(super) struct OtlpSpan {
    /// The trace and span ids, validated.
    pub(super) ids: Result<(TraceId, SpanId), IdError>,
    /// The parent, validated; `None` when absent (a root).
    pub(super) parent: Option<Result<SpanId, IdError>>,
    pub(super) name: String,
    pub(super) kind: i32,
    pub(super) start_nanos: u64,
    pub(super) end_nanos: u64,
    pub(super) status_code: i32,
    pub(super) status_message: String,
    pub(super) attributes: Map<String, Value>,
    pub(super) events: Vec<SpanEventItem>,
}

impl OtlpSpan {
    /// Validates the ids of a span from protobuf bytes.
    fn ids_from_bytes(trace_id: &[u8], span_id: &[u8]) -> Result<(TraceId, SpanId), IdError> {
        Ok((TraceId::from_bytes(trace_id)?, SpanId::from_bytes(span_id)?))
    }

    /// Validates the ids of a span from OTLP/JSON hex.
    pub(super) fn ids_from_hex(
        trace_id: &str,
        span_id: &str,
    ) -> Result<(TraceId, SpanId), IdError> {
        Ok((TraceId::from_hex(trace_id)?, SpanId::from_hex(span_id)?))
    }
}

/// The spans of one request, normalized, with what was rejected or changed.
#[derive(Debug, Default)]
pub(crate) struct SpanBatch {
    /// Every stored span, in request order.
    pub(crate) spans: Vec<SpanEvent>,
    /// Spans not stored for bad ids.
    pub(crate) rejected: UnlinkedIds,
    /// Spans stored as roots after an invalid `parentSpanId` was dropped.
    pub(crate) orphaned: UnlinkedIds,
}

impl SpanBatch {
    /// Normalizes one span, or counts it as rejected.
    pub(super) fn push(
        &mut self,
        resource: &ResourceContext,
        scope: &ScopeContext,
        span: OtlpSpan,
    ) {
        let (trace_id, span_id) = match span.ids {
            Ok(ids) => ids,
            Err(problem) => return self.rejected.note(problem),
        };
        let parent_span_id = match span.parent {
            Some(Ok(parent)) => Some(parent),
            Some(Err(problem)) => {
                self.orphaned.note(problem);
                None
            }
            None => None,
        };
        self.spans.push(SpanEvent {
            trace_id,
            span_id,
            parent_span_id,
            name: span.name,
            kind: span_kind_name(span.kind),
            service: resource.service.clone(),
            start_nanos: span.start_nanos,
            end_nanos: span.end_nanos,
            status_code: status_code_name(span.status_code),
            status_message: span.status_message,
            attributes: with_scope_and_event(span.attributes, scope, ""),
            resource: resource.attributes.clone(),
            events: span.events,
        });
    }

    /// `partialSuccess.errorMessage`; `None` when every span was stored as sent.
    pub(crate) fn message(&self) -> Option<String> {
        let parts = [
            self.rejected.describe("span", "rejected for invalid ids"),
            self.orphaned
                .describe("span", "kept with an invalid parent_span_id removed"),
        ];
        let parts: Vec<String> = parts.into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Decodes and normalizes a whole request. CPU-heavy for large bodies.
pub(crate) fn decode(encoding: OtlpEncoding, body: &[u8]) -> Result<SpanBatch, IngestError> {
    let mut batch = SpanBatch::default();
    match encoding {
        OtlpEncoding::Protobuf => decode_protobuf(body, &mut batch)?,
        OtlpEncoding::Json => otlp_traces_json::decode(body, &mut batch)?,
    }
    Ok(batch)
}

fn decode_protobuf(body: &[u8], batch: &mut SpanBatch) -> Result<(), IngestError> {
    let request =
        ExportTraceServiceRequest::decode(body).map_err(|source| IngestError::Protobuf {
            request: REQUEST,
            source,
        })?;
    for resource_spans in request.resource_spans {
        let attributes = resource_spans.resource.map(|resource| resource.attributes);
        let resource = ResourceContext::new(key_values_to_json(attributes.unwrap_or_default()));
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans
                .scope
                .map(|scope| ScopeContext {
                    name: scope.name,
                    version: scope.version,
                })
                .unwrap_or_default();
            for span in scope_spans.spans {
                batch.push(&resource, &scope, from_protobuf(span));
            }
        }
    }
    Ok(())
}

fn from_protobuf(span: Span) -> OtlpSpan {
    let status = span.status.unwrap_or_default();
    let events = span
        .events
        .into_iter()
        .map(|event| SpanEventItem {
            name: event.name,
            ts_nanos: event.time_unix_nano,
            attributes: key_values_to_json(event.attributes),
        })
        .collect();
    OtlpSpan {
        ids: OtlpSpan::ids_from_bytes(&span.trace_id, &span.span_id),
        parent: (!span.parent_span_id.is_empty()).then(|| SpanId::from_bytes(&span.parent_span_id)),
        name: span.name,
        kind: span.kind,
        start_nanos: span.start_time_unix_nano,
        end_nanos: span.end_time_unix_nano,
        status_code: status.code,
        status_message: status.message,
        attributes: key_values_to_json(span.attributes),
        events,
    }
}

/// The 200 answer: an `ExportTraceServiceResponse` in the request's encoding, with
/// `partialSuccess` when spans were rejected or changed.
pub(crate) fn answer(encoding: OtlpEncoding, batch: &SpanBatch) -> Response {
    let partial_success = batch
        .message()
        .map(|error_message| ExportTracePartialSuccess {
            rejected_spans: batch.rejected.count() as i64,
            error_message,
        });
    let body = match encoding {
        OtlpEncoding::Protobuf => ExportTraceServiceResponse { partial_success }.encode_to_vec(),
        OtlpEncoding::Json => json_response(partial_success).to_string().into_bytes(),
    };
    ([(CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// The OTLP/JSON response: `{}` on full success; `rejectedSpans` is an int64, written as a
/// decimal string as the protobuf JSON mapping does.
fn json_response(partial_success: Option<ExportTracePartialSuccess>) -> Value {
    match partial_success {
        None => json!({}),
        Some(partial) => json!({
            "partialSuccess": {
                "rejectedSpans": partial.rejected_spans.to_string(),
                "errorMessage": partial.error_message,
            }
        }),
    }
}
