//! `--self-telemetry`: the hub's own log events, offered to its store as service `tracetail`.
//!
//! Each event becomes a [`LogEvent`] with the level, the message, the other fields as
//! attributes (plus `target`), and the ids of the current span. Events written while own logs
//! are being stored (inside [`own_logs::APPEND_SPAN`]) and those of the store and its storage
//! engine, which serve those appends too, are never offered, so storing them cannot feed
//! itself. They still reach the log lines and OTLP.

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracetail_model::{Level, LogEvent, SpanId, TraceId};
use tracetail_server::own_logs::{self, OwnLogSender};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::lines::EventFields;

/// The store and its storage engine: they serve every append, the own logs' included.
const STORE_TARGETS: [&str; 3] = ["tracetail_store", "fjall", "lsm_tree"];

/// A layer that offers log events to the server's store.
pub(crate) struct OwnLogsLayer {
    sender: OwnLogSender,
}

impl OwnLogsLayer {
    pub(crate) fn new(sender: OwnLogSender) -> OwnLogsLayer {
        OwnLogsLayer { sender }
    }
}

impl<S> tracing_subscriber::Layer<S> for OwnLogsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let metadata = event.normalized_metadata();
        let target = metadata
            .as_ref()
            .unwrap_or_else(|| event.metadata())
            .target();
        if STORE_TARGETS.iter().any(|store| target.starts_with(store)) {
            return;
        }
        let storing_own_logs = context
            .event_scope(event)
            .is_some_and(|mut scope| scope.any(|span| span.name() == own_logs::APPEND_SPAN));
        if storing_own_logs {
            return;
        }
        self.sender.offer(to_log_event(event));
    }
}

fn to_log_event(event: &Event<'_>) -> LogEvent {
    let fields = EventFields::of(event);
    let level = match *event.metadata().level() {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::INFO => Level::Info,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::TRACE => Level::Trace,
    };
    let mut attributes = fields.others;
    let metadata = event.normalized_metadata();
    let target = metadata
        .as_ref()
        .unwrap_or_else(|| event.metadata())
        .target();
    attributes.insert("target".into(), target.into());
    let mut attributes = Value::Object(attributes);
    tracetail_model::value::make_integers_safe(&mut attributes);
    let Value::Object(attributes) = attributes else {
        unreachable!("an object stays an object")
    };
    let mut resource = Map::new();
    resource.insert("service.name".into(), Value::from(own_logs::SERVICE));

    let context = opentelemetry::Context::current();
    let span = context.span();
    let ids = span.span_context();
    let (trace_id, span_id) = if ids.is_valid() {
        (
            Some(TraceId(ids.trace_id().to_bytes())),
            Some(SpanId(ids.span_id().to_bytes())),
        )
    } else {
        (None, None)
    };
    LogEvent {
        ts_nanos: tracetail_model::event::now_nanos(),
        level,
        severity: level.severity(),
        message: fields.message,
        service: own_logs::SERVICE.to_string(),
        trace_id,
        span_id,
        attributes,
        resource,
    }
}
