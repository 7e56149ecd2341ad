//! `GET /v1/services`: the services the store holds events of, with counts and last-seen time.
//!
//! The [`ServiceDirectory`] is kept in memory. The store's commit listener counts every durable
//! batch into it, so a request never scans the store. At start, a background task rebuilds the
//! counts of what was already stored, one bounded page at a time; until it is done the answer
//! says `"complete": false` and the counts cover only part of the store.
//!
//! `count` is the number of events of that service received and not yet dropped by retention
//! *as of the last start*: events that retention drops while the server runs stay counted
//! until the next start, which counts only what is retained. `last_seen` is when the hub
//! received the service's newest event (RFC 3339, UTC).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tracetail_model::RecordKind;
use tracetail_model::event::format_ts;
use tracetail_store::{EventLog, ReadRequest, Record, StoreError};

use crate::state::AppState;

/// Records looked at per page while rebuilding at start.
const REBUILD_PAGE: usize = 4096;

/// Per-service counts, shared by the commit listener (writer) and the route (readers).
#[derive(Default)]
pub(crate) struct ServiceDirectory {
    services: Mutex<HashMap<Arc<str>, Seen>>,
    /// Set once the counts of the records stored before start are in.
    rebuilt: AtomicBool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    count: u64,
    last_seen_nanos: u64,
}

impl Seen {
    fn add(&mut self, other: Seen) {
        self.count += other.count;
        self.last_seen_nanos = self.last_seen_nanos.max(other.last_seen_nanos);
    }
}

/// One item of the answer.
#[derive(Debug, Serialize)]
struct ServiceItem {
    name: String,
    count: u64,
    last_seen: String,
}

/// The answer of `GET /v1/services`.
#[derive(Debug, Serialize)]
struct ServicesAnswer {
    services: Vec<ServiceItem>,
    complete: bool,
}

impl ServiceDirectory {
    /// Counts a committed batch. Called from the store's writer: takes one short lock.
    pub(crate) fn record(&self, batch: &[Record]) {
        let mut services = self.lock();
        for record in batch {
            if let Some((service, seen)) = seen_in(record) {
                services.entry(service).or_default().add(seen);
            }
        }
    }

    /// Counts the records with sequence numbers up to `through` (those stored before start),
    /// a page at a time, then marks the directory complete.
    pub(crate) async fn rebuild(&self, log: &dyn EventLog, through: u64) -> Result<(), StoreError> {
        let mut next = log.bounds().oldest.unwrap_or(through + 1);
        let mut counted: HashMap<Arc<str>, Seen> = HashMap::new();
        while next <= through {
            let page = log
                .read(ReadRequest {
                    seqs: Some(next..=through),
                    scan_limit: REBUILD_PAGE,
                    ..ReadRequest::default()
                })
                .await?;
            for (service, seen) in page.records.iter().filter_map(seen_in) {
                counted.entry(service).or_default().add(seen);
            }
            match page.continue_after() {
                Some(scanned_to) => next = scanned_to + 1,
                None => break,
            }
        }

        let mut services = self.lock();
        for (service, seen) in counted {
            services.entry(service).or_default().add(seen);
        }
        self.rebuilt.store(true, Ordering::Release);
        Ok(())
    }

    fn answer(&self) -> ServicesAnswer {
        let complete = self.rebuilt.load(Ordering::Acquire);
        let mut services: Vec<ServiceItem> = self
            .lock()
            .iter()
            .map(|(name, seen)| ServiceItem {
                name: name.to_string(),
                count: seen.count,
                last_seen: format_ts(seen.last_seen_nanos),
            })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        ServicesAnswer { services, complete }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Seen>> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The service of a log record and what it adds; `None` for a span, or a record whose JSON
/// does not parse (the hub logs those).
fn seen_in(record: &Record) -> Option<(Arc<str>, Seen)> {
    // Counts are of log events; spans share the log but are not listed.
    if record.kind() == RecordKind::Span {
        return None;
    }
    let service: Arc<str> = match &record.keys {
        Some(keys) => keys.service.clone(),
        None => record.view().ok()?.service.as_ref().into(),
    };
    let seen = Seen {
        count: 1,
        last_seen_nanos: record.received_nanos,
    };
    Some((service, seen))
}

/// The services route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/services", get(list_services))
}

async fn list_services(State(state): State<Arc<AppState>>) -> Json<ServicesAnswer> {
    Json(state.services.answer())
}
