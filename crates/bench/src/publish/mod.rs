//! Publishing: the HTTP client every command shares, and the rate-paced event publisher.

pub(crate) mod publisher;

use std::time::Duration;

use anyhow::{Context, Result};

/// Longest any single publish or ingest request may take before it counts as an error.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP/1.1 client keeping up to `connections` connections to one server, as an
/// OpenTelemetry SDK or a log shipper would.
pub(crate) fn http_client(connections: usize) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .user_agent("tracetail-bench")
        .build()
        .context("building the HTTP client")
}

/// A transport error with its causes, e.g. `error sending request: connection refused`.
pub(crate) fn transport_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Text for a failed request: the status and the start of the answer, or the transport error.
pub(crate) fn describe_failure(status: Option<reqwest::StatusCode>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).replace('\n', " ");
    match status {
        Some(status) => format!("HTTP {status}: {text}"),
        None => text,
    }
}
