//! One `/v1/events` record, a JSON object, to a [`LogEvent`].
//!
//! Fields are found by the names logging libraries use; the first name present (and not
//! `null`) in each list wins, and every field not used this way is kept in `attributes`, so
//! lines from zap, slog, pino, structlog or logrus arrive as they are.
//!
//! - `message`, `msg`: any JSON; a non-string is kept as its JSON text. Else `event` when it is
//!   a string (structlog's message). Else `""`.
//! - `ts`, `time`, `timestamp`, `@timestamp`: RFC 3339 with any offset, or a Unix time as a
//!   number or numeric string, its unit told by its size: below 10^11 seconds (zap's float
//!   seconds), below 10^14 milliseconds (pino, `Date.now()`), below 10^17 microseconds, else
//!   nanoseconds, which tells the units apart for any time from 1973 on. Absent: the receive
//!   time.
//! - `level`, `severity`, `lvl`: a name in any case (`warning`, `ERROR`, `crit`…), or a number.
//!   Under `level` or `lvl`, a multiple of 10 from 10 to 60 is pino's scale (10 TRACE, 20 DEBUG,
//!   30 INFO, 40 WARN, 50 ERROR, 60 FATAL); other numbers, and every number under `severity`,
//!   are OTLP severity numbers 1–24. Absent: `INFO`. `severity` on the wire is the OTLP number
//!   when one was given, else 0.
//! - `service` (a string, or an object with a string `name`), `service.name`: the service, also
//!   written to `resource` as `service.name`. Absent: `unknown_service` and an empty resource.
//! - `trace_id`, `traceId`, `span_id`, `spanId`: hex in either case; an empty string is absent.
//!   An invalid id rejects the record: a JSON sender chooses its ids and should hear about a
//!   bad one. A record with neither takes both from a valid `traceparent` request header.
//! - `attributes`: an object merged into the attributes, winning over top-level fields of the
//!   same name. Integers past ±(2^53−1) in attributes become decimal strings.

use serde_json::{Map, Value};
use tracetail_model::event::UNKNOWN_SERVICE;
use tracetail_model::value::make_integers_safe;
use tracetail_model::{IdError, Level, LogEvent, SpanId, TraceId};

use super::error::json_type;
use super::json_fields::{parse_level, parse_time};
use super::normalize::message_of;

const MESSAGE_FIELDS: &[&str] = &["message", "msg"];
const TIME_FIELDS: &[&str] = &["ts", "time", "timestamp", "@timestamp"];
const LEVEL_FIELDS: &[&str] = &["level", "severity", "lvl"];
const TRACE_ID_FIELDS: &[&str] = &["trace_id", "traceId"];
const SPAN_ID_FIELDS: &[&str] = &["span_id", "spanId"];

/// What every record of one request shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext {
    /// The `ts` of records without a time.
    pub(crate) received_nanos: u64,
    /// The request's `traceparent`, for records without ids.
    pub(crate) traceparent: Option<(TraceId, SpanId)>,
}

/// Why one record was rejected; the message goes into the answer's `rejected` list.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum RecordError {
    /// An NDJSON line that does not parse.
    #[error("line is not valid JSON: {0}")]
    NotJson(String),
    /// An array item or line that is not an object.
    #[error("record must be a JSON object, got {found}")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// A time that is neither RFC 3339 nor a Unix time after 1970.
    #[error("{field} {value} is not an RFC 3339 time or a Unix time after 1970")]
    BadTime {
        /// The field it was found in.
        field: &'static str,
        /// The value, as JSON text.
        value: String,
    },
    /// A level that is neither a known name nor a severity number.
    #[error(
        "{field} {value} is not a level name, an OTLP severity number (1-24) \
         or a pino level (10, 20, .. 60)"
    )]
    BadLevel {
        /// The field it was found in.
        field: &'static str,
        /// The value, as JSON text.
        value: String,
    },
    /// A trace or span id that is not a string.
    #[error("{field} must be a hex string, got {found}")]
    IdNotString {
        /// The field it was found in.
        field: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A trace or span id of the wrong length, all zeros, or not hex.
    #[error(transparent)]
    BadId(#[from] IdError),
    /// An `attributes` field that is not an object.
    #[error("attributes must be an object, got {found}")]
    AttributesNotObject {
        /// The JSON type found.
        found: &'static str,
    },
}

impl RecordError {
    /// The `reason` label of `tracetail_rejected_records_total`.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            RecordError::NotJson(_) => "not_json",
            RecordError::NotAnObject { .. } => "not_an_object",
            RecordError::BadTime { .. } => "bad_time",
            RecordError::BadLevel { .. } => "bad_level",
            RecordError::IdNotString { .. } | RecordError::BadId(_) => "bad_id",
            RecordError::AttributesNotObject { .. } => "bad_attributes",
        }
    }
}

/// Maps one record to an event.
pub(crate) fn to_log_event(
    record: Value,
    context: &RecordContext,
) -> Result<LogEvent, RecordError> {
    let mut fields = match record {
        Value::Object(fields) => fields,
        other => {
            return Err(RecordError::NotAnObject {
                found: json_type(&other),
            });
        }
    };

    let message = take_message(&mut fields);
    let ts_nanos = match take_first(&mut fields, TIME_FIELDS) {
        Some((field, value)) => parse_time(field, &value)?,
        None => context.received_nanos,
    };
    let (level, severity) = match take_first(&mut fields, LEVEL_FIELDS) {
        Some((field, value)) => parse_level(field, &value)?,
        None => (Level::Info, 0),
    };
    let service = take_service(&mut fields);
    let (trace_id, span_id) = take_ids(&mut fields, context)?;
    let attributes = into_attributes(fields)?;

    Ok(LogEvent {
        ts_nanos,
        level,
        severity,
        message,
        resource: resource_of(service.as_deref()),
        service: service.unwrap_or_else(|| UNKNOWN_SERVICE.to_string()),
        trace_id,
        span_id,
        attributes,
    })
}

/// The resource of a record: its service, when it named one.
fn resource_of(service: Option<&str>) -> Map<String, Value> {
    let entry = service.map(|name| ("service.name".to_string(), Value::from(name)));
    entry.into_iter().collect()
}

/// Removes and returns the first of `names` present and not `null`.
fn take_first(
    fields: &mut Map<String, Value>,
    names: &[&'static str],
) -> Option<(&'static str, Value)> {
    let name = names
        .iter()
        .find(|name| fields.get(**name).is_some_and(|v| !v.is_null()))?;
    fields.remove(*name).map(|value| (*name, value))
}

fn take_message(fields: &mut Map<String, Value>) -> String {
    if let Some((_, value)) = take_first(fields, MESSAGE_FIELDS) {
        return message_of(value);
    }
    if !matches!(fields.get("event"), Some(Value::String(_))) {
        return String::new();
    }
    fields.remove("event").map(message_of).unwrap_or_default()
}

/// The service name, from `service` (a string, or an object's string `name`) or
/// `service.name`. The rest of a `service` object stays an attribute.
fn take_service(fields: &mut Map<String, Value>) -> Option<String> {
    match fields.get_mut("service") {
        Some(Value::String(_)) => return fields.remove("service").and_then(non_empty),
        Some(Value::Object(object)) if object.get("name").is_some_and(Value::is_string) => {
            let name = object.remove("name");
            if object.is_empty() {
                fields.remove("service");
            }
            return name.and_then(non_empty);
        }
        _ => {}
    }
    if fields.get("service.name").is_some_and(Value::is_string) {
        return fields.remove("service.name").and_then(non_empty);
    }
    None
}

fn non_empty(name: Value) -> Option<String> {
    match name {
        Value::String(name) if !name.is_empty() => Some(name),
        _ => None,
    }
}

fn take_ids(
    fields: &mut Map<String, Value>,
    context: &RecordContext,
) -> Result<(Option<TraceId>, Option<SpanId>), RecordError> {
    let trace_id = match take_first(fields, TRACE_ID_FIELDS) {
        Some((field, value)) => hex_id(field, &value)?.map(TraceId::from_hex).transpose()?,
        None => None,
    };
    let span_id = match take_first(fields, SPAN_ID_FIELDS) {
        Some((field, value)) => hex_id(field, &value)?.map(SpanId::from_hex).transpose()?,
        None => None,
    };
    match (trace_id, span_id, context.traceparent) {
        (None, None, Some((trace_id, span_id))) => Ok((Some(trace_id), Some(span_id))),
        _ => Ok((trace_id, span_id)),
    }
}

/// The hex text of an id field; `None` when empty.
fn hex_id<'a>(field: &'static str, value: &'a Value) -> Result<Option<&'a str>, RecordError> {
    match value {
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) => Ok(Some(text)),
        other => Err(RecordError::IdNotString {
            field,
            found: json_type(other),
        }),
    }
}

/// The fields left over, with `attributes` merged on top, made safe for JavaScript.
fn into_attributes(mut fields: Map<String, Value>) -> Result<Map<String, Value>, RecordError> {
    match fields.remove("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(nested)) => fields.extend(nested),
        Some(other) => {
            return Err(RecordError::AttributesNotObject {
                found: json_type(&other),
            });
        }
    }
    fields.values_mut().for_each(make_integers_safe);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CONTEXT: RecordContext = RecordContext {
        received_nanos: 99,
        traceparent: None,
    };

    fn event(record: Value) -> LogEvent {
        to_log_event(record, &CONTEXT).expect("a valid record")
    }

    fn error(record: Value) -> String {
        to_log_event(record, &CONTEXT)
            .expect_err("an invalid record")
            .to_string()
    }

    #[test]
    fn zap_pino_logrus_and_structlog_lines_arrive_as_they_are() {
        let zap = event(json!({"level": "warn", "ts": 1_700_000_000.25, "msg": "slow", "ms": 900}));
        assert_eq!(
            (zap.level, zap.ts_nanos, zap.message.as_str()),
            (Level::Warn, 1_700_000_000_250_000_000, "slow")
        );
        assert_eq!(Value::Object(zap.attributes), json!({"ms": 900}));

        let pino = event(json!({"level": 50, "time": 1_700_000_000_000_u64, "pid": 7, "msg": "x"}));
        assert_eq!((pino.level, pino.severity), (Level::Error, 0));
        assert_eq!(Value::Object(pino.attributes), json!({"pid": 7}));

        let logrus =
            event(json!({"level": "info", "msg": "y", "time": "2023-11-14T23:13:20+01:00"}));
        assert_eq!(logrus.ts_nanos, 1_700_000_000_000_000_000);

        let structlog =
            event(json!({"event": "user logged in", "timestamp": "2023-11-14T22:13:20Z"}));
        assert_eq!(structlog.message, "user logged in");
        assert!(structlog.attributes.is_empty());
    }

    #[test]
    fn the_first_alias_present_wins_and_the_others_stay_attributes() {
        let both = event(json!({"message": "m", "msg": "n", "event": {"kind": "e"}}));
        assert_eq!(both.message, "m");
        assert_eq!(
            Value::Object(both.attributes),
            json!({"msg": "n", "event": {"kind": "e"}})
        );

        let object_message = event(json!({"msg": {"a": [1, 2]}, "ts": null}));
        assert_eq!(object_message.message, r#"{"a":[1,2]}"#);
        assert_eq!(object_message.ts_nanos, 99, "a null time is no time");
        assert_eq!(
            (object_message.level, object_message.severity),
            (Level::Info, 0)
        );

        let at_timestamp = event(json!({"@timestamp": "1970-01-01T00:00:01Z", "lvl": "ERROR"}));
        assert_eq!(
            (at_timestamp.ts_nanos, at_timestamp.level),
            (1_000_000_000, Level::Error)
        );
        assert_eq!(event(json!({"severity": 21})).severity, 21);
    }

    #[test]
    fn service_comes_from_service_or_service_name_and_fills_the_resource() {
        let flat = event(json!({"service": "api"}));
        assert_eq!(flat.service, "api");
        assert_eq!(Value::Object(flat.resource), json!({"service.name": "api"}));

        let dotted = event(json!({"service.name": "db"}));
        assert_eq!(
            (dotted.service.as_str(), dotted.attributes.len()),
            ("db", 0)
        );

        let nested = event(json!({"service": {"name": "web", "version": "2"}}));
        assert_eq!(nested.service, "web");
        assert_eq!(
            Value::Object(nested.attributes),
            json!({"service": {"version": "2"}})
        );

        let none = event(json!({"service": 3}));
        assert_eq!(none.service, UNKNOWN_SERVICE);
        assert!(none.resource.is_empty());
        assert_eq!(none.attributes["service"], 3);
    }

    #[test]
    fn ids_are_hex_in_either_case_and_bad_ids_reject_the_record() {
        let linked = event(
            json!({"traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "span_id": "00f067aa0ba902b7"}),
        );
        assert_eq!(
            linked.trace_id.expect("trace").to_hex(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(linked.span_id.expect("span").to_hex(), "00f067aa0ba902b7");
        assert_eq!(event(json!({"trace_id": ""})).trace_id, None);

        assert_eq!(
            error(json!({"trace_id": "abcd"})),
            "trace_id \"abcd\" must be 32 hexadecimal digits, got 4"
        );
        assert_eq!(
            error(json!({"spanId": "0000000000000000"})),
            "span_id is all zeros"
        );
        assert_eq!(
            error(json!({"trace_id": "xyz"})),
            "trace_id \"xyz\" is not hexadecimal"
        );
        assert_eq!(
            error(json!({"traceId": 12})),
            "traceId must be a hex string, got a number"
        );
    }

    #[test]
    fn attributes_merge_over_top_level_fields_with_safe_integers() {
        let record = json!({"user": "top", "n": 9_007_199_254_740_993_u64,
                            "attributes": {"user": "nested", "big": -9_007_199_254_740_993_i64}});
        let merged = event(record);
        assert_eq!(
            Value::Object(merged.attributes),
            json!({
                "user": "nested", "n": "9007199254740993", "big": "-9007199254740993",
            })
        );
        assert_eq!(
            error(json!({"attributes": [1]})),
            "attributes must be an object, got an array"
        );
    }

    #[test]
    fn non_objects_bad_times_and_bad_levels_reject_the_record() {
        assert_eq!(
            error(json!("text")),
            "record must be a JSON object, got a string"
        );
        assert!(error(json!({"time": "noon"})).starts_with("time \"noon\""));
        assert!(error(json!({"level": "loud"})).starts_with("level \"loud\""));
    }
}
