//! `GET /v1/logs`: stored events by filter, paged with cursors.
//!
//! Parameters: the stream filters (`service`, `level`, `trace_id`, `q`), `since` and `until`
//! (arrival time, like the stream), `after` (a cursor: continue past it in the chosen order),
//! `limit` (default 100, at most 10000) and `order` (`desc`, newest first, by default; or
//! `asc`). The answer is `{"events": [...], "next": cursor-or-null}`; `next` is null once the
//! walk reached the end, and otherwise goes into `after` for the next page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracetail_store::{Order, ReadPage, ReadRequest};

use crate::error::ApiError;
use crate::params::{QueryPairs, after_cursor};
use crate::state::AppState;

/// Events per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`.
const MAX_LIMIT: usize = 10_000;
/// Records looked at per request, matching or not, so one query never runs long.
const SCAN_LIMIT: usize = 500_000;

/// The history route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/logs", get(list_logs))
}

async fn list_logs(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = QueryPairs::parse(raw.as_deref());
    let order = parse_order(pairs.get("order"))?;
    let limit = pairs.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = pairs
        .get("after")
        .map(|cursor| after_cursor(&state, cursor))
        .transpose()?;
    let since = pairs.time("since")?;

    let bounds = state.log.bounds();
    let mut low = bounds.oldest.unwrap_or(bounds.latest + 1);
    let mut high = bounds.latest;
    if let Some(since) = since {
        low = low.max(
            state
                .log
                .first_received_since(since)
                .await?
                .unwrap_or(high + 1),
        );
    }
    match (order, after) {
        (Order::Asc, Some(after)) => low = low.max(after + 1),
        (Order::Desc, Some(after)) => high = high.min(after.saturating_sub(1)),
        (_, None) => {}
    }

    let request = ReadRequest {
        seqs: Some(low..=high),
        received_since: since,
        received_until: pairs.time("until")?,
        filter: pairs.filter()?,
        order,
        limit,
        scan_limit: SCAN_LIMIT,
    };
    let page = state.log.read(request).await?;
    Ok(page_response(&state, &page))
}

/// Writes the page as JSON, splicing the stored event JSON in without parsing it again.
fn page_response(state: &AppState, page: &ReadPage) -> Response {
    let size: usize = page
        .records
        .iter()
        .map(|record| record.json.len() + 1)
        .sum();
    let mut body = Vec::with_capacity(size + 64);
    body.extend_from_slice(b"{\"events\":[");
    for (index, record) in page.records.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&record.json);
    }
    body.push(b']');
    push_next(
        &mut body,
        page.continue_after().map(|seq| state.log.cursor(seq)),
    );
    body.push(b'}');
    let json = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], body).into_response()
}

fn parse_order(text: Option<&str>) -> Result<Order, ApiError> {
    match text {
        None | Some("desc") => Ok(Order::Desc),
        Some("asc") => Ok(Order::Asc),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid order parameter {other:?}: expected asc or desc"
        ))),
    }
}

/// `,"next":` and the cursor of the next page, or `null` when there is none.
pub(crate) fn push_next(body: &mut Vec<u8>, next: Option<String>) {
    body.extend_from_slice(b",\"next\":");
    match next {
        // A cursor is letters, digits and `.`, `_`, `:`, `-`: nothing to escape.
        Some(cursor) => body.extend_from_slice(format!("\"{cursor}\"").as_bytes()),
        None => body.extend_from_slice(b"null"),
    }
}
