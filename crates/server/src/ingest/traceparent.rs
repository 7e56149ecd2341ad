//! The W3C `traceparent` of an ingest request, for records without ids of their own.
//!
//! `/v1/events` records that carry neither a trace nor a span id take the trace and span of
//! the request that carried them: the caller's span, as its valid `traceparent` names it
//! (read by [`tracetail_model::trace_context`]). An invalid header is ignored, as the
//! specification asks of a receiver.

use axum::http::HeaderMap;
use tracetail_model::{SpanId, TraceContext, TraceId};

use crate::trace::incoming_context;

/// The trace and the caller's span of a valid `traceparent` header; `None` otherwise.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<(TraceId, SpanId)> {
    let TraceContext { parent, .. } = incoming_context(headers)?;
    Some((parent.trace_id, parent.parent_id))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_gives_its_ids_and_an_invalid_one_nothing() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(VALID));
        let (trace, span) = from_headers(&headers).expect("valid");
        assert_eq!(trace.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.to_hex(), "00f067aa0ba902b7");
        assert_eq!(from_headers(&HeaderMap::new()), None);

        let upper = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
        headers.insert("traceparent", HeaderValue::from_static(upper));
        assert_eq!(from_headers(&headers), None);
    }
}
