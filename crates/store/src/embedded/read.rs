//! Reads: pages of the log, one trace, and the first record since a time.
//!
//! These block on the engine, so the log runs them on tokio's blocking pool.
//!
//! Every read keeps to the published bounds: above `latest` the engine may already hold a
//! group the writer has not yet synced (it could still be lost, and its seqs reused), and
//! below the first retained seq it may hold records it replayed after they were evicted.
//!
//! A page walks `events` in key order (or reverse) over the requested sequence range. A
//! time window first narrows that range by bisection (receive times never decrease with
//! sequence numbers), and is still checked per record, because records committed after the
//! bisection may be walked too. Walking past the window's far edge ends the walk as
//! exhausted: no later record can fall inside it.

use fjall::Guard;
use tracetail_model::{RecordKind, TraceId};

use super::Shared;
use super::record::{StoredRecord, seq_key};
use crate::{Order, ReadPage, ReadRequest, StoreError};

/// Reads one page; see [`ReadRequest`] and [`ReadPage`]. A `limit` or `scan_limit` of 0
/// sets no limit.
pub(super) fn read(shared: &Shared, request: &ReadRequest) -> Result<ReadPage, StoreError> {
    let Some((start, end)) = narrowed_range(shared, request)? else {
        return Ok(ReadPage {
            records: Vec::new(),
            scanned_to: None,
            exhausted: true,
        });
    };
    let entries = shared.events.range(seq_key(start)..=seq_key(end));
    match request.order {
        Order::Asc => walk(entries, request),
        Order::Desc => walk(entries.rev(), request),
    }
}

/// Collects matches from `entries` until the limits, the end, or the far edge of the time
/// window.
fn walk(
    mut entries: impl Iterator<Item = Guard>,
    request: &ReadRequest,
) -> Result<ReadPage, StoreError> {
    let limit = no_limit_if_zero(request.limit);
    let scan_limit = no_limit_if_zero(request.scan_limit);
    let mut page = ReadPage::default();
    let mut looked_at = 0;
    loop {
        if page.records.len() >= limit || looked_at >= scan_limit {
            page.exhausted = entries.next().is_none();
            return Ok(page);
        }
        let Some(entry) = entries.next() else {
            page.exhausted = true;
            return Ok(page);
        };
        let (key, value) = entry.into_inner()?;
        let record = StoredRecord::decode(&key, &value)?;
        looked_at += 1;
        page.scanned_to = Some(record.seq);

        match place(request, record.received_nanos) {
            // Spans share the log but never match a filter of log events.
            Place::Inside
                if record.kind() == RecordKind::Log
                    && request.filter.matches_view(&record.view()?) =>
            {
                page.records.push(record.to_record());
            }
            Place::Inside | Place::NotYet => {}
            Place::Past => {
                page.exhausted = true;
                return Ok(page);
            }
        }
    }
}

/// Every retained record of one trace after `after`, in sequence order.
pub(super) fn trace(
    shared: &Shared,
    trace_id: &TraceId,
    after: u64,
    limit: usize,
) -> Result<ReadPage, StoreError> {
    let after = after.max(shared.bounds.known_first_retained() - 1);
    let latest = shared.bounds.latest();
    let mut seqs = shared
        .trace_index
        .seqs(trace_id, after, limit.saturating_add(1))?;
    let mut exhausted = seqs.len() <= limit;
    seqs.truncate(limit);
    if seqs.last().is_some_and(|&last| last > latest) {
        // Indexed but not yet committed: the end for now.
        seqs.retain(|&seq| seq <= latest);
        exhausted = true;
    }
    let mut records = Vec::with_capacity(seqs.len());
    for &seq in &seqs {
        let key = seq_key(seq);
        // Evicted since it was indexed: its bucket goes once retention passes all of it.
        let Some(value) = shared.events.get(key)? else {
            continue;
        };
        records.push(StoredRecord::decode(&key, &value)?.to_record());
    }
    Ok(ReadPage {
        records,
        scanned_to: seqs.last().copied(),
        exhausted,
    })
}

/// The first retained sequence number received at or after `nanos`, by bisection.
pub(super) fn first_received_since(shared: &Shared, nanos: u64) -> Result<Option<u64>, StoreError> {
    let bounds = shared.bounds();
    let Some(mut low) = bounds.oldest else {
        return Ok(None);
    };
    let mut high = bounds.latest;
    if !received_at_or_after(shared, high, nanos)? {
        return Ok(None);
    }

    // Invariant: `high` qualifies; everything below `low` does not.
    while low < high {
        let middle = low + (high - low) / 2;
        if received_at_or_after(shared, middle, nanos)? {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Ok(Some(high))
}

/// Whether record `seq` was received at or after `nanos`; an evicted record was not (it is
/// older than every retained one).
fn received_at_or_after(shared: &Shared, seq: u64, nanos: u64) -> Result<bool, StoreError> {
    let key = seq_key(seq);
    let Some(value) = shared.events.get(key)? else {
        return Ok(false);
    };
    Ok(StoredRecord::decode(&key, &value)?.received_nanos >= nanos)
}

/// The request's sequence range, narrowed to its time window; `None` if nothing is left.
fn narrowed_range(
    shared: &Shared,
    request: &ReadRequest,
) -> Result<Option<(u64, u64)>, StoreError> {
    let (start, end) = request
        .seqs
        .clone()
        .map_or((0, u64::MAX), |seqs| seqs.into_inner());
    let mut start = start.max(shared.bounds.known_first_retained());
    let mut end = end.min(shared.bounds.latest());
    if let Some(since) = request.received_since {
        match first_received_since(shared, since)? {
            Some(first) => start = start.max(first),
            None => return Ok(None),
        }
    }
    if let Some(until) = request.received_until
        && let Some(first_too_late) = first_received_since(shared, until)?
    {
        end = end.min(first_too_late - 1);
    }
    Ok((start <= end).then_some((start, end)))
}

/// Where a receive time lies relative to the request's window, in walk direction.
enum Place {
    /// Inside the window.
    Inside,
    /// Before the window's near edge: later records may still fall inside.
    NotYet,
    /// Beyond the window's far edge: no later record can fall inside.
    Past,
}

fn place(request: &ReadRequest, received_nanos: u64) -> Place {
    let too_early = request
        .received_since
        .is_some_and(|since| received_nanos < since);
    let too_late = request
        .received_until
        .is_some_and(|until| received_nanos >= until);
    match (request.order, too_early, too_late) {
        (_, false, false) => Place::Inside,
        (Order::Asc, _, true) | (Order::Desc, true, _) => Place::Past,
        (Order::Asc, true, false) | (Order::Desc, false, true) => Place::NotYet,
    }
}

fn no_limit_if_zero(limit: usize) -> usize {
    if limit == 0 { usize::MAX } else { limit }
}
