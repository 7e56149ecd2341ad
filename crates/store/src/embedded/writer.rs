//! The writer thread: group commit.
//!
//! Every append goes through one dedicated thread. It takes one request from the queue, then
//! whatever else is already waiting (up to [`MAX_GROUP_REQUESTS`] requests or
//! [`MAX_GROUP_BYTES`] of JSON), numbers the records, and writes them, their trace index
//! entries and the new numbering position as one engine batch, made durable by one fsync.
//! Only then does it publish: `latest` first, then the commit listener once per request, in
//! sequence order, then each request's answer. Under load many appends share one fsync; an
//! idle log commits a lone append at once.
//!
//! A failed commit is answered with an error for every request of its group and stops the
//! writer: the engine refuses all writes after a failed sync, and numbering must not go on
//! past records whose fate is unknown. Later appends get [`StoreError::Closed`].
//!
//! The writer ends when every sender is gone and the queue is empty; `close` relies on that.
//! After each commit it also drops trace index buckets that retention has left behind.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use bytes::Bytes;
use fjall::{Keyspace, OwnedWriteBatch, PersistMode};
use tokio::sync::{mpsc, oneshot};
use tracetail_model::EncodedEvent;
use tracetail_model::event::now_nanos;

use super::Shared;
use super::meta::{self, Position};
use super::record::{encode_value, seq_key};
use super::trace_index::entry_key;
use crate::{CommitListener, CommittedBatch, Record, StoreError};

/// Most requests committed together.
const MAX_GROUP_REQUESTS: usize = 64;

/// Most JSON bytes committed together (a single larger request is committed alone).
const MAX_GROUP_BYTES: usize = 16 * 1024 * 1024;

/// What `append` of no events returns: an empty range.
#[expect(clippy::reversed_empty_ranges, reason = "the documented empty answer")]
pub(super) const EMPTY_RANGE: RangeInclusive<u64> = 1..=0;

/// The answer to one append.
type AppendResult = Result<RangeInclusive<u64>, StoreError>;

/// One `append` call waiting for the writer.
pub(super) struct AppendRequest {
    /// The events, never empty.
    pub(super) events: Vec<EncodedEvent>,
    /// Where the answer goes; the caller may have stopped waiting.
    pub(super) reply: oneshot::Sender<AppendResult>,
}

impl AppendRequest {
    fn json_bytes(&self) -> usize {
        self.events.iter().map(EncodedEvent::len).sum()
    }
}

/// Starts the writer thread; numbering continues after `position`.
pub(super) fn spawn(
    shared: Arc<Shared>,
    listener: CommitListener,
    receiver: mpsc::Receiver<AppendRequest>,
    position: Position,
) -> std::io::Result<JoinHandle<()>> {
    let writer = Writer {
        shared,
        listener,
        receiver,
        position,
    };
    std::thread::Builder::new()
        .name("tracetail-store-writer".into())
        .spawn(move || writer.run())
}

/// The writer thread's state.
struct Writer {
    shared: Arc<Shared>,
    listener: CommitListener,
    receiver: mpsc::Receiver<AppendRequest>,
    /// The last committed sequence number and receive time.
    position: Position,
}

impl Writer {
    fn run(mut self) {
        while let Some(group) = self.next_group() {
            let first_seq = self.position.last_seq + 1;
            let received_nanos = now_nanos().max(self.position.last_received);
            match self.write(&group, first_seq, received_nanos) {
                Ok(records) => self.publish(group, records, received_nanos),
                Err(error) => return self.fail(group, first_seq, error),
            }
            self.drop_stale_trace_buckets();
        }
        tracing::debug!(last_seq = self.position.last_seq, "store writer stopped");
    }

    /// Blocks for one request, then takes what else is queued, within the group limits.
    fn next_group(&mut self) -> Option<Vec<AppendRequest>> {
        let first = self.receiver.blocking_recv()?;
        let mut bytes = first.json_bytes();
        let mut group = vec![first];
        while group.len() < MAX_GROUP_REQUESTS && bytes < MAX_GROUP_BYTES {
            let Ok(next) = self.receiver.try_recv() else {
                break;
            };
            bytes += next.json_bytes();
            group.push(next);
        }
        Some(group)
    }

    /// Writes the group as one batch from `first_seq` and syncs it; returns each request's
    /// records.
    fn write(
        &self,
        group: &[AppendRequest],
        first_seq: u64,
        received_nanos: u64,
    ) -> Result<Vec<Vec<Record>>, StoreError> {
        let shared = &*self.shared;
        let bucket = shared.trace_index.bucket_for(first_seq)?;
        let count: usize = group.iter().map(|request| request.events.len()).sum();
        let mut batch = OwnedWriteBatch::with_capacity(shared.db.clone(), 2 * count + 1);

        let mut next_seq = first_seq;
        let records: Vec<Vec<Record>> = group
            .iter()
            .map(|request| {
                let records = self.stage(
                    &mut batch,
                    &bucket,
                    &request.events,
                    next_seq,
                    received_nanos,
                );
                next_seq += request.events.len() as u64;
                records
            })
            .collect();

        let position = Position {
            last_seq: next_seq - 1,
            last_received: received_nanos,
        };
        meta::put_position(&mut batch, &shared.meta, position);
        let first_retained = shared.bounds.known_first_retained();
        meta::put_first_retained(&mut batch, &shared.meta, first_retained);
        batch.commit()?;
        shared.db.persist(PersistMode::SyncData)?;
        Ok(records)
    }

    /// Adds one request's records and index entries to `batch`, numbered from `first_seq`.
    fn stage(
        &self,
        batch: &mut OwnedWriteBatch,
        bucket: &Keyspace,
        events: &[EncodedEvent],
        first_seq: u64,
        received_nanos: u64,
    ) -> Vec<Record> {
        let shared = &*self.shared;
        let mut value = Vec::new();
        (first_seq..)
            .zip(events)
            .map(|(seq, event)| {
                let json = event.json_with_id(&shared.epoch.cursor(seq));
                encode_value(&mut value, received_nanos, &json);
                batch.insert(&shared.events, seq_key(seq), value.as_slice());
                if let Some(trace_id) = &event.keys.trace_id {
                    batch.insert(bucket, entry_key(trace_id, seq), []);
                }
                Record {
                    seq,
                    received_nanos,
                    json: Bytes::from(json),
                    keys: Some(event.keys.clone()),
                }
            })
            .collect()
    }

    /// Makes a durable group known: bounds, listener, answers.
    fn publish(&mut self, group: Vec<AppendRequest>, records: Vec<Vec<Record>>, received: u64) {
        let bytes: usize = group.iter().map(AppendRequest::json_bytes).sum();
        let last_seq = records
            .iter()
            .flatten()
            .last()
            .map_or(self.position.last_seq, |r| r.seq);
        self.position = Position {
            last_seq,
            last_received: received,
        };
        self.shared.bounds.set_latest(last_seq);
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        self.shared.trace_index.note_committed(bytes as u64);

        for (request, records) in group.into_iter().zip(records) {
            let (Some(first), Some(last)) = (records.first(), records.last()) else {
                debug_assert!(false, "empty appends never reach the writer");
                request.reply.send(Ok(EMPTY_RANGE)).ok();
                continue;
            };
            let seqs = first.seq..=last.seq;
            let batch: CommittedBatch = Arc::from(records);
            (self.listener)(&batch);
            // The caller may have given up waiting; the records are committed all the same.
            request.reply.send(Ok(seqs)).ok();
        }
    }

    /// Answers every request of a failed group with the error.
    fn fail(&self, group: Vec<AppendRequest>, first_seq: u64, error: StoreError) {
        tracing::error!(
            %error,
            first_seq,
            requests = group.len(),
            "group commit failed; the store accepts no more appends"
        );
        let source = Arc::new(error);
        let mut next_seq = first_seq;
        for request in group {
            let count = request.events.len() as u64;
            let seqs = next_seq..=next_seq + count - 1;
            next_seq += count;
            let error = StoreError::Commit {
                seqs,
                source: Arc::clone(&source),
            };
            request.reply.send(Err(error)).ok();
        }
    }

    /// Drops trace index buckets whose records retention has evicted.
    fn drop_stale_trace_buckets(&self) {
        let shared = &*self.shared;
        let dropped = shared
            .bounds
            .first_retained(&shared.db, &shared.events)
            .and_then(|first_retained| shared.trace_index.drop_behind(first_retained));
        if let Err(error) = dropped {
            tracing::warn!(%error, "dropping evicted trace index buckets failed; will retry");
        }
    }
}
