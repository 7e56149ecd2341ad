//! Retention by size and age, without deleting records one by one.
//!
//! The `events` keyspace uses FIFO compaction: the engine drops whole tables, oldest first,
//! once the keyspace passes [`Retention::size_bytes`] on disk, and drops tables written longer
//! than [`Retention::age`] ago. Both happen in the engine's background compaction, after a
//! memtable is flushed, so the oldest record moves on its own; [`BoundsTracker`] notices.
//!
//! The memtable is sized at an eighth of the retention (1 to 64 MiB), so a small retention
//! flushes, and therefore evicts, in steps of about an eighth of its size. The trace index
//! cannot use FIFO (its keys are not in sequence order); it is cut into buckets of about the
//! same eighth, each dropped whole once the records it points to are gone (see
//! [`super::trace_index`]).
//!
//! The engine stores a keyspace's compaction settings when the keyspace is created, so the
//! retention of an existing data directory is the one it was created with; see
//! [`super::meta::settle_retention`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use fjall::compaction::Fifo;
use fjall::{Database, Keyspace, KeyspaceCreateOptions};

use super::record::StoredRecord;
use crate::{Bounds, StoreError};

const MIB: u64 = 1024 * 1024;

/// Bucket age when the retention has no age limit.
const UNLIMITED_AGE_BUCKET: Duration = Duration::from_secs(3600);

/// How much of the log to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Retention {
    /// Bytes of records on disk (compressed); 0 keeps any amount.
    pub(super) size_bytes: u64,
    /// Age of records; zero keeps them forever. Whole seconds count.
    pub(super) age: Duration,
}

impl Retention {
    /// Options of the `events` keyspace: FIFO with this size and age, and syncs left to the
    /// writer's group commit.
    pub(super) fn events_options(&self) -> KeyspaceCreateOptions {
        let limit = if self.size_bytes == 0 {
            u64::MAX
        } else {
            self.size_bytes
        };
        let ttl_seconds = (!self.age.is_zero()).then(|| self.age.as_secs().max(1));
        KeyspaceCreateOptions::default()
            .compaction_strategy(Arc::new(Fifo::new(limit, ttl_seconds)))
            .manual_journal_persist(true)
            .max_memtable_size(self.memtable_size())
    }

    /// An eighth of the size limit, between 1 and 64 MiB.
    pub(super) fn memtable_size(&self) -> u64 {
        if self.size_bytes == 0 {
            return 64 * MIB;
        }
        (self.size_bytes / 8).clamp(MIB, 64 * MIB)
    }

    /// Most bytes of engine journal kept, between 64 MiB (the engine's least) and 512 MiB (its
    /// default): journals hold records until every keyspace has flushed them, and idle trace
    /// buckets flush only when the journal reaches this limit.
    pub(super) fn journal_limit(&self) -> u64 {
        if self.size_bytes == 0 {
            return 512 * MIB;
        }
        self.size_bytes.clamp(64 * MIB, 512 * MIB)
    }

    /// Event bytes a trace index bucket covers before the next one starts.
    pub(super) fn bucket_bytes(&self) -> u64 {
        if self.size_bytes == 0 {
            return u64::MAX;
        }
        (self.size_bytes / 8).max(MIB)
    }

    /// How long a trace index bucket takes entries before the next one starts.
    pub(super) fn bucket_age(&self) -> Duration {
        if self.age.is_zero() {
            return UNLIMITED_AGE_BUCKET;
        }
        (self.age / 8).max(Duration::from_secs(1))
    }

    /// The stored form: size, then age in seconds, both 8 bytes big-endian.
    pub(super) fn encode(&self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.size_bytes.to_be_bytes());
        bytes[8..].copy_from_slice(&self.age.as_secs().to_be_bytes());
        bytes
    }

    /// Reads [`Retention::encode`]'s output back.
    pub(super) fn decode(bytes: &[u8]) -> Option<Retention> {
        let (size, age) = bytes.split_first_chunk::<8>()?;
        let age: [u8; 8] = age.try_into().ok()?;
        Some(Retention {
            size_bytes: u64::from_be_bytes(*size),
            age: Duration::from_secs(u64::from_be_bytes(age)),
        })
    }
}

/// The log's bounds, kept without a lookup per call.
///
/// `latest` is set by the writer after each commit. The oldest record changes only when
/// compaction drops tables, so it is looked up again (one first-key read) only when the
/// engine has finished a compaction since the last look.
#[derive(Debug)]
pub(super) struct BoundsTracker {
    /// The latest committed sequence number; 0 before the first.
    latest: AtomicU64,
    /// The first sequence number still retained, or `latest + 1` (as of the last look) when
    /// nothing is. Never decreases: eviction only ever removes the oldest records.
    first_retained: AtomicU64,
    /// The engine's count of finished compactions at the last look; `usize::MAX` for never.
    looked_at_compactions: AtomicUsize,
}

impl BoundsTracker {
    /// Bounds of a log whose last assigned sequence number is `latest`, and where nothing
    /// below `first_retained` counts as retained (whatever the engine still holds).
    pub(super) fn new(latest: u64, first_retained: u64) -> BoundsTracker {
        BoundsTracker {
            latest: AtomicU64::new(latest),
            first_retained: AtomicU64::new(first_retained.max(1)),
            looked_at_compactions: AtomicUsize::new(usize::MAX),
        }
    }

    /// Records a commit; call before anyone hears of it.
    pub(super) fn set_latest(&self, latest: u64) {
        self.latest.store(latest, Ordering::Release);
    }

    /// The latest committed sequence number.
    pub(super) fn latest(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }

    /// The current bounds.
    pub(super) fn bounds(&self, db: &Database, events: &Keyspace) -> Result<Bounds, StoreError> {
        self.first_retained(db, events)?;
        Ok(self.last_known())
    }

    /// The first retained sequence number as of the last look, without reading the engine.
    /// Records below it are gone, or replayed by the engine after eviction and to be ignored.
    pub(super) fn known_first_retained(&self) -> u64 {
        self.first_retained.load(Ordering::Acquire)
    }

    /// The bounds as of the last look, without reading the engine.
    pub(super) fn last_known(&self) -> Bounds {
        let first_retained = self.first_retained.load(Ordering::Acquire);
        let latest = self.latest();
        Bounds {
            oldest: (first_retained <= latest).then_some(first_retained),
            latest,
        }
    }

    /// The first sequence number still retained, or one past the latest if none is.
    pub(super) fn first_retained(
        &self,
        db: &Database,
        events: &Keyspace,
    ) -> Result<u64, StoreError> {
        let compactions = db.compactions_completed();
        if compactions == self.looked_at_compactions.load(Ordering::Acquire) {
            return Ok(self.first_retained.load(Ordering::Acquire));
        }

        // Read `latest` before the first key: if the keyspace is empty now, every record up to
        // this `latest` has been evicted.
        let latest = self.latest();
        let first = match events.first_key_value() {
            Some(guard) => {
                let (key, value) = guard.into_inner()?;
                StoredRecord::decode(&key, &value)?.seq
            }
            None => latest + 1,
        };
        let first_retained = self
            .first_retained
            .fetch_max(first, Ordering::AcqRel)
            .max(first);
        self.looked_at_compactions
            .store(compactions, Ordering::Release);
        Ok(first_retained)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memtables_and_journals_follow_the_retention_within_limits() {
        let sized = |size_bytes| Retention {
            size_bytes,
            age: Duration::ZERO,
        };
        assert_eq!(sized(256 * 1024).memtable_size(), MIB);
        assert_eq!(sized(80 * MIB).memtable_size(), 10 * MIB);
        assert_eq!(sized(100 * 1024 * MIB).memtable_size(), 64 * MIB);
        assert_eq!(sized(0).memtable_size(), 64 * MIB);
        assert_eq!(sized(256 * 1024).journal_limit(), 64 * MIB);
        assert_eq!(sized(0).journal_limit(), 512 * MIB);
    }

    #[test]
    fn buckets_are_an_eighth_of_the_retention() {
        let retention = Retention {
            size_bytes: 800 * MIB,
            age: Duration::from_secs(80),
        };
        assert_eq!(retention.bucket_bytes(), 100 * MIB);
        assert_eq!(retention.bucket_age(), Duration::from_secs(10));

        let unlimited = Retention {
            size_bytes: 0,
            age: Duration::ZERO,
        };
        assert_eq!(unlimited.bucket_bytes(), u64::MAX);
        assert_eq!(unlimited.bucket_age(), UNLIMITED_AGE_BUCKET);
    }

    #[test]
    fn retention_round_trips_through_its_stored_form() {
        let retention = Retention {
            size_bytes: 12345,
            age: Duration::from_secs(86400),
        };
        assert_eq!(Retention::decode(&retention.encode()), Some(retention));
        assert_eq!(Retention::decode(&[0; 15]), None);
        assert_eq!(Retention::decode(&[0; 17]), None);
    }
}
