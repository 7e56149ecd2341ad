//! The W3C `traceparent` request header, read strictly.
//!
//! `/v1/events` records without ids of their own take the trace and span of the request that
//! carried them. Only version `00` is read, exactly as W3C Trace Context writes it:
//! `00-<32 hex>-<16 hex>-<2 hex>`, lower case, neither id all zeros. Any other header is
//! ignored, as the specification asks of a receiver that does not understand it.

use axum::http::HeaderMap;
use tracetail_model::{SpanId, TraceId};

/// The header's name.
const TRACEPARENT: &str = "traceparent";

/// The trace and span of a valid version-00 `traceparent` header; `None` otherwise.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<(TraceId, SpanId)> {
    parse(headers.get(TRACEPARENT)?.to_str().ok()?)
}

/// Reads `00-<trace id>-<parent id>-<flags>`.
fn parse(text: &str) -> Option<(TraceId, SpanId)> {
    let mut parts = text.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" {
        return None;
    }
    let lower_hex = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !(lower_hex(trace, 32) && lower_hex(span, 16) && lower_hex(flags, 2)) {
        return None;
    }
    // All-zero ids are refused here.
    Some((TraceId::from_hex(trace).ok()?, SpanId::from_hex(span).ok()?))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_version_00_header_gives_its_ids() {
        let (trace, span) = parse(VALID).expect("valid");
        assert_eq!(trace.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.to_hex(), "00f067aa0ba902b7");

        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(VALID));
        assert_eq!(from_headers(&headers), Some((trace, span)));
        assert_eq!(from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn anything_but_a_strict_version_00_header_is_ignored() {
        let invalid = [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "",
        ];
        for text in invalid {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
