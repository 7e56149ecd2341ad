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
