//! The trace index: which sequence numbers belong to a trace.
//!
//! Entries are keys `trace_id (16 bytes) ++ seq (8 bytes big-endian)` with empty values, so
//! one trace is one key prefix, in sequence order. Their keys arrive in no particular order,
//! so FIFO compaction (which the `events` keyspace uses for retention) cannot hold them.
//! Instead the index is cut into buckets by sequence number: keyspace `trace.<first_seq>`
//! takes the entries from `first_seq` until the next bucket starts. A new bucket starts when
//! the current one has seen [`Retention::bucket_bytes`] of events or is older than
//! [`Retention::bucket_age`]; a bucket is dropped whole once the next one starts at or below
//! the oldest retained record, because then every record it points to is gone.
//!
//! Only the writer thread starts buckets; it and the commit path are the only writers.
//! Bucket counters start afresh after a restart, so the last bucket of the previous run may
//! grow to about twice its share.

use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};
use tracetail_model::TraceId;

use super::retention::Retention;
use crate::StoreError;

/// Name prefix of the bucket keyspaces; the rest of the name is the bucket's first seq.
const BUCKET_PREFIX: &str = "trace.";

/// Memtable size of a bucket: entries are small, and old buckets' memtables wait in memory.
const BUCKET_MEMTABLE: u64 = 4 * 1024 * 1024;

/// Length of an index key.
const KEY_LEN: usize = 24;

/// The key of one index entry.
pub(super) fn entry_key(trace_id: &TraceId, seq: u64) -> [u8; KEY_LEN] {
    let mut key = [0; KEY_LEN];
    key[..16].copy_from_slice(&trace_id.0);
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// One bucket: the entries of records from `first_seq` up to the next bucket's.
#[derive(Clone)]
struct Bucket {
    first_seq: u64,
    keyspace: Keyspace,
}

/// How much the newest bucket has taken since it started.
#[derive(Debug)]
struct Fill {
    event_bytes: u64,
    since: Instant,
}

/// The bucketed index of records by trace.
pub(super) struct TraceIndex {
    db: Database,
    /// Oldest first; the last one takes new entries.
    buckets: RwLock<Vec<Bucket>>,
    /// Fill of the last bucket; touched by the writer thread only.
    fill: Mutex<Fill>,
    bucket_bytes: u64,
    bucket_age: Duration,
}

impl TraceIndex {
    /// Finds the buckets already in `db`.
    pub(super) fn open(db: &Database, retention: &Retention) -> Result<TraceIndex, StoreError> {
        let mut buckets = Vec::new();
        for name in db.list_keyspace_names() {
            let Some(first_seq) = name
                .strip_prefix(BUCKET_PREFIX)
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            let keyspace = db.keyspace(&name, bucket_options)?;
            buckets.push(Bucket {
                first_seq,
                keyspace,
            });
        }
        buckets.sort_by_key(|bucket| bucket.first_seq);

        Ok(TraceIndex {
            db: db.clone(),
            buckets: RwLock::new(buckets),
            fill: Mutex::new(Fill {
                event_bytes: 0,
                since: Instant::now(),
            }),
            bucket_bytes: retention.bucket_bytes(),
            bucket_age: retention.bucket_age(),
        })
    }

    /// The bucket for entries from `next_seq` on, starting a new one if the current one is
    /// full or old. Called by the writer before each commit.
    pub(super) fn bucket_for(&self, next_seq: u64) -> Result<Keyspace, StoreError> {
        let mut fill = self.fill.lock().unwrap_or_else(PoisonError::into_inner);
        let due = fill.event_bytes >= self.bucket_bytes || fill.since.elapsed() >= self.bucket_age;
        let current = self.read_buckets().last().cloned();
        match current {
            Some(bucket) if !due => return Ok(bucket.keyspace),
            // Nothing was committed since it started: keep it, it is not old or full.
            Some(bucket) if bucket.first_seq == next_seq => {
                *fill = Fill {
                    event_bytes: 0,
                    since: Instant::now(),
                };
                return Ok(bucket.keyspace);
            }
            _ => {}
        }

        let name = format!("{BUCKET_PREFIX}{next_seq}");
        let keyspace = self.db.keyspace(&name, bucket_options)?;
        let bucket = Bucket {
            first_seq: next_seq,
            keyspace: keyspace.clone(),
        };
        self.buckets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(bucket);
        *fill = Fill {
            event_bytes: 0,
            since: Instant::now(),
        };
        tracing::debug!(first_seq = next_seq, "started trace index bucket");
        Ok(keyspace)
    }

    /// Counts committed event bytes towards the current bucket.
    pub(super) fn note_committed(&self, event_bytes: u64) {
        let mut fill = self.fill.lock().unwrap_or_else(PoisonError::into_inner);
        fill.event_bytes = fill.event_bytes.saturating_add(event_bytes);
    }

    /// Sequence numbers above `after` indexed under `trace_id`, in order, at most `limit`.
    pub(super) fn seqs(
        &self,
        trace_id: &TraceId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let buckets = self.read_buckets().clone();
        let mut seqs = Vec::new();
        for (index, bucket) in buckets.iter().enumerate() {
            let end = buckets
                .get(index + 1)
                .map_or(u64::MAX, |next| next.first_seq);
            if end <= start {
                continue;
            }
            let from = entry_key(trace_id, start.max(bucket.first_seq));
            for entry in bucket.keyspace.range(from..=entry_key(trace_id, u64::MAX)) {
                if seqs.len() >= limit {
                    return Ok(seqs);
                }
                let key = entry.key()?;
                let seq_bytes = key.get(16..).and_then(|bytes| bytes.try_into().ok());
                seqs.extend(seq_bytes.map(u64::from_be_bytes));
            }
        }
        Ok(seqs)
    }

    /// Drops every bucket whose records all precede `first_retained`; returns how many.
    pub(super) fn drop_behind(&self, first_retained: u64) -> Result<usize, StoreError> {
        let dropped: Vec<Bucket> = {
            let mut buckets = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
            let behind = buckets
                .windows(2)
                .take_while(|pair| pair[1].first_seq <= first_retained)
                .count();
            buckets.drain(..behind).collect()
        };
        let count = dropped.len();
        for bucket in dropped {
            tracing::debug!(first_seq = bucket.first_seq, "dropping trace index bucket");
            self.db.delete_keyspace(bucket.keyspace)?;
        }
        Ok(count)
    }

    /// The first sequence numbers of the buckets, oldest first.
    pub(super) fn first_seqs(&self) -> Vec<u64> {
        self.read_buckets()
            .iter()
            .map(|bucket| bucket.first_seq)
            .collect()
    }

    fn read_buckets(&self) -> std::sync::RwLockReadGuard<'_, Vec<Bucket>> {
        self.buckets.read().unwrap_or_else(PoisonError::into_inner)
    }
}

fn bucket_options() -> KeyspaceCreateOptions {
    KeyspaceCreateOptions::default()
        .manual_journal_persist(true)
        .max_memtable_size(BUCKET_MEMTABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(dir: &std::path::Path, size_bytes: u64) -> (Database, TraceIndex) {
        let db = Database::builder(dir).open().expect("db");
        let retention = Retention {
            size_bytes,
            age: Duration::ZERO,
        };
        let index = TraceIndex::open(&db, &retention).expect("index");
        (db, index)
    }

    fn put(db: &Database, bucket: &Keyspace, trace: u8, seq: u64) {
        let mut batch = db.batch();
        batch.insert(bucket, entry_key(&TraceId([trace; 16]), seq), []);
        batch.commit().expect("commit");
    }

    #[test]
    fn entries_are_found_across_buckets_in_order_and_after_the_cursor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, index) = index(dir.path(), 8 * 1024 * 1024);
        let first = index.bucket_for(1).expect("bucket");
        put(&db, &first, 7, 1);
        put(&db, &first, 8, 2);
        put(&db, &first, 7, 3);
        index.note_committed(2 * 1024 * 1024);
        let second = index.bucket_for(4).expect("bucket");
        put(&db, &second, 7, 4);

        assert_eq!(index.first_seqs(), vec![1, 4]);
        let trace = TraceId([7; 16]);
        assert_eq!(
            index.seqs(&trace, 0, usize::MAX).expect("seqs"),
            vec![1, 3, 4]
        );
        assert_eq!(index.seqs(&trace, 3, 2).expect("seqs"), vec![4]);
        assert_eq!(
            index.seqs(&trace, 0, 2).expect("seqs"),
            vec![1, 3],
            "a limit across buckets"
        );
        assert_eq!(
            index.seqs(&trace, u64::MAX, usize::MAX).expect("seqs"),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn a_bucket_is_reused_until_full_and_dropped_once_behind_retention() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_db, index) = index(dir.path(), 8 * 1024 * 1024);
        index.bucket_for(1).expect("bucket");
        index.note_committed(512 * 1024);
        index.bucket_for(10).expect("same bucket");
        index.note_committed(512 * 1024);
        index.bucket_for(20).expect("new bucket");
        index.note_committed(1024 * 1024);
        index.bucket_for(30).expect("new bucket");
        assert_eq!(index.first_seqs(), vec![1, 20, 30]);

        assert_eq!(index.drop_behind(19).expect("drop"), 0);
        assert_eq!(index.drop_behind(20).expect("drop"), 1);
        assert_eq!(index.drop_behind(1000).expect("drop"), 1);
        assert_eq!(
            index.first_seqs(),
            vec![30],
            "the newest bucket always stays"
        );
    }

    #[test]
    fn buckets_are_found_again_in_numeric_order_after_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let (_db, index) = index(dir.path(), 8 * 1024 * 1024);
            index.bucket_for(1).expect("bucket");
            index.note_committed(u64::MAX);
            index.bucket_for(20).expect("bucket");
            index.note_committed(u64::MAX);
            index.bucket_for(100).expect("bucket");
        }
        let (_db, index) = index(dir.path(), 8 * 1024 * 1024);
        assert_eq!(index.first_seqs(), vec![1, 20, 100]);
    }
}
