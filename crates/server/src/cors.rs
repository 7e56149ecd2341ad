//! Cross-origin access for web apps on other origins (`--cors-origin`).
//!
//! Off unless origins are configured: the hub has no authentication of its own, so by default
//! no page of another origin may read logs through a visitor's browser. With origins given,
//! their pages may use every route with the headers `tracetail.js` and OTLP senders need
//! (`Authorization` for a proxy in front, `Last-Event-ID`, trace context, content type and
//! encoding), read the trace headers of answers, and cache the preflight for an hour.
//! Credentials (cookies) are never allowed.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The layer for `origins`; `None` when there are none. Origins were spelled at start-up
/// by [`normalize_origin`].
pub(crate) fn layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok());
        AllowOrigin::list(values)
    };
    let traceparent = HeaderName::from_static("traceparent");
    let tracestate = HeaderName::from_static("tracestate");
    let layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            HeaderName::from_static("last-event-id"),
            traceparent.clone(),
            tracestate.clone(),
        ])
        .expose_headers([
            HeaderName::from_static("x-trace-id"),
            header::RETRY_AFTER,
            traceparent,
            tracestate,
        ])
        .max_age(Duration::from_secs(3600));
    Some(layer)
}

/// `text` as browsers spell an origin in `Origin` (lower case, no default port), or why it is
/// none: `*`, or `http://` / `https://` with a host and an optional port, nothing after.
pub fn normalize_origin(text: &str) -> Result<String, String> {
    if text == "*" {
        return Ok(text.to_string());
    }
    let invalid = |why: &str| Err(format!("{text:?} is not a web origin: {why}"));
    let lower = text.to_ascii_lowercase();
    let (scheme, default_port, rest) = if let Some(rest) = lower.strip_prefix("http://") {
        ("http", 80, rest)
    } else if let Some(rest) = lower.strip_prefix("https://") {
        ("https", 443, rest)
    } else {
        return invalid("it must start with http:// or https://");
    };
    let host_chars =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':');
    if rest.is_empty() || !rest.bytes().all(host_chars) {
        return invalid(
            "expected only a host and an optional port, like https://app.example.com:8443",
        );
    }
    // The port is what follows the last colon, unless that colon is inside an IPv6 address.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    if host.is_empty() {
        return invalid("it has no host");
    }
    match port.map(str::parse::<u16>) {
        None => Ok(format!("{scheme}://{host}")),
        Some(Ok(port)) if port == default_port => Ok(format!("{scheme}://{host}")),
        Some(Ok(port)) if port > 0 => Ok(format!("{scheme}://{host}:{port}")),
        Some(_) => invalid("its port is not a number from 1 to 65535"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_spelled_as_browsers_send_them() {
        let cases = [
            ("*", "*"),
            ("http://localhost:5173", "http://localhost:5173"),
            ("HTTP://App.Example.com:8080", "http://app.example.com:8080"),
            ("http://a.com:80", "http://a.com"),
            ("https://a.com:443", "https://a.com"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[::1]", "http://[::1]"),
        ];
        for (given, spelled) in cases {
            assert_eq!(normalize_origin(given).as_deref(), Ok(spelled), "{given}");
        }
        for bad in [
            "localhost:5173",
            "https://app.example.com/",
            "ftp://x",
            "https://",
            "https://a b",
            "http://a.com:99999",
            "http://a.com:0",
            "http://:80",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
    }
}
