//! Where a stream starts, and the `gap` it owes the client when that is not where it asked.
//!
//! | request | start after | gap reason |
//! |---|---|---|
//! | no cursor, no `since`, no `trace_id` | the latest record (live only) | |
//! | no cursor, `since=T` | the last record received before T | |
//! | no cursor, `trace_id` | just before the oldest retained: the whole stored trace first | |
//! | cursor of this store, still retained | the cursor (exclusive) | |
//! | cursor older than the oldest retained record | just before the oldest retained | `evicted` |
//! | cursor past the latest record | the latest record (live) | `future` |
//! | well-formed cursor of another store or epoch | just before the oldest retained | `unknown` |
//! | text that is not a cursor at all | the latest record (live) | `malformed` |

use std::sync::Arc;

use serde::Serialize;
use tracetail_model::{Filter, check_cursor};
use tracetail_store::{Bounds, Located};

use crate::error::ApiError;
use crate::state::AppState;

/// A resolved starting point.
#[derive(Debug)]
pub(crate) struct Start {
    /// Deliver records with sequence numbers above this.
    pub(crate) after: u64,
    /// The gap to announce first, if any.
    pub(crate) gap: Option<Gap>,
}

/// The body of `event: gap`.
#[derive(Debug, Serialize)]
pub(crate) struct Gap {
    /// The cursor the client asked for.
    pub(crate) requested: String,
    /// The cursor the stream resumes after instead.
    pub(crate) resumed_from: String,
    /// `unknown`, `evicted`, `future` or `malformed`.
    pub(crate) reason: &'static str,
}

/// Decides the start of a stream that subscribed to the hub just before.
pub(crate) async fn resolve(
    state: &Arc<AppState>,
    requested: Option<String>,
    since: Option<u64>,
    filter: &Filter,
) -> Result<Start, ApiError> {
    let bounds = state.log.bounds();
    let before_oldest = bounds.oldest.map_or(bounds.latest, |oldest| oldest - 1);
    if let Some(requested) = requested {
        return Ok(resume(state, bounds, requested));
    }
    if let Some(since) = since {
        let first = state.log.first_received_since(since).await?;
        let after = first.map_or(bounds.latest, |seq| seq - 1);
        return Ok(Start { after, gap: None });
    }
    if filter.trace_id.is_some() {
        return Ok(Start {
            after: before_oldest,
            gap: None,
        });
    }
    Ok(Start {
        after: bounds.latest,
        gap: None,
    })
}

/// The start for an explicit cursor, per the table in the module docs.
fn resume(state: &Arc<AppState>, bounds: Bounds, requested: String) -> Start {
    let before_oldest = bounds.oldest.map_or(bounds.latest, |oldest| oldest - 1);
    let (after, reason) = if check_cursor(&requested).is_err() {
        (bounds.latest, Some("malformed"))
    } else {
        match state.log.locate(&requested) {
            Located::Malformed => (bounds.latest, Some("malformed")),
            Located::Foreign => (before_oldest, Some("unknown")),
            Located::Seq(seq) if seq > bounds.latest => (bounds.latest, Some("future")),
            Located::Seq(seq) if seq < before_oldest => (before_oldest, Some("evicted")),
            Located::Seq(seq) => (seq, None),
        }
    };
    let gap = reason.map(|reason| Gap {
        requested: requested.chars().take(80).collect(),
        resumed_from: state.log.cursor(after),
        reason,
    });
    Start { after, gap }
}
