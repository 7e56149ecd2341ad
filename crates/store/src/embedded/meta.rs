//! The `meta` keyspace: what the log remembers besides its records.
//!
//! - `epoch`: the 8 hex characters of [`Epoch`], drawn when the directory is created;
//! - `position`: the last assigned sequence number and its receive time, 8 bytes big-endian
//!   each, rewritten in every commit batch together with the records, so numbering continues
//!   after a restart even when retention has evicted every record;
//! - `first_retained`: the oldest record retention had left at the last commit (or close),
//!   8 bytes big-endian. After a restart the engine may replay records that retention had
//!   already evicted from its journal (when eviction emptied the keyspace, nothing tells it
//!   they were flushed); the log keeps treating everything below this as evicted, so the
//!   oldest record never moves backwards;
//! - `retention`: the retention the `events` keyspace was created with (see
//!   [`Retention::encode`]).

use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};

use super::cursor::Epoch;
use super::record::StoredRecord;
use super::retention::Retention;
use crate::StoreError;

const EPOCH: &str = "epoch";
const POSITION: &str = "position";
const FIRST_RETAINED: &str = "first_retained";
const RETENTION: &str = "retention";

/// Options of the `meta` keyspace: small memtables (it holds three keys, rewritten often).
pub(super) fn options() -> KeyspaceCreateOptions {
    KeyspaceCreateOptions::default()
        .manual_journal_persist(true)
        .max_memtable_size(1024 * 1024)
}

/// Where numbering stands: the last sequence number handed out and when it was received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Position {
    /// The last assigned sequence number; 0 before the first.
    pub(super) last_seq: u64,
    /// Its receive time; receive times never go below it.
    pub(super) last_received: u64,
}

impl Position {
    fn encode(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.last_seq.to_be_bytes());
        bytes[8..].copy_from_slice(&self.last_received.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Position> {
        let (seq, received) = bytes.split_first_chunk::<8>()?;
        let received: [u8; 8] = received.try_into().ok()?;
        Some(Position {
            last_seq: u64::from_be_bytes(*seq),
            last_received: u64::from_be_bytes(received),
        })
    }
}

/// The directory's epoch, drawn and synced to disk if this is a new directory.
pub(super) fn load_or_create_epoch(db: &Database, meta: &Keyspace) -> Result<Epoch, StoreError> {
    if let Some(stored) = meta.get(EPOCH)? {
        return Epoch::parse(&stored).ok_or_else(|| corrupt(EPOCH, &stored));
    }
    let epoch = Epoch::draw();
    meta.insert(EPOCH, epoch.as_str())?;
    db.persist(PersistMode::SyncAll)?;
    Ok(epoch)
}

/// Where numbering stands, from `meta` and, should the log ever be ahead of it, the last
/// record.
pub(super) fn load_position(meta: &Keyspace, events: &Keyspace) -> Result<Position, StoreError> {
    let stored = match meta.get(POSITION)? {
        Some(bytes) => Position::decode(&bytes).ok_or_else(|| corrupt(POSITION, &bytes))?,
        None => Position::default(),
    };
    let Some(last) = events.last_key_value() else {
        return Ok(stored);
    };
    let (key, value) = last.into_inner()?;
    let last = StoredRecord::decode(&key, &value)?;
    if last.seq <= stored.last_seq {
        return Ok(stored);
    }
    Ok(Position {
        last_seq: last.seq,
        last_received: last.received_nanos,
    })
}

/// Adds the new position to a commit batch.
pub(super) fn put_position(batch: &mut OwnedWriteBatch, meta: &Keyspace, position: Position) {
    batch.insert(meta, POSITION, position.encode());
}

/// The oldest record retained when last recorded; 1 if never.
pub(super) fn load_first_retained(meta: &Keyspace) -> Result<u64, StoreError> {
    let Some(bytes) = meta.get(FIRST_RETAINED)? else {
        return Ok(1);
    };
    let array: [u8; 8] = (*bytes)
        .try_into()
        .map_err(|_| corrupt(FIRST_RETAINED, &bytes))?;
    Ok(u64::from_be_bytes(array))
}

/// Adds the oldest retained record to a commit batch.
pub(super) fn put_first_retained(batch: &mut OwnedWriteBatch, meta: &Keyspace, seq: u64) {
    batch.insert(meta, FIRST_RETAINED, seq.to_be_bytes());
}

/// Records the oldest retained record outside a commit (at close); the caller syncs.
pub(super) fn store_first_retained(meta: &Keyspace, seq: u64) -> Result<(), StoreError> {
    meta.insert(FIRST_RETAINED, seq.to_be_bytes())?;
    Ok(())
}

/// The retention in force: the one stored when the directory was created, else `requested`
/// (which is then stored). A different request for an existing directory is logged and not
/// applied, because the engine keeps the `events` keyspace's compaction settings from its
/// creation.
pub(super) fn settle_retention(
    db: &Database,
    meta: &Keyspace,
    requested: Retention,
) -> Result<Retention, StoreError> {
    let Some(stored) = meta.get(RETENTION)? else {
        meta.insert(RETENTION, requested.encode())?;
        db.persist(PersistMode::SyncAll)?;
        return Ok(requested);
    };
    let stored = Retention::decode(&stored).ok_or_else(|| corrupt(RETENTION, &stored))?;
    if stored != requested {
        tracing::warn!(
            stored_size_bytes = stored.size_bytes,
            stored_age_secs = stored.age.as_secs(),
            requested_size_bytes = requested.size_bytes,
            requested_age_secs = requested.age.as_secs(),
            "retention of an existing data directory cannot change; keeping the stored one"
        );
    }
    Ok(stored)
}

fn corrupt(key: &'static str, value: &[u8]) -> StoreError {
    StoreError::CorruptMeta {
        key,
        value: String::from_utf8_lossy(value).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_round_trips_through_its_stored_form() {
        let position = Position {
            last_seq: 42,
            last_received: 1_700_000_000_000_000_000,
        };
        assert_eq!(Position::decode(&position.encode()), Some(position));
        assert_eq!(Position::decode(&[0; 8]), None);
    }

    #[test]
    fn a_damaged_epoch_is_reported_with_its_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::builder(dir.path()).open().expect("db");
        let meta = db.keyspace("meta", options).expect("meta");
        meta.insert(EPOCH, "XYZ").expect("insert");
        let error = load_or_create_epoch(&db, &meta).expect_err("damaged");
        assert_eq!(
            error.to_string(),
            r#"stored metadata epoch is damaged: "XYZ""#
        );
    }

    #[test]
    fn a_changed_retention_keeps_the_stored_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::builder(dir.path()).open().expect("db");
        let meta = db.keyspace("meta", options).expect("meta");
        let first = Retention {
            size_bytes: 1 << 20,
            age: std::time::Duration::from_secs(60),
        };
        let second = Retention {
            size_bytes: 1 << 30,
            ..first
        };
        assert_eq!(settle_retention(&db, &meta, first).expect("first"), first);
        assert_eq!(settle_retention(&db, &meta, second).expect("second"), first);
    }
}
