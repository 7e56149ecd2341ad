//! The fictional services as real OpenTelemetry clients: one SDK logger and tracer provider each.
//!
//! Every [`Service`] gets its own `SdkLoggerProvider` and `SdkTracerProvider`, with its own
//! resource (`service.name`, `service.version`, `deployment.environment=demo`), exporting through
//! the official OTLP/HTTP exporter as protobuf: logs to `{server}/v1/logs`, and spans to
//! `{server}/v1/traces` if the hub answers an empty traces request there with success. The SDK's
//! batch processors export on their own threads, so the exporters share one blocking HTTP client. Span and trace ids come from the SDK's tracer; log records are
//! emitted with the OpenTelemetry Logs API and carry the context of the span they were logged in.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider};

use super::counting::{Counting, ExportStats};
use super::story::{LogEntry, Service, SpanEntry, Story};

/// How often the batch processors send what they gathered: short, so a live view looks live.
const EXPORT_DELAY: Duration = Duration::from_millis(200);

/// The instrumentation scope every demo service logs and traces under.
const SCOPE: &str = "tracetail-demo";

/// The SDK pipelines of all four services.
pub(super) struct Fleet {
    /// One pipeline per service, in the order of [`Service::ALL`].
    members: Vec<Member>,
    /// What the log exporters of all services delivered.
    pub(super) logs: Arc<ExportStats>,
    /// What the span exporters of all services delivered.
    pub(super) spans: Arc<ExportStats>,
    /// Why spans are not exported, when the hub refused an empty OTLP traces request.
    pub(super) spans_refused: Option<String>,
}

/// One service's providers, and the logger and tracer taken from them.
struct Member {
    logger_provider: SdkLoggerProvider,
    tracer_provider: SdkTracerProvider,
    logger: SdkLogger,
    tracer: SdkTracer,
}

impl Fleet {
    /// Builds the pipelines of every service, exporting to the hub at `server`.
    ///
    /// Spans are exported only when the hub takes OTLP traces; otherwise the tracers still make
    /// the trace and span ids the log records carry.
    pub(super) fn start(server: &str) -> anyhow::Result<Fleet> {
        // The exporters run on the batch processors' threads, where a blocking client belongs.
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the http client")?;
        let spans_refused = probe_traces(server, &client);
        let logs = Arc::new(ExportStats::default());
        let spans = Arc::new(ExportStats::default());
        let span_export = spans_refused.is_none().then_some((&client, &spans));
        let members = Service::ALL
            .into_iter()
            .map(|service| {
                let resource = resource(service);
                let logger_provider = logger_provider(server, &client, &logs, resource.clone())?;
                let tracer_provider = tracer_provider(server, span_export, resource)?;
                Ok(Member {
                    logger: logger_provider.logger(SCOPE),
                    tracer: tracer_provider.tracer(SCOPE),
                    logger_provider,
                    tracer_provider,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Fleet {
            members,
            logs,
            spans,
            spans_refused,
        })
    }

    /// Sends `story` as spans and log records, placed so that the request ends now.
    ///
    /// Returns the number of log records emitted.
    pub(super) fn emit(&self, story: &Story) -> u64 {
        let end = SystemTime::now();
        let start = end - millis(story.elapsed_ms());
        let at = |ms: f64| start + millis(ms);

        // Parents come before their children in a story, so each parent is open already.
        let mut spans: Vec<opentelemetry_sdk::trace::Span> = Vec::with_capacity(story.spans.len());
        for entry in &story.spans {
            let parent = entry
                .parent
                .map(|index| spans[index].span_context().clone());
            spans.push(self.start_span(entry, parent, at(entry.start_ms)));
        }
        for entry in &story.logs {
            let span = &spans[entry.span];
            let service = story.spans[entry.span].service;
            self.emit_log(service, entry, span.span_context(), at(entry.at_ms));
        }
        for (span, entry) in spans.iter_mut().zip(&story.spans) {
            if let Some(description) = entry.error {
                span.set_status(Status::error(description));
            }
            span.end_with_timestamp(at(entry.end_ms));
        }
        u64::try_from(story.logs.len()).expect("a story's length fits in u64")
    }

    fn start_span(
        &self,
        entry: &SpanEntry,
        parent: Option<SpanContext>,
        start: SystemTime,
    ) -> opentelemetry_sdk::trace::Span {
        // Each call crosses a service boundary, so the parent is remote to the child's service.
        let parent = match parent {
            Some(parent) => Context::new().with_remote_span_context(parent),
            None => Context::new(),
        };
        let tracer = &self.members[entry.service.index()].tracer;
        tracer
            .span_builder(entry.name)
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .start_with_context(tracer, &parent)
    }

    fn emit_log(&self, service: Service, entry: &LogEntry, span: &SpanContext, at: SystemTime) {
        let logger = &self.members[service.index()].logger;
        let mut record = logger.create_log_record();
        record.set_timestamp(at);
        record.set_observed_timestamp(at);
        record.set_severity_number(entry.severity);
        record.set_severity_text(entry.severity.name());
        record.set_body(entry.body.clone().into());
        record.add_attributes(entry.attributes.iter().cloned());
        record.set_trace_context(span.trace_id(), span.span_id(), Some(span.trace_flags()));
        logger.emit(record);
    }

    /// Exports everything still queued and stops every pipeline.
    ///
    /// Blocks until the exporters finished, at most about the exporters' timeout.
    pub(super) fn shutdown(&self) {
        for member in &self.members {
            // A failed export is already counted in the stats, and the summary reports it.
            let _ = member.logger_provider.shutdown();
            let _ = member.tracer_provider.shutdown();
        }
    }
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms / 1000.0)
}

fn resource(service: Service) -> Resource {
    Resource::builder()
        .with_service_name(service.name())
        .with_attributes([
            KeyValue::new("service.version", service.version()),
            KeyValue::new("service.instance.id", format!("{}-1", service.name())),
            KeyValue::new("deployment.environment", "demo"),
        ])
        .build()
}

fn logger_provider(
    server: &str,
    client: &reqwest::blocking::Client,
    stats: &Arc<ExportStats>,
    resource: Resource,
) -> anyhow::Result<SdkLoggerProvider> {
    let endpoint = format!("{server}/v1/logs");
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(&endpoint)
        .with_http_client(client.clone())
        .build()
        .with_context(|| format!("building the otlp log exporter for {endpoint}"))?;
    let processor = BatchLogProcessor::builder(Counting::new(exporter, Arc::clone(stats)))
        .with_batch_config(
            opentelemetry_sdk::logs::BatchConfigBuilder::default()
                .with_scheduled_delay(EXPORT_DELAY)
                .build(),
        )
        .build();
    Ok(SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(processor)
        .build())
}

/// Asks the hub whether it takes OTLP traces, with an empty request; `None` when it does.
fn probe_traces(server: &str, client: &reqwest::blocking::Client) -> Option<String> {
    let response = client
        .post(format!("{server}/v1/traces"))
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Vec::new())
        .send();
    match response {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("answered {}", response.status())),
        Err(error) => Some(error.to_string()),
    }
}

/// A tracer provider exporting through `export`'s client into its stats, or not at all.
fn tracer_provider(
    server: &str,
    export: Option<(&reqwest::blocking::Client, &Arc<ExportStats>)>,
    resource: Resource,
) -> anyhow::Result<SdkTracerProvider> {
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let Some((client, stats)) = export else {
        return Ok(builder.build());
    };
    let endpoint = format!("{server}/v1/traces");
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(&endpoint)
        .with_http_client(client.clone())
        .build()
        .with_context(|| format!("building the otlp span exporter for {endpoint}"))?;
    let processor = BatchSpanProcessor::builder(Counting::new(exporter, Arc::clone(stats)))
        .with_batch_config(
            opentelemetry_sdk::trace::BatchConfigBuilder::default()
                .with_scheduled_delay(EXPORT_DELAY)
                .build(),
        )
        .build();
    Ok(builder.with_span_processor(processor).build())
}
