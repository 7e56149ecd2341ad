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

/// The layer for `origins`; `None` when there are none. Origins were checked at start-up
/// ([`check_origin`]).
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

/// Whether `text` is `*` or a web origin: `http://` or `https://`, a host, an optional port,
/// nothing after.
pub fn check_origin(text: &str) -> Result<(), String> {
    if text == "*" {
        return Ok(());
    }
    let invalid = |why: &str| Err(format!("{text:?} is not a web origin: {why}"));
    let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    else {
        return invalid("it must start with http:// or https://");
    };
    let host_and_port =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']');
    if rest.is_empty() || !rest.bytes().all(host_and_port) {
        return invalid(
            "expected only a host and an optional port, like https://app.example.com:8443",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_a_scheme_a_host_and_an_optional_port() {
        for good in [
            "*",
            "http://localhost:5173",
            "https://app.example.com",
            "http://[::1]:8080",
        ] {
            assert_eq!(check_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "localhost:5173",
            "https://app.example.com/",
            "ftp://x",
            "https://",
            "https://a b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
