//! OTLP/JSON: the JSON encoding of `ExportTraceServiceRequest`, read straight into
//! [`OtlpSpan`]s, by the rules of [`super::otlp_json`] (camelCase keys with snake_case refused,
//! hex ids in either case, exact 64-bit integers, `null` as the default). `kind` and
//! `status.code` may be numbers or enum names (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`).

use serde::Deserialize;
use tracetail_model::{SpanEventItem, SpanId};

use super::error::IngestError;
use super::normalize::{ResourceContext, ScopeContext};
use super::otlp_json::{SnakeCaseFields, check_shape};
use super::otlp_json_value::{Attributes, nullable, span_kind, status_code, u64_text};
use super::otlp_traces::{OtlpSpan, REQUEST, SpanBatch};

/// Protobuf field names of OTLP traces that OTLP/JSON spells differently, with the JSON name.
const SNAKE_CASE_FIELDS: SnakeCaseFields = &[
    ("resource_spans", "resourceSpans"),
    ("scope_spans", "scopeSpans"),
    ("schema_url", "schemaUrl"),
    ("trace_id", "traceId"),
    ("span_id", "spanId"),
    ("parent_span_id", "parentSpanId"),
    ("trace_state", "traceState"),
    ("start_time_unix_nano", "startTimeUnixNano"),
    ("end_time_unix_nano", "endTimeUnixNano"),
    ("time_unix_nano", "timeUnixNano"),
    ("dropped_attributes_count", "droppedAttributesCount"),
    ("dropped_events_count", "droppedEventsCount"),
    ("dropped_links_count", "droppedLinksCount"),
    ("string_value", "stringValue"),
    ("bool_value", "boolValue"),
    ("int_value", "intValue"),
    ("double_value", "doubleValue"),
    ("array_value", "arrayValue"),
    ("kvlist_value", "kvlistValue"),
    ("bytes_value", "bytesValue"),
    ("entity_refs", "entityRefs"),
    ("id_keys", "idKeys"),
    ("description_keys", "descriptionKeys"),
];

/// Decodes an OTLP/JSON request into `batch`.
pub(super) fn decode(body: &[u8], batch: &mut SpanBatch) -> Result<(), IngestError> {
    check_shape(body, SNAKE_CASE_FIELDS, REQUEST)?;
    let request: JsonRequest = serde_json::from_slice(body).map_err(IngestError::Json)?;
    for resource_spans in request.resource_spans {
        let resource = ResourceContext::new(resource_spans.resource.attributes.0);
        for scope_spans in resource_spans.scope_spans {
            let scope = ScopeContext {
                name: scope_spans.scope.name,
                version: scope_spans.scope.version,
            };
            for span in scope_spans.spans {
                batch.push(&resource, &scope, span.into());
            }
        }
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(
    rename_all = "camelCase",
    default,
    expecting = "an OTLP ExportTraceServiceRequest object"
)]
struct JsonRequest {
    #[serde(deserialize_with = "nullable")]
    resource_spans: Vec<JsonResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonResourceSpans {
    #[serde(deserialize_with = "nullable")]
    resource: JsonResource,
    #[serde(deserialize_with = "nullable")]
    scope_spans: Vec<JsonScopeSpans>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonResource {
    attributes: Attributes,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonScopeSpans {
    #[serde(deserialize_with = "nullable")]
    scope: JsonScope,
    #[serde(deserialize_with = "nullable")]
    spans: Vec<JsonSpan>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonScope {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonSpan {
    #[serde(deserialize_with = "nullable")]
    trace_id: String,
    #[serde(deserialize_with = "nullable")]
    span_id: String,
    #[serde(deserialize_with = "nullable")]
    parent_span_id: String,
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "span_kind")]
    kind: i32,
    #[serde(deserialize_with = "u64_text")]
    start_time_unix_nano: u64,
    #[serde(deserialize_with = "u64_text")]
    end_time_unix_nano: u64,
    attributes: Attributes,
    #[serde(deserialize_with = "nullable")]
    events: Vec<JsonSpanEvent>,
    #[serde(deserialize_with = "nullable")]
    status: JsonStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonSpanEvent {
    #[serde(deserialize_with = "u64_text")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "nullable")]
    name: String,
    attributes: Attributes,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonStatus {
    #[serde(deserialize_with = "nullable")]
    message: String,
    #[serde(deserialize_with = "status_code")]
    code: i32,
}

impl From<JsonSpan> for OtlpSpan {
    fn from(span: JsonSpan) -> OtlpSpan {
        let events = span
            .events
            .into_iter()
            .map(|event| SpanEventItem {
                name: event.name,
                ts_nanos: event.time_unix_nano,
                attributes: event.attributes.0,
            })
            .collect();
        let parent = &span.parent_span_id;
        OtlpSpan {
            ids: OtlpSpan::ids_from_hex(&span.trace_id, &span.span_id),
            parent: (!parent.is_empty()).then(|| SpanId::from_hex(parent)),
            name: span.name,
            kind: span.kind,
            start_nanos: span.start_time_unix_nano,
            end_nanos: span.end_time_unix_nano,
            status_code: span.status.code,
            status_message: span.status.message,
            attributes: span.attributes.0,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::{Value, json};

    use super::*;

    fn decode_json(json: &str) -> Result<SpanBatch, IngestError> {
        let mut batch = SpanBatch::default();
        decode(json.as_bytes(), &mut batch)?;
        Ok(batch)
    }

    fn request(spans: &str) -> String {
        format!(
            r#"{{"resourceSpans": [{{
                "resource": {{"attributes": [
                    {{"key": "service.name", "value": {{"stringValue": "web"}}}}
                ]}},
                "scopeSpans": [{{"scope": {{"name": "app"}}, "spans": [{spans}]}}]
            }}]}}"#
        )
    }

    #[test]
    fn camel_case_spans_are_normalized_with_enum_names_or_numbers() {
        let spans = r#"{
            "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00F067AA0BA902B7",
            "parentSpanId": "1111111111111111", "name": "GET /cart", "kind": "SPAN_KIND_SERVER",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": 1700000000002000000,
            "attributes": [{"key": "big", "value": {"intValue": "9007199254740993"}}],
            "events": [{"timeUnixNano": "1700000000001000000", "name": "retry"}],
            "status": {"code": 2, "message": "boom"}
        }"#;
        let batch = decode_json(&request(spans)).expect("valid");
        let json: Value = serde_json::from_slice(&batch.spans[0].to_json()).expect("json");
        assert_eq!(json["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(json["parent_span_id"], "1111111111111111");
        assert_eq!(json["kind"], "SERVER");
        assert_eq!(json["service"], "web");
        assert_eq!(json["duration_ms"], 2.0);
        assert_eq!(json["status"], json!({"code": "ERROR", "message": "boom"}));
        assert_eq!(
            json["attributes"],
            json!({"big": "9007199254740993", "otel.scope.name": "app"})
        );
        assert_eq!(json["events"][0]["ts"], "2023-11-14T22:13:20.001000000Z");
        assert_eq!(batch.message(), None);
    }

    #[test]
    fn spans_with_bad_ids_are_rejected_and_bad_parents_dropped() {
        let spans = r#"{"traceId": "abcd", "spanId": "00f067aa0ba902b7"},
            {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736"},
            {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
             "parentSpanId": "0000000000000000"}"#;
        let batch = decode_json(&request(spans)).expect("valid");
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(batch.spans[0].parent_span_id, None);
        assert_eq!(batch.rejected.count(), 2);
        assert_eq!(
            batch.message().expect("a message"),
            "2 spans rejected for invalid ids: trace_id \"abcd\" must be 32 hexadecimal \
             digits, got 4; span_id \"\" must be 16 hexadecimal digits, got 0; 1 span kept \
             with an invalid parent_span_id removed: span_id is all zeros"
        );
    }

    #[test]
    fn snake_case_keys_and_arrays_answer_400_naming_the_trace_request() {
        let error = decode_json(r#"{"resource_spans": []}"#).expect_err("snake_case");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(
            error.to_string().contains("expected \"resourceSpans\""),
            "{error}"
        );
        let error = decode_json("[]").expect_err("array");
        assert!(
            error
                .to_string()
                .contains("ExportTraceServiceRequest object")
        );
        assert!(decode_json("{}").expect("empty").spans.is_empty());
    }
}
