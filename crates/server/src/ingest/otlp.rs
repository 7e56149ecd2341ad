//! `POST /v1/logs`: OTLP/HTTP logs in protobuf or JSON, answered in the request's encoding.
//! [`OtlpEncoding`] is shared with `POST /v1/traces`.
//!
//! `Content-Type` chooses the encoding: `application/x-protobuf` (also `application/protobuf`)
//! or `application/json`; anything else, or none, answers 415. A valid request answers 200 with
//! an `ExportLogsServiceResponse` in the same encoding: empty when every record was stored as
//! sent, with `partialSuccess` when some were stored without the invalid trace or span ids they
//! carried (`rejectedLogRecords` is then 0, as the records were stored, and `errorMessage` says
//! what was dropped). No record is ever rejected on its own: a request is stored whole, or
//! refused whole with 400 when it does not decode.

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;
use serde_json::{Value, json};
use tracetail_model::LogEvent;

use super::body::media_type;
use super::error::IngestError;
use super::normalize::{
    Normalizer, OtlpRecord, ResourceContext, ScopeContext, any_value_to_json, key_values_to_json,
};
use super::otlp_ids::Ids;
use super::otlp_json;

/// The media types `POST /v1/logs` accepts, for the 415 message.
const ACCEPTED: &str = "application/x-protobuf or application/json";

/// The two encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtlpEncoding {
    /// Binary protobuf.
    Protobuf,
    /// The JSON mapping of the protobuf messages, with OTLP's hex ids.
    Json,
}

impl OtlpEncoding {
    /// The encoding `Content-Type` names.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<OtlpEncoding, IngestError> {
        match media_type(headers).as_deref() {
            Some("application/x-protobuf" | "application/protobuf") => Ok(OtlpEncoding::Protobuf),
            Some("application/json") => Ok(OtlpEncoding::Json),
            other => Err(IngestError::UnsupportedMediaType {
                content_type: other.map(str::to_string),
                accepted: ACCEPTED,
            }),
        }
    }

    /// The `protocol` of the ingest span.
    pub(crate) fn protocol(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "otlp/protobuf",
            OtlpEncoding::Json => "otlp/json",
        }
    }

    /// The `protocol` of the ingest span of a traces request.
    pub(crate) fn traces_protocol(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "otlp-traces/protobuf",
            OtlpEncoding::Json => "otlp-traces/json",
        }
    }

    /// The `Content-Type` of answers in this encoding.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// The records of one request, normalized, with the warning its answer carries.
#[derive(Debug)]
pub(crate) struct OtlpBatch {
    /// Every record, in request order.
    pub(crate) events: Vec<LogEvent>,
    /// For `partialSuccess.errorMessage`: which ids were dropped. `None` when all were valid.
    pub(crate) warning: Option<String>,
}

/// Decodes and normalizes a whole request. CPU-heavy for large bodies.
pub(crate) fn decode(
    encoding: OtlpEncoding,
    body: &[u8],
    received_nanos: u64,
) -> Result<OtlpBatch, IngestError> {
    let mut normalizer = Normalizer::new(received_nanos);
    match encoding {
        OtlpEncoding::Protobuf => decode_protobuf(body, &mut normalizer)?,
        OtlpEncoding::Json => otlp_json::decode(body, &mut normalizer)?,
    }
    Ok(OtlpBatch {
        warning: normalizer.unlinked.message(),
        events: normalizer.events,
    })
}

fn decode_protobuf(body: &[u8], normalizer: &mut Normalizer) -> Result<(), IngestError> {
    let request =
        ExportLogsServiceRequest::decode(body).map_err(|source| IngestError::Protobuf {
            request: "ExportLogsServiceRequest",
            source,
        })?;
    for resource_logs in request.resource_logs {
        let attributes = resource_logs.resource.map(|resource| resource.attributes);
        let resource = ResourceContext::new(key_values_to_json(attributes.unwrap_or_default()));
        for scope_logs in resource_logs.scope_logs {
            let scope = scope_logs
                .scope
                .map(|scope| ScopeContext {
                    name: scope.name,
                    version: scope.version,
                })
                .unwrap_or_default();
            for record in scope_logs.log_records {
                normalizer.push(&resource, &scope, from_protobuf(record));
            }
        }
    }
    Ok(())
}

fn from_protobuf(record: LogRecord) -> OtlpRecord {
    OtlpRecord {
        time_unix_nano: record.time_unix_nano,
        observed_time_unix_nano: record.observed_time_unix_nano,
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body: record.body.map_or(Value::Null, any_value_to_json),
        attributes: key_values_to_json(record.attributes),
        event_name: record.event_name,
        ids: Ids::from_bytes(&record.trace_id, &record.span_id),
    }
}

/// The 200 answer: an `ExportLogsServiceResponse` in the request's encoding.
pub(crate) fn answer(encoding: OtlpEncoding, warning: Option<String>) -> Response {
    let partial_success = warning.map(|error_message| ExportLogsPartialSuccess {
        rejected_log_records: 0,
        error_message,
    });
    let body = match encoding {
        OtlpEncoding::Protobuf => ExportLogsServiceResponse { partial_success }.encode_to_vec(),
        OtlpEncoding::Json => json_response(partial_success).to_string().into_bytes(),
    };
    ([(CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// The OTLP/JSON response: `{}` on full success. `rejectedLogRecords` is an int64, written as
/// a decimal string as the protobuf JSON mapping does.
fn json_response(partial_success: Option<ExportLogsPartialSuccess>) -> Value {
    match partial_success {
        None => json!({}),
        Some(partial) => json!({
            "partialSuccess": {
                "rejectedLogRecords": partial.rejected_log_records.to_string(),
                "errorMessage": partial.error_message,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use tracetail_model::{Level, SpanId, TraceId};

    use super::*;

    fn content_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(value).expect("valid header"),
        );
        headers
    }

    fn pair(key: &str, kind: Kind) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(kind) }),
            ..Default::default()
        }
    }

    fn request(records: Vec<LogRecord>) -> Vec<u8> {
        let resource = Resource {
            attributes: vec![pair("service.name", Kind::StringValue("checkout".into()))],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "app.http".into(),
            ..Default::default()
        };
        let scope_logs = ScopeLogs {
            scope: Some(scope),
            log_records: records,
            ..Default::default()
        };
        let resource_logs = ResourceLogs {
            resource: Some(resource),
            scope_logs: vec![scope_logs],
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![resource_logs],
        }
        .encode_to_vec()
    }

    async fn body_bytes(response: Response) -> Vec<u8> {
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        body.expect("in-memory body").to_vec()
    }

    #[test]
    fn content_type_chooses_the_encoding() {
        let protobuf = OtlpEncoding::from_headers(&content_type("application/x-protobuf"));
        assert_eq!(protobuf.expect("supported"), OtlpEncoding::Protobuf);
        let json = OtlpEncoding::from_headers(&content_type("application/json; charset=utf-8"));
        assert_eq!(json.expect("supported"), OtlpEncoding::Json);
    }

    #[test]
    fn missing_or_other_content_types_answer_415_listing_the_accepted_ones() {
        let missing = OtlpEncoding::from_headers(&HeaderMap::new()).expect_err("missing");
        assert_eq!(missing.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            missing.to_string(),
            "missing Content-Type; expected application/x-protobuf or application/json"
        );
        let text = OtlpEncoding::from_headers(&content_type("text/plain")).expect_err("text");
        assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(text.to_string().contains("\"text/plain\""), "{text}");
    }

    #[test]
    fn empty_protobuf_body_is_an_empty_request() {
        let batch = decode(OtlpEncoding::Protobuf, b"", 1).expect("empty is valid");
        assert!(batch.events.is_empty());
        assert_eq!(batch.warning, None);
    }

    #[test]
    fn protobuf_records_are_normalized() {
        let record = LogRecord {
            time_unix_nano: 1_700_000_000_000_000_001,
            severity_number: 13,
            body: Some(AnyValue {
                value: Some(Kind::StringValue("card declined".into())),
            }),
            attributes: vec![pair("order", Kind::IntValue(i64::MAX))],
            trace_id: vec![0xab; 16],
            span_id: vec![0x01; 8],
            ..Default::default()
        };
        let batch = decode(OtlpEncoding::Protobuf, &request(vec![record]), 1).expect("valid");
        let event = &batch.events[0];
        assert_eq!(event.ts_nanos, 1_700_000_000_000_000_001);
        assert_eq!((event.level, event.severity), (Level::Warn, 13));
        assert_eq!(event.message, "card declined");
        assert_eq!(event.service, "checkout");
        assert_eq!(event.trace_id, Some(TraceId([0xab; 16])));
        assert_eq!(event.span_id, Some(SpanId([0x01; 8])));
        assert_eq!(event.attributes["order"], "9223372036854775807");
        assert_eq!(event.attributes["otel.scope.name"], "app.http");
        assert_eq!(event.resource["service.name"], "checkout");
        assert_eq!(batch.warning, None);
    }

    #[test]
    fn protobuf_ids_of_the_wrong_length_are_dropped_with_a_warning() {
        let short = LogRecord {
            trace_id: vec![1; 8],
            ..Default::default()
        };
        let zero_span = LogRecord {
            trace_id: vec![2; 16],
            span_id: vec![0; 8],
            ..Default::default()
        };
        let body = request(vec![short, zero_span, LogRecord::default()]);
        let batch = decode(OtlpEncoding::Protobuf, &body, 1).expect("valid");
        assert_eq!(batch.events.len(), 3, "every record is kept");
        assert_eq!(batch.events[0].trace_id, None);
        assert_eq!(batch.events[1].trace_id, Some(TraceId([2; 16])));
        assert_eq!(batch.events[1].span_id, None);
        assert_eq!(
            batch.warning.as_deref(),
            Some(
                "2 log records kept with invalid ids removed: trace_id must be 16 bytes, \
                  got 8; span_id is all zeros"
            )
        );
    }

    #[test]
    fn malformed_protobuf_answers_400_with_the_decoder_message() {
        let error = decode(OtlpEncoding::Protobuf, b"\x0a\xff\xff", 1).expect_err("truncated");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(
            error
                .to_string()
                .starts_with("request body is not a valid OTLP/protobuf")
        );
    }

    #[tokio::test]
    async fn full_success_answers_an_empty_response_in_the_request_encoding() {
        let protobuf = answer(OtlpEncoding::Protobuf, None);
        assert_eq!(protobuf.status(), StatusCode::OK);
        assert_eq!(protobuf.headers()[CONTENT_TYPE], "application/x-protobuf");
        assert!(body_bytes(protobuf).await.is_empty());

        let json = answer(OtlpEncoding::Json, None);
        assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(body_bytes(json).await, b"{}");
    }

    #[tokio::test]
    async fn warnings_answer_partial_success_with_nothing_rejected() {
        let warning = || Some("1 log record kept with invalid ids removed: x".to_string());
        let bytes = body_bytes(answer(OtlpEncoding::Protobuf, warning())).await;
        let response = ExportLogsServiceResponse::decode(&bytes[..]).expect("valid protobuf");
        let partial = response.partial_success.expect("partial success");
        assert_eq!(partial.rejected_log_records, 0);
        assert_eq!(Some(partial.error_message), warning());

        let bytes = body_bytes(answer(OtlpEncoding::Json, warning())).await;
        let value: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(
            value,
            json!({"partialSuccess": {
                "rejectedLogRecords": "0",
                "errorMessage": "1 log record kept with invalid ids removed: x",
            }})
        );
    }
}
