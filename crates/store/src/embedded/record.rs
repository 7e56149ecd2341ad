//! How one record lies in the `events` keyspace.
//!
//! - key: the sequence number, 8 bytes big-endian, so key order is sequence order (which FIFO
//!   compaction needs: it only ever drops the oldest tables, and assumes tables never overlap);
//! - value: `received_nanos`, 8 bytes big-endian, then the event JSON with its cursor as `id`.
//!
//! The receive time sits in front of the JSON so time bounds and bisection read it without
//! parsing anything.

use bytes::Bytes;
use tracetail_model::span::record_kind;
use tracetail_model::{EventView, RecordKind};

use crate::{Record, StoreError};

/// Bytes of the receive-time header in front of each value.
const HEADER_LEN: usize = 8;

/// The key of sequence number `seq`.
pub(super) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Writes the stored value of a record received at `received_nanos` into `value`, replacing
/// what it held, so one buffer serves a whole commit.
pub(super) fn encode_value(value: &mut Vec<u8>, received_nanos: u64, json: &[u8]) {
    value.clear();
    value.extend_from_slice(&received_nanos.to_be_bytes());
    value.extend_from_slice(json);
}

/// A record read from the engine, borrowing its bytes until it is known to be wanted.
#[derive(Debug, Clone, Copy)]
pub(super) struct StoredRecord<'a> {
    /// Its sequence number.
    pub(super) seq: u64,
    /// When the store accepted it.
    pub(super) received_nanos: u64,
    /// The event JSON.
    pub(super) json: &'a [u8],
}

impl<'a> StoredRecord<'a> {
    /// Splits a key and value as written by [`seq_key`] and [`encode_value`].
    pub(super) fn decode(key: &[u8], value: &'a [u8]) -> Result<StoredRecord<'a>, StoreError> {
        let truncated = || StoreError::TruncatedRecord {
            key: hex_of(key),
            len: value.len(),
        };
        let seq = u64::from_be_bytes(key.try_into().map_err(|_| truncated())?);
        let (header, json) = value
            .split_first_chunk::<HEADER_LEN>()
            .ok_or_else(truncated)?;
        Ok(StoredRecord {
            seq,
            received_nanos: u64::from_be_bytes(*header),
            json,
        })
    }

    /// A log event or a span.
    pub(super) fn kind(&self) -> RecordKind {
        record_kind(self.json)
    }

    /// The fields filters read.
    pub(super) fn view(&self) -> Result<EventView<'a>, StoreError> {
        EventView::parse(self.json).map_err(|source| StoreError::Corrupt {
            seq: self.seq,
            source,
        })
    }

    /// An owned copy.
    pub(super) fn to_record(self) -> Record {
        Record {
            seq: self.seq,
            received_nanos: self.received_nanos,
            json: Bytes::copy_from_slice(self.json),
            keys: None,
        }
    }
}

/// Lower-case hex of a short byte string, for error messages.
fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_in_sequence_order() {
        let seqs = [0, 1, 255, 256, 70_000, u64::MAX - 1, u64::MAX];
        let keys: Vec<[u8; 8]> = seqs.iter().map(|&seq| seq_key(seq)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn a_value_decodes_back_to_its_parts() {
        let mut value = b"left over".to_vec();
        encode_value(&mut value, 1_700_000_000_000_000_000, br#"{"id":"x-7"}"#);
        let record = StoredRecord::decode(&seq_key(7), &value).expect("decodes");
        assert_eq!(record.seq, 7);
        assert_eq!(record.received_nanos, 1_700_000_000_000_000_000);
        assert_eq!(record.json, br#"{"id":"x-7"}"#);
        assert_eq!(
            record.to_record().json,
            Bytes::from_static(br#"{"id":"x-7"}"#)
        );
    }

    #[test]
    fn short_keys_and_values_are_reported_with_the_key() {
        let error = StoredRecord::decode(&seq_key(9), &[1, 2, 3]).expect_err("short value");
        assert_eq!(
            error.to_string(),
            "stored record with key 0000000000000009 holds 3 bytes, too few for a record"
        );
        assert!(StoredRecord::decode(&[1, 2], &[0; 12]).is_err());
    }

    #[test]
    fn json_that_is_not_an_event_is_reported_as_corrupt() {
        let mut value = Vec::new();
        encode_value(&mut value, 5, b"not json");
        let record = StoredRecord::decode(&seq_key(3), &value).expect("decodes");
        assert!(matches!(
            record.view(),
            Err(StoreError::Corrupt { seq: 3, .. })
        ));
    }
}
