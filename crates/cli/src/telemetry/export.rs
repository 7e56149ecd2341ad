//! OTLP export of the hub's own spans and logs, configured by the standard OpenTelemetry
//! environment variables.
//!
//! Spans are exported when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! is set, logs when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` is;
//! `OTEL_SDK_DISABLED=true` turns both off. The exporter reads the rest itself
//! (`OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf` or `http/json`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_COMPRESSION`, and their per-signal forms);
//! the resource takes `OTEL_SERVICE_NAME` (default `tracetail`) and `OTEL_RESOURCE_ATTRIBUTES`.
//! Both go through batch processors on their own threads, flushed at shutdown.
//!
//! The exporter's HTTP client is not instrumented, so its requests make no spans; its own log
//! events (targets `reqwest`, `hyper`, `opentelemetry*`…) are kept out of the log bridge by
//! [`super::is_internal`]. Its requests carry [`OWN_EXPORT_HEADER`], so that no tracetail hub
//! receiving them (this one, or another that exports back here) makes spans of them either.

use std::collections::HashMap;

use anyhow::{Context, bail};
use opentelemetry::Key;
use opentelemetry_otlp::{LogExporter, SpanExporter, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracetail_server::OWN_EXPORT_HEADER;

/// The service name of the hub's own telemetry unless `OTEL_SERVICE_NAME` says otherwise.
const DEFAULT_SERVICE: &str = "tracetail";

/// The providers of the hub's own spans and logs.
pub(crate) struct Providers {
    /// Always present: spans get real ids even when nothing is exported.
    pub(crate) tracer: SdkTracerProvider,
    /// Present only when logs are exported.
    pub(crate) logger: Option<SdkLoggerProvider>,
}

/// The providers the environment asks for.
pub(crate) fn from_env() -> anyhow::Result<Providers> {
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|text| text.eq_ignore_ascii_case("true"));
    let endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let export_traces =
        !disabled && (endpoint || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some());
    let export_logs = !disabled && (endpoint || env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT").is_some());
    if export_traces || export_logs {
        check_protocol()?;
    }

    let resource = resource();
    let marker = HashMap::from([(OWN_EXPORT_HEADER.to_string(), "1".to_string())]);
    let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
    if export_traces {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_headers(marker.clone())
            .build()
            .context("setting up OTLP span export from OTEL_EXPORTER_OTLP_*")?;
        tracer = tracer.with_batch_exporter(exporter);
    }
    let logger = if export_logs {
        let exporter = LogExporter::builder()
            .with_http()
            .with_headers(marker)
            .build()
            .context("setting up OTLP log export from OTEL_EXPORTER_OTLP_*")?;
        let provider = SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        Some(provider)
    } else {
        None
    };
    Ok(Providers {
        tracer: tracer.build(),
        logger,
    })
}

/// Only OTLP over HTTP is built in; gRPC is refused rather than silently replaced.
fn check_protocol() -> anyhow::Result<()> {
    let variables = [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    ];
    for variable in variables {
        if let Some(protocol) = env(variable)
            && !matches!(protocol.as_str(), "http/protobuf" | "http/json")
        {
            bail!("{variable}={protocol:?} is not supported: use http/protobuf or http/json");
        }
    }
    Ok(())
}

/// The SDK's resource from the environment, with the service name the specification asks
/// for: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else
/// `tracetail`. (The SDK alone lets `OTEL_RESOURCE_ATTRIBUTES` win over `OTEL_SERVICE_NAME`.)
fn resource() -> Resource {
    let from_attributes = EnvResourceDetector::new().detect();
    let name = service_name(env("OTEL_SERVICE_NAME"), &from_attributes);
    Resource::builder().with_service_name(name).build()
}

fn service_name(otel_service_name: Option<String>, from_attributes: &Resource) -> String {
    let attribute = || from_attributes.get(&Key::new("service.name"));
    otel_service_name
        .or_else(|| attribute().map(|name| name.to_string()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string())
}

/// A set, non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;

    fn attributes(pairs: &[(&'static str, &'static str)]) -> Resource {
        let values = pairs.iter().map(|&(key, value)| KeyValue::new(key, value));
        Resource::builder_empty().with_attributes(values).build()
    }

    #[test]
    fn otel_service_name_wins_then_resource_attributes_then_tracetail() {
        let named = attributes(&[("service.name", "from-attributes"), ("env", "test")]);
        let unnamed = attributes(&[("env", "test")]);
        assert_eq!(service_name(Some("hub-a".into()), &named), "hub-a");
        assert_eq!(service_name(None, &named), "from-attributes");
        assert_eq!(service_name(None, &unnamed), "tracetail");
        assert_eq!(service_name(Some(String::new()), &unnamed), "tracetail");
    }
}
