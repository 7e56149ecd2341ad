//! OTLP/JSON: the JSON encoding of `ExportLogsServiceRequest`, read straight into
//! [`OtlpRecord`]s.
//!
//! The rules of the OTLP specification, and where this reader is stricter or more lenient:
//! - Keys are the lowerCamelCase JSON names. A key that is the protobuf (snake_case) name of a
//!   known OTLP field, anywhere in the document, refuses the request with 400: read leniently,
//!   `resource_logs` would be an unknown field and the whole batch would vanish silently. Other
//!   unknown keys are ignored, for forward compatibility.
//! - `traceId`/`spanId` are hex, in either case, never base64. Bad ids are dropped, not fatal
//!   (see [`super::otlp_ids`]).
//! - 64-bit integers (`timeUnixNano`, `intValue`…) are read exactly, as numbers or as decimal
//!   strings. `severityNumber` may also be the enum name (`SEVERITY_NUMBER_WARN`).
//! - `null` for any field means its default, as in the protobuf JSON mapping.
//! - `bytesValue` is base64 (standard or URL-safe alphabet, padding optional).

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::IngestError;
use super::normalize::{Normalizer, OtlpRecord, ResourceContext, ScopeContext};
use super::otlp_ids::Ids;
use super::otlp_json_value::{Attributes, JsonAnyValue, nullable, severity_number, u64_text};

/// Protobuf field names of OTLP logs that OTLP/JSON spells differently, with the JSON name.
pub(super) const SNAKE_CASE_FIELDS: SnakeCaseFields = &[
    ("resource_logs", "resourceLogs"),
    ("scope_logs", "scopeLogs"),
    ("log_records", "logRecords"),
    ("schema_url", "schemaUrl"),
    ("time_unix_nano", "timeUnixNano"),
    ("observed_time_unix_nano", "observedTimeUnixNano"),
    ("severity_number", "severityNumber"),
    ("severity_text", "severityText"),
    ("dropped_attributes_count", "droppedAttributesCount"),
    ("trace_id", "traceId"),
    ("span_id", "spanId"),
    ("event_name", "eventName"),
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

/// Decodes an OTLP/JSON request into `normalizer`.
pub(crate) fn decode(body: &[u8], normalizer: &mut Normalizer) -> Result<(), IngestError> {
    check_shape(body, SNAKE_CASE_FIELDS, "ExportLogsServiceRequest")?;
    let request: JsonRequest = serde_json::from_slice(body).map_err(IngestError::Json)?;
    for resource_logs in request.resource_logs {
        let resource = ResourceContext::new(resource_logs.resource.attributes.0);
        for scope_logs in resource_logs.scope_logs {
            let scope = ScopeContext {
                name: scope_logs.scope.name,
                version: scope_logs.scope.version,
            };
            for record in scope_logs.log_records {
                normalizer.push(&resource, &scope, record.into());
            }
        }
    }
    Ok(())
}

/// Refuses an OTLP/JSON body that uses a snake_case key of `fields` (protobuf name, JSON name)
/// anywhere, or that is an array rather than a `request` object.
pub(super) fn check_shape(
    body: &[u8],
    fields: SnakeCaseFields,
    request: &'static str,
) -> Result<(), IngestError> {
    if let Some((found, expected)) = find_snake_case_field(body, fields)? {
        return Err(IngestError::SnakeCaseField { found, expected });
    }
    // serde would read an array as the request's fields in order.
    if body.trim_ascii_start().starts_with(b"[") {
        return Err(IngestError::OtlpArray { request });
    }
    Ok(())
}

/// Protobuf field names with the names OTLP/JSON spells them with.
pub(super) type SnakeCaseFields = &'static [(&'static str, &'static str)];

/// The first object key anywhere in `body` that is the snake_case name of an OTLP field.
fn find_snake_case_field(
    body: &[u8],
    fields: SnakeCaseFields,
) -> Result<Option<(&'static str, &'static str)>, IngestError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let found = SnakeScan { fields }
        .deserialize(&mut deserializer)
        .map_err(IngestError::Json)?;
    deserializer.end().map_err(IngestError::Json)?;
    Ok(found)
}

/// Walks any JSON value, remembering the first snake_case OTLP key. It reads the whole
/// document (serde_json requires a map to be consumed to its end), allocating nothing.
#[derive(Clone, Copy)]
struct SnakeScan {
    fields: SnakeCaseFields,
}

type Found = Option<(&'static str, &'static str)>;

impl<'de> DeserializeSeed<'de> for SnakeScan {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SnakeScan {
    type Value = Found;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut first = None;
        let fields = self.fields;
        while let Some(key) = map.next_key_seed(KeyCheck { fields })? {
            let in_value = map.next_value_seed(self)?;
            first = first.or(key).or(in_value);
        }
        Ok(first)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let mut first = None;
        while let Some(in_item) = seq.next_element_seed(self)? {
            first = first.or(in_item);
        }
        Ok(first)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Found, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
        Ok(None)
    }
}

/// Looks one object key up in a list of snake_case fields.
struct KeyCheck {
    fields: SnakeCaseFields,
}

impl<'de> DeserializeSeed<'de> for KeyCheck {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyCheck {
    type Value = Found;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Found, E> {
        if !key.contains('_') {
            return Ok(None);
        }
        Ok(self.fields.iter().copied().find(|(snake, _)| *snake == key))
    }
}

#[derive(Deserialize, Default)]
#[serde(
    rename_all = "camelCase",
    default,
    expecting = "an OTLP ExportLogsServiceRequest object"
)]
struct JsonRequest {
    #[serde(deserialize_with = "nullable")]
    resource_logs: Vec<JsonResourceLogs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonResourceLogs {
    #[serde(deserialize_with = "nullable")]
    resource: JsonResource,
    #[serde(deserialize_with = "nullable")]
    scope_logs: Vec<JsonScopeLogs>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonResource {
    attributes: Attributes,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonScopeLogs {
    #[serde(deserialize_with = "nullable")]
    scope: JsonScope,
    #[serde(deserialize_with = "nullable")]
    log_records: Vec<JsonLogRecord>,
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
struct JsonLogRecord {
    #[serde(deserialize_with = "u64_text")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "u64_text")]
    observed_time_unix_nano: u64,
    #[serde(deserialize_with = "severity_number")]
    severity_number: i32,
    #[serde(deserialize_with = "nullable")]
    severity_text: String,
    body: JsonAnyValue,
    attributes: Attributes,
    #[serde(deserialize_with = "nullable")]
    trace_id: String,
    #[serde(deserialize_with = "nullable")]
    span_id: String,
    #[serde(deserialize_with = "nullable")]
    event_name: String,
}

impl From<JsonLogRecord> for OtlpRecord {
    fn from(record: JsonLogRecord) -> OtlpRecord {
        OtlpRecord {
            time_unix_nano: record.time_unix_nano,
            observed_time_unix_nano: record.observed_time_unix_nano,
            severity_number: record.severity_number,
            severity_text: record.severity_text,
            body: record.body.0,
            attributes: record.attributes.0,
            event_name: record.event_name,
            ids: Ids::from_hex(&record.trace_id, &record.span_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::{Value, json};
    use tracetail_model::{Level, LogEvent, SpanId, TraceId};

    use super::*;

    fn decode_json(json: &str) -> Result<(Vec<LogEvent>, Option<String>), IngestError> {
        let mut normalizer = Normalizer::new(5);
        decode(json.as_bytes(), &mut normalizer)?;
        Ok((normalizer.events, normalizer.unlinked.message()))
    }

    /// One resource with `service.name` = `web`, one scope, the given records.
    fn request(records: &str) -> String {
        format!(
            r#"{{"resourceLogs": [{{
                "resource": {{"attributes": [
                    {{"key": "service.name", "value": {{"stringValue": "web"}}}}
                ]}},
                "scopeLogs": [{{"scope": {{"name": "app", "version": "1.2"}},
                               "logRecords": [{records}]}}]
            }}]}}"#
        )
    }

    #[test]
    fn snake_case_keys_answer_400_naming_the_camel_case_form() {
        let error = decode_json(r#"{"resource_logs": []}"#).expect_err("snake_case");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            error.to_string(),
            "unknown field \"resource_logs\": OTLP/JSON uses camelCase, expected \"resourceLogs\""
        );
        let nested = request(r#"{"body": {"string_value": "hi"}}"#);
        let error = decode_json(&nested).expect_err("snake_case deep inside");
        assert!(
            error.to_string().contains("expected \"stringValue\""),
            "{error}"
        );
    }

    #[test]
    fn empty_object_is_an_empty_request() {
        assert_eq!(decode_json("{}").expect("valid").0, vec![]);
    }

    #[test]
    fn unknown_keys_are_ignored_and_attribute_keys_are_not_field_names() {
        let records = r#"{"futureField": {"x_y": 1}, "body": {"stringValue": "ok"},
            "attributes": [{"key": "trace_id", "value": {"stringValue": "mine"}}]}"#;
        let (events, warning) = decode_json(&request(records)).expect("valid");
        assert_eq!(events[0].message, "ok");
        assert_eq!(events[0].attributes["trace_id"], "mine");
        assert_eq!(warning, None);
    }

    #[test]
    fn camel_case_records_are_normalized() {
        let records = r#"{
            "timeUnixNano": "1700000000000000001",
            "severityNumber": 17, "severityText": "ERROR",
            "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00F067AA0BA902B7",
            "body": {"kvlistValue": {"values": [{"key": "n", "value": {"intValue": "3"}}]}},
            "attributes": [{"key": "big", "value": {"intValue": 9007199254740993}}],
            "eventName": "payment.failed"
        }, {"observedTimeUnixNano": 1700000000000000002}"#;
        let (events, warning) = decode_json(&request(records)).expect("valid");
        let [first, second] = &events[..] else {
            panic!("two events: {events:?}")
        };
        assert_eq!(first.ts_nanos, 1_700_000_000_000_000_001);
        assert_eq!((first.level, first.severity), (Level::Error, 17));
        assert_eq!(first.message, r#"{"n":3}"#);
        assert_eq!(first.service, "web");
        assert_eq!(
            first.trace_id,
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").ok()
        );
        assert_eq!(first.span_id, SpanId::from_hex("00f067aa0ba902b7").ok());
        let attributes = Value::Object(first.attributes.clone());
        assert_eq!(
            attributes,
            json!({
                "big": "9007199254740993", "event.name": "payment.failed",
                "otel.scope.name": "app", "otel.scope.version": "1.2",
            })
        );
        assert_eq!(second.ts_nanos, 1_700_000_000_000_000_002);
        assert_eq!((second.level, second.message.as_str()), (Level::Info, ""));
        assert_eq!(warning, None);
    }

    #[test]
    fn bad_json_ids_are_dropped_with_a_warning() {
        let records = r#"{"traceId": "abcd"}, {"traceId": "not hex at all"},
            {"traceId": "00000000000000000000000000000000"}, {"traceId": "", "spanId": ""}"#;
        let (events, warning) = decode_json(&request(records)).expect("valid");
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|event| event.trace_id.is_none()));
        assert_eq!(
            warning.expect("a warning"),
            "3 log records kept with invalid ids removed: trace_id \"abcd\" must be 32 hexadecimal digits, got 4; \
             trace_id \"not hex at all\" is not hexadecimal; trace_id is all zeros"
        );
    }

    #[test]
    fn malformed_json_answers_400_with_the_parser_message() {
        let error = decode_json(r#"{"resourceLogs": [}"#).expect_err("malformed");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains("line 1 column"), "{error}");

        let error = decode_json("[]").expect_err("an array");
        assert!(
            error
                .to_string()
                .contains("ExportLogsServiceRequest object, got an array")
        );
        let error = decode_json("\"text\"").expect_err("a string");
        assert!(
            error
                .to_string()
                .contains("an OTLP ExportLogsServiceRequest object"),
            "{error}"
        );
    }
}
