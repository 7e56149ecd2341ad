//! `GET /v1/stream`: one Server-Sent Events subscriber per connection.
//!
//! A stream opens with `retry:` and `event: open`, says `event: gap` when the requested cursor
//! cannot be served exactly, replays stored events after the resume point, then follows the
//! hub live. [`start`] decides where a stream starts; [`subscriber`] produces its bytes;
//! [`span`] is the stream's span, open as long as the connection.

mod span;
mod start;
mod subscriber;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::error::ApiError;
use crate::params::QueryPairs;
use crate::state::AppState;
use crate::trace::RequestTrace;

/// The stream route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/stream", get(open_stream))
}

async fn open_stream(
    State(state): State<Arc<AppState>>,
    Extension(trace): Extension<RequestTrace>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = QueryPairs::parse(raw.as_deref());
    let filter = pairs.filter()?;
    let since = pairs.time("since")?;
    let requested = requested_cursor(&headers, &pairs);

    // Subscribe before deciding the start, so that nothing committed in between is missed.
    let live = state.hub.subscribe();
    let requested_text = requested
        .as_ref()
        .map(|text| text.chars().take(80).collect());
    let start = start::resolve(&state, requested, since, &filter).await?;
    let effective = state.log.cursor(start.after);
    let span = span::StreamSpan::new(trace.keep_open(), requested_text, effective);
    let subscriber = subscriber::Subscriber::new(state.clone(), filter, start, live, span);
    let body = subscriber.into_body();

    let mut response = Response::new(Body::from_stream(body));
    let response_headers = response.headers_mut();
    let event_stream = HeaderValue::from_static("text/event-stream");
    response_headers.insert(header::CONTENT_TYPE, event_stream);
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The resume point: the `Last-Event-ID` header, else the `lastEventId` parameter, else
/// `after` (the name `GET /v1/logs` pages with, so that its `next` can start a stream). An
/// empty value means none (that is how EventSource says "no cursor yet"). A header that is not
/// visible ASCII is kept as replacement text so that it is answered as malformed.
fn requested_cursor(headers: &HeaderMap, pairs: &QueryPairs) -> Option<String> {
    if let Some(value) = headers.get("last-event-id") {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if !text.is_empty() {
            return Some(text);
        }
    }
    pairs
        .get("lastEventId")
        .or_else(|| pairs.get("after"))
        .map(str::to_string)
}
