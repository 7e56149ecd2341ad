//! The hub's own telemetry: its log lines, its spans and logs over OTLP, and (with
//! `--self-telemetry`) its logs in its own store.
//!
//! - [`lines`]: log lines on stderr or in `--log-file`, text or JSON, with trace ids.
//! - [`export`]: OTLP export from the standard `OTEL_*` environment variables.
//! - [`own_logs`]: the layer that feeds `--self-telemetry`.
//!
//! One filter (`RUST_LOG`, default `info`) decides what is logged at all. The OTLP log bridge
//! and the own-log layer also skip the HTTP client, the exporter and the tower stack
//! ([`is_internal`]), so exporting cannot produce telemetry about itself.

mod export;
mod lines;
mod own_logs;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracetail_server::own_logs::OwnLogReceiver;
use tracing::{Event, Level, Metadata};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{self, Filter};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Layer};

pub(crate) use self::lines::LineFormat;

/// Own logs waiting for the store, at most; more are dropped and counted.
const OWN_LOG_QUEUE: usize = 4096;

/// Where and how the hub writes its own log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogSettings {
    /// `None`: text on a terminal, JSON otherwise.
    pub(crate) format: Option<LogFormat>,
    /// Lines go to this file, rotated daily, instead of stderr.
    pub(crate) file: Option<PathBuf>,
    /// Rotated files kept, the current one included.
    pub(crate) max_files: usize,
    /// Also store the hub's logs as service `tracetail`.
    pub(crate) self_telemetry: bool,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The running telemetry: hand the providers to the server, shut down at the end.
pub(crate) struct Telemetry {
    pub(crate) tracer_provider: SdkTracerProvider,
    logger_provider: Option<SdkLoggerProvider>,
    pub(crate) own_logs: Option<OwnLogReceiver>,
}

/// Targets whose events never reach the OTLP log bridge or the store: the exporter's HTTP
/// client and the SDK themselves, and the HTTP stack below the server.
pub(crate) fn is_internal(target: &str) -> bool {
    const INTERNAL: [&str; 6] = ["hyper", "h2", "reqwest", "opentelemetry", "tower", "tonic"];
    INTERNAL.iter().any(|prefix| target.starts_with(prefix))
}

/// A per-layer filter that drops [`is_internal`] events, and the routine reports (below WARN)
/// of libraries that log through the `log` crate: the storage engine and its parts (`fjall`,
/// `lsm_tree`, `sfa`…) report on every stored batch, so storing or exporting those reports
/// would cause more of them, here or in a hub that exports back.
struct NotInternal;

impl<S> Filter<S> for NotInternal {
    fn enabled(&self, metadata: &Metadata<'_>, _: &layer::Context<'_, S>) -> bool {
        !is_internal(metadata.target())
    }

    fn event_enabled(&self, event: &Event<'_>, _: &layer::Context<'_, S>) -> bool {
        // Events from the `log` crate have the target `log` until normalized.
        match event.normalized_metadata() {
            Some(metadata) => !is_internal(metadata.target()) && *metadata.level() <= Level::WARN,
            None => true,
        }
    }
}

/// Installs the global log subscriber and sets up export.
pub(crate) fn init(settings: &LogSettings) -> anyhow::Result<Telemetry> {
    // The storage engine reports routine file work at INFO; only its warnings concern operators.
    let default = "info,fjall=warn,lsm_tree=warn";
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let providers = export::from_env()?;

    let lines = lines_layer(settings)?;
    let bridge = providers
        .logger
        .as_ref()
        .map(|provider| OpenTelemetryTracingBridge::new(provider).with_filter(NotInternal));
    let (own_logs_layer, own_logs) = if settings.self_telemetry {
        let (sender, receiver) = tracetail_server::own_logs::channel(OWN_LOG_QUEUE);
        let layer = own_logs::OwnLogsLayer::new(sender).with_filter(NotInternal);
        (Some(layer), Some(receiver))
    } else {
        (None, None)
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(filter)
        .with(bridge)
        .with(own_logs_layer)
        .try_init()
        .context("installing the log subscriber")?;
    Ok(Telemetry {
        tracer_provider: providers.tracer,
        logger_provider: providers.logger,
        own_logs,
    })
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

fn lines_layer(settings: &LogSettings) -> anyhow::Result<BoxedLayer> {
    let Some(path) = &settings.file else {
        let terminal = std::io::stderr().is_terminal();
        let format = match settings.format {
            Some(LogFormat::Json) => LineFormat::Json,
            Some(LogFormat::Text) => LineFormat::Text { ansi: terminal },
            None if terminal => LineFormat::Text { ansi: true },
            None => LineFormat::Json,
        };
        let layer = tracing_subscriber::fmt::layer()
            .event_format(format)
            .with_writer(std::io::stderr);
        return Ok(layer.boxed());
    };

    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The appender would create it too, but only after complaining that it cannot list it.
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("--log-file {}: creating its directory", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("--log-file {}: not a file name", path.display()))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(name.to_string_lossy())
        .max_log_files(settings.max_files)
        .build(&directory)
        .with_context(|| format!("opening --log-file {}", path.display()))?;
    let format = match settings.format {
        Some(LogFormat::Text) => LineFormat::Text { ansi: false },
        _ => LineFormat::Json,
    };
    let layer = tracing_subscriber::fmt::layer()
        .event_format(format)
        .with_writer(appender);
    Ok(layer.boxed())
}

impl Telemetry {
    /// Exports what is still queued and stops the exporters.
    pub(crate) fn shutdown(self) {
        // Failures here have nowhere useful to go: the logger itself is shutting down.
        let _ = self.tracer_provider.shutdown();
        if let Some(logger) = self.logger_provider {
            let _ = logger.shutdown();
        }
    }
}
