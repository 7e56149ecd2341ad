//! OTLP log records to [`LogEvent`]s: the mapping rules of the wire contract, shared by the
//! protobuf and the JSON encoding of OTLP.
//!
//! - `ts`: `timeUnixNano`, else `observedTimeUnixNano`, else the time the request arrived.
//! - `level`: from `severityNumber` (1–24, by OTLP range), else from `severityText` by name,
//!   else `INFO`. `severity` is the number when it is in 1–24, else 0.
//! - `message`: a string body as it is; any other body as its natural JSON, compact; no body `""`.
//! - `service`: the resource's `service.name` when it is a non-empty string, else
//!   `unknown_service`. `resource`: every resource attribute.
//! - `attributes`: the record's attributes, plus `otel.scope.name` and `otel.scope.version` (the
//!   instrumentation scope, usually the logger's name) and `event.name` (the record's
//!   `eventName`) when set. A record attribute of the same name wins.
//! - Values become natural JSON: integers past ±(2^53−1) as decimal strings, bytes as base64,
//!   arrays as arrays, key-value lists as objects, an empty value as `null`.
//! - `trace_id`/`span_id`: kept when valid; see [`super::otlp_ids`] for the rest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use serde_json::{Map, Value};
use tracetail_model::event::UNKNOWN_SERVICE;
use tracetail_model::value::{float_to_json, int_to_json};
use tracetail_model::{Level, LogEvent};

use super::otlp_ids::{Ids, UnlinkedIds};

/// What a resource contributes to each of its records.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceContext {
    /// `service.name`, else `unknown_service`.
    pub(super) service: String,
    /// Every resource attribute.
    pub(super) attributes: Map<String, Value>,
}

impl ResourceContext {
    /// Takes the service name from `service.name`.
    pub(crate) fn new(attributes: Map<String, Value>) -> ResourceContext {
        let service = match attributes.get("service.name") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => UNKNOWN_SERVICE.to_string(),
        };
        ResourceContext {
            service,
            attributes,
        }
    }
}

/// What an instrumentation scope contributes to each of its records.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScopeContext {
    /// The scope's name, often the logger's; empty when unset.
    pub(crate) name: String,
    /// The scope's version; empty when unset.
    pub(crate) version: String,
}

/// One OTLP log record, whichever encoding brought it, its values already natural JSON.
#[derive(Debug, Default)]
pub(crate) struct OtlpRecord {
    /// `timeUnixNano`; 0 when unset.
    pub(crate) time_unix_nano: u64,
    /// `observedTimeUnixNano`; 0 when unset.
    pub(crate) observed_time_unix_nano: u64,
    /// `severityNumber`; 0 when unset.
    pub(crate) severity_number: i32,
    /// `severityText`.
    pub(crate) severity_text: String,
    /// The body; `Null` when absent.
    pub(crate) body: Value,
    /// The record's attributes.
    pub(crate) attributes: Map<String, Value>,
    /// `eventName`; empty when unset.
    pub(crate) event_name: String,
    /// The trace context, validated.
    pub(crate) ids: Ids,
}

/// Turns the records of one request into events, in order.
#[derive(Debug)]
pub(crate) struct Normalizer {
    received_nanos: u64,
    /// The events so far.
    pub(crate) events: Vec<LogEvent>,
    /// Records whose ids were dropped.
    pub(crate) unlinked: UnlinkedIds,
}

impl Normalizer {
    /// `received_nanos` is the `ts` of records that carry no time.
    pub(crate) fn new(received_nanos: u64) -> Normalizer {
        Normalizer {
            received_nanos,
            events: Vec::new(),
            unlinked: UnlinkedIds::default(),
        }
    }

    /// Normalizes one record.
    pub(crate) fn push(
        &mut self,
        resource: &ResourceContext,
        scope: &ScopeContext,
        record: OtlpRecord,
    ) {
        let ts_nanos = [record.time_unix_nano, record.observed_time_unix_nano]
            .into_iter()
            .find(|&nanos| nanos != 0)
            .unwrap_or(self.received_nanos);
        let (level, severity) = level_of(record.severity_number, &record.severity_text);

        let attributes = with_scope_and_event(record.attributes, scope, &record.event_name);

        let Ids {
            trace_id,
            span_id,
            problem,
        } = record.ids;
        if let Some(problem) = problem {
            self.unlinked.note(problem);
        }
        self.events.push(LogEvent {
            ts_nanos,
            level,
            severity,
            message: message_of(record.body),
            service: resource.service.clone(),
            trace_id,
            span_id,
            attributes,
            resource: resource.attributes.clone(),
        });
    }
}

/// Adds `otel.scope.name`, `otel.scope.version` and `event.name` when set, unless the record
/// has attributes of those names already.
pub(super) fn with_scope_and_event(
    mut attributes: Map<String, Value>,
    scope: &ScopeContext,
    event_name: &str,
) -> Map<String, Value> {
    let extras = [
        ("otel.scope.name", scope.name.as_str()),
        ("otel.scope.version", scope.version.as_str()),
        ("event.name", event_name),
    ];
    for (key, text) in extras.into_iter().filter(|(_, text)| !text.is_empty()) {
        attributes
            .entry(key)
            .or_insert_with(|| Value::String(text.to_string()));
    }
    attributes
}

/// The level and severity number of a record.
fn level_of(severity_number: i32, severity_text: &str) -> (Level, i32) {
    if let Some(level) = Level::from_severity(severity_number.into()) {
        return (level, severity_number);
    }
    (Level::from_name(severity_text).unwrap_or(Level::Info), 0)
}

/// The message text of a body.
pub(crate) fn message_of(body: Value) -> String {
    match body {
        Value::Null => String::new(),
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// Protobuf key-values as a JSON object; a repeated key keeps its last value.
pub(crate) fn key_values_to_json(key_values: Vec<KeyValue>) -> Map<String, Value> {
    key_values
        .into_iter()
        .map(|KeyValue { key, value, .. }| (key, value.map_or(Value::Null, any_value_to_json)))
        .collect()
}

/// A protobuf `AnyValue` as natural JSON.
pub(crate) fn any_value_to_json(value: AnyValue) -> Value {
    match value.value {
        None | Some(AnyValueKind::StringValueStrindex(_)) => Value::Null,
        Some(AnyValueKind::StringValue(text)) => Value::String(text),
        Some(AnyValueKind::BoolValue(flag)) => Value::Bool(flag),
        Some(AnyValueKind::IntValue(number)) => int_to_json(number),
        Some(AnyValueKind::DoubleValue(number)) => float_to_json(number),
        Some(AnyValueKind::BytesValue(bytes)) => Value::String(BASE64.encode(bytes)),
        Some(AnyValueKind::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().map(any_value_to_json).collect())
        }
        Some(AnyValueKind::KvlistValue(list)) => Value::Object(key_values_to_json(list.values)),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use serde_json::json;

    use super::*;

    fn any(kind: AnyValueKind) -> AnyValue {
        AnyValue { value: Some(kind) }
    }

    fn pair(key: &str, kind: AnyValueKind) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(any(kind)),
            ..Default::default()
        }
    }

    fn normalize(record: OtlpRecord) -> (LogEvent, Option<String>) {
        let mut normalizer = Normalizer::new(42);
        normalizer.push(
            &ResourceContext::default(),
            &ScopeContext::default(),
            record,
        );
        let message = normalizer.unlinked.message();
        (normalizer.events.pop().expect("one event"), message)
    }

    #[test]
    fn ts_is_time_else_observed_time_else_receive_time() {
        let both = OtlpRecord {
            time_unix_nano: 7,
            observed_time_unix_nano: 9,
            ..Default::default()
        };
        assert_eq!(normalize(both).0.ts_nanos, 7);
        let observed = OtlpRecord {
            observed_time_unix_nano: 9,
            ..Default::default()
        };
        assert_eq!(normalize(observed).0.ts_nanos, 9);
        assert_eq!(normalize(OtlpRecord::default()).0.ts_nanos, 42);
    }

    #[test]
    fn severity_numbers_map_by_range_then_text_then_info() {
        let cases = [
            (1, "", Level::Trace, 1),
            (8, "", Level::Debug, 8),
            (9, "", Level::Info, 9),
            (16, "", Level::Warn, 16),
            (17, "INFO", Level::Error, 17),
            (24, "", Level::Fatal, 24),
            (0, "warning", Level::Warn, 0),
            (30, "ERROR2", Level::Error, 0),
            (0, "loud", Level::Info, 0),
            (0, "", Level::Info, 0),
        ];
        for (number, text, level, severity) in cases {
            assert_eq!(
                level_of(number, text),
                (level, severity),
                "{number} {text:?}"
            );
        }
    }

    #[test]
    fn string_body_is_the_message_and_other_bodies_are_their_json_text() {
        assert_eq!(message_of(json!("plain\ntext")), "plain\ntext");
        assert_eq!(message_of(Value::Null), "");
        let list = any(AnyValueKind::KvlistValue(KeyValueList {
            values: vec![pair("user", AnyValueKind::IntValue(7))],
        }));
        assert_eq!(message_of(any_value_to_json(list)), r#"{"user":7}"#);
        assert_eq!(message_of(json!([1, true])), "[1,true]");
    }

    #[test]
    fn any_values_become_natural_json() {
        let big = (1_i64 << 53) + 1;
        let values = vec![
            pair("big", AnyValueKind::IntValue(big)),
            pair("small", AnyValueKind::IntValue(-5)),
            pair(
                "bytes",
                AnyValueKind::BytesValue(vec![0xde, 0xad, 0xbe, 0xef]),
            ),
            pair("nan", AnyValueKind::DoubleValue(f64::NAN)),
            pair("half", AnyValueKind::DoubleValue(0.5)),
            pair(
                "list",
                AnyValueKind::ArrayValue(ArrayValue {
                    values: vec![any(AnyValueKind::BoolValue(true)), AnyValue { value: None }],
                }),
            ),
        ];
        let object = Value::Object(key_values_to_json(values));
        let expected = json!({
            "big": "9007199254740993", "small": -5, "bytes": "3q2+7w==", "nan": "NaN",
            "half": 0.5, "list": [true, null],
        });
        assert_eq!(object, expected);
    }

    #[test]
    fn service_is_the_resource_service_name_else_unknown_service() {
        let named = json!({"service.name": "checkout", "host.name": "h1"});
        let resource = ResourceContext::new(named.as_object().cloned().expect("object"));
        assert_eq!(resource.service, "checkout");
        assert_eq!(resource.attributes["host.name"], "h1");
        let numeric = json!({"service.name": 7})
            .as_object()
            .cloned()
            .expect("object");
        assert_eq!(ResourceContext::new(numeric).service, UNKNOWN_SERVICE);
        assert_eq!(ResourceContext::new(Map::new()).service, UNKNOWN_SERVICE);
    }

    #[test]
    fn scope_and_event_name_join_the_attributes_unless_the_record_has_them() {
        let scope = ScopeContext {
            name: "app.db".into(),
            version: String::new(),
        };
        let attributes = json!({"event.name": "mine"})
            .as_object()
            .cloned()
            .expect("object");
        let record = OtlpRecord {
            event_name: "theirs".into(),
            attributes,
            ..Default::default()
        };
        let mut normalizer = Normalizer::new(0);
        normalizer.push(&ResourceContext::default(), &scope, record);
        let event = &normalizer.events[0];
        assert_eq!(
            Value::Object(event.attributes.clone()),
            json!({
                "otel.scope.name": "app.db", "event.name": "mine",
            })
        );
    }

    #[test]
    fn wrong_length_and_all_zero_ids_are_dropped_and_counted() {
        let short = Ids::from_bytes(&[1; 8], &[2; 8]);
        let zeros = Ids::from_bytes(&[0; 16], &[]);
        let mut normalizer = Normalizer::new(0);
        for ids in [short, zeros] {
            let record = OtlpRecord {
                ids,
                ..Default::default()
            };
            normalizer.push(
                &ResourceContext::default(),
                &ScopeContext::default(),
                record,
            );
        }
        assert!(
            normalizer
                .events
                .iter()
                .all(|e| e.trace_id.is_none() && e.span_id.is_none())
        );
        assert_eq!(
            normalizer.unlinked.message().expect("a warning"),
            "2 log records kept with invalid ids removed: trace_id must be 16 bytes, got 8; \
             trace_id is all zeros"
        );
    }
}
