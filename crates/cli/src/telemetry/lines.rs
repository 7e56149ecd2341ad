//! The hub's own log lines: human-readable on a terminal, JSON lines otherwise.
//!
//! Text: `2026-12-03T16:21:10.123Z  INFO tracetail_server::ingest: message key=value
//! trace_id=… span_id=…`. JSON: one object per line with `ts`, `level`, `target`, `message`,
//! the event's fields, and `trace_id`/`span_id`. Both carry the ids of the OpenTelemetry span
//! current when the line was written (a request's or a stream's span), so a line leads to its
//! trace.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineFormat {
    /// For people: one line of text, the level in colour when `ansi`.
    Text { ansi: bool },
    /// For machines: one JSON object per line.
    Json,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let fields = EventFields::of(event);
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        match *self {
            LineFormat::Json => {
                let mut line = Map::new();
                line.insert("ts".into(), ts.into());
                line.insert("level".into(), metadata.level().as_str().into());
                line.insert("target".into(), metadata.target().into());
                line.insert("message".into(), fields.message.into());
                line.extend(fields.others);
                if let Some((trace_id, span_id)) = current_ids() {
                    line.insert("trace_id".into(), trace_id.into());
                    line.insert("span_id".into(), span_id.into());
                }
                writeln!(writer, "{}", Value::Object(line))
            }
            LineFormat::Text { ansi } => {
                let level = colored_level(*metadata.level(), ansi);
                write!(
                    writer,
                    "{ts} {level} {}: {}",
                    metadata.target(),
                    fields.message
                )?;
                for (key, value) in &fields.others {
                    match value {
                        Value::String(text) => write!(writer, " {key}={text}")?,
                        other => write!(writer, " {key}={other}")?,
                    }
                }
                if let Some((trace_id, span_id)) = current_ids() {
                    write!(writer, " trace_id={trace_id} span_id={span_id}")?;
                }
                writeln!(writer)
            }
        }
    }
}

/// The trace and span id of the current OpenTelemetry span, if there is a valid one.
pub(crate) fn current_ids() -> Option<(String, String)> {
    let context = opentelemetry::Context::current();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid()
        .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
}

fn colored_level(level: Level, ansi: bool) -> String {
    let color = match level {
        Level::ERROR => "31",
        Level::WARN => "33",
        Level::INFO => "32",
        Level::DEBUG => "34",
        Level::TRACE => "35",
    };
    if ansi {
        format!("\x1b[{color}m{:>5}\x1b[0m", level.as_str())
    } else {
        format!("{:>5}", level.as_str())
    }
}

/// An event's message and other fields, as JSON values.
#[derive(Default)]
pub(crate) struct EventFields {
    pub(crate) message: String,
    pub(crate) others: Map<String, Value>,
}

impl EventFields {
    pub(crate) fn of(event: &Event<'_>) -> EventFields {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        fields
    }

    fn insert(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::String(text)) if self.message.is_empty() => self.message = text,
            // Where a `log` crate record came from: already in the normalized target.
            (name, _) if name.starts_with("log.") => {}
            (name, value) => {
                self.others.insert(name.to_string(), value);
            }
        }
    }
}

impl Visit for EventFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::String(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::String(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    /// The lines written for one `info!` event, inside a span when `in_span`.
    fn lines_of(format: LineFormat, in_span: bool) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(format)
            .with_writer(move || SharedBuffer(sink.clone()))
            .finish();
        let ids = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("valid"),
            SpanId::from_hex("00f067aa0ba902b7").expect("valid"),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let _guard = in_span.then(|| {
            opentelemetry::Context::new()
                .with_remote_span_context(ids)
                .attach()
        });
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(count = 3, who = "ada", "stored");
        });
        let bytes = buffer.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_fields_and_the_current_spans_ids() {
        let line: Value = serde_json::from_str(&lines_of(LineFormat::Json, true)).expect("JSON");
        assert_eq!(line["message"], "stored");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["count"], 3);
        assert_eq!(line["who"], "ada");
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["span_id"], "00f067aa0ba902b7");

        let outside: Value =
            serde_json::from_str(&lines_of(LineFormat::Json, false)).expect("JSON");
        assert!(outside.get("trace_id").is_none(), "{outside}");
    }

    #[test]
    fn text_lines_end_with_the_current_spans_ids() {
        let line = lines_of(LineFormat::Text { ansi: false }, true);
        let expected = " INFO tracetail::telemetry::lines::tests: stored count=3 who=ada \
                        trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7\n";
        assert!(line.ends_with(expected), "{line:?}");
        assert!(!line.contains('\x1b'));
        let outside = lines_of(LineFormat::Text { ansi: false }, false);
        assert!(!outside.contains("trace_id"), "{outside:?}");
    }
}
