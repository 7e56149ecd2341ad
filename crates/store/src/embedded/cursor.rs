//! Cursors of the embedded log: `{epoch}-{seq}`, e.g. `3fa2c0d1-42`.
//!
//! The epoch is 8 lower-case hex characters drawn at random when the data directory is
//! created, so a cursor issued before the directory was wiped (or by another deployment) is
//! recognised as foreign instead of being taken for a position in the new log. The sequence
//! number is plain decimal without sign or leading zeros: exactly what [`Epoch::cursor`]
//! writes, so every position has one spelling.

use std::fmt;

use crate::Located;

/// Length of an epoch in hex characters.
const EPOCH_LEN: usize = 8;

/// The random id of one incarnation of a data directory.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Epoch(String);

impl Epoch {
    /// Draws a fresh epoch.
    pub(super) fn draw() -> Epoch {
        Epoch(format!("{:08x}", rand::random::<u32>()))
    }

    /// Reads a stored epoch; `None` unless it is exactly 8 lower-case hex characters.
    pub(super) fn parse(text: &[u8]) -> Option<Epoch> {
        if !is_epoch(text) {
            return None;
        }
        let text = std::str::from_utf8(text).expect("hex digits are ASCII");
        Some(Epoch(text.to_owned()))
    }

    /// The epoch as text, as stored.
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor of `seq`.
    pub(super) fn cursor(&self, seq: u64) -> String {
        format!("{}-{seq}", self.0)
    }

    /// Where `cursor` points in this epoch; [`Located::Foreign`] for a cursor of another
    /// epoch, [`Located::Malformed`] for anything no epoch would have written.
    pub(super) fn locate(&self, cursor: &str) -> Located {
        let Some((epoch, seq_text)) = cursor.split_once('-') else {
            return Located::Malformed;
        };
        match parse_canonical_decimal(seq_text) {
            Some(seq) if epoch == self.0 => Located::Seq(seq),
            Some(_) if is_epoch(epoch.as_bytes()) => Located::Foreign,
            _ => Located::Malformed,
        }
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Epoch({})", self.0)
    }
}

/// Whether `text` is shaped like an epoch: exactly 8 lower-case hex characters.
fn is_epoch(text: &[u8]) -> bool {
    let is_lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    text.len() == EPOCH_LEN && text.iter().all(is_lower_hex)
}

/// Parses decimal digits with no sign and no leading zero (other than `0` itself).
fn parse_canonical_decimal(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if !digits_only || leading_zero {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch() -> Epoch {
        Epoch::parse(b"3fa2c0d1").expect("valid epoch")
    }

    #[test]
    fn drawn_epochs_are_eight_lower_case_hex_characters() {
        for _ in 0..100 {
            let drawn = Epoch::draw();
            assert_eq!(Epoch::parse(drawn.as_str().as_bytes()), Some(drawn));
        }
    }

    #[test]
    fn stored_epochs_must_be_eight_lower_case_hex_characters() {
        for bad in [
            &b""[..],
            b"3fa2c0d",
            b"3fa2c0d12",
            b"3FA2C0D1",
            b"3fa2c0dg",
            b"3fa2-0d1",
        ] {
            assert_eq!(Epoch::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cursor_and_locate_round_trip() {
        let epoch = epoch();
        for seq in [0, 1, 42, u64::MAX] {
            let cursor = epoch.cursor(seq);
            assert!(tracetail_model::check_cursor(&cursor).is_ok());
            assert_eq!(epoch.locate(&cursor), Located::Seq(seq));
        }
        assert_eq!(epoch.cursor(42), "3fa2c0d1-42");
    }

    #[test]
    fn cursors_of_other_epochs_are_foreign_and_odd_spellings_malformed() {
        let epoch = epoch();
        for cursor in ["0000beef-42", "3fa2c0d2-0", "ffffffff-18446744073709551615"] {
            assert_eq!(epoch.locate(cursor), Located::Foreign, "{cursor}");
        }
        let malformed = [
            "garbage",
            "null",
            "abc-def",
            "3fa2c0d1-abc",
            "3fa2c0d1",
            "3fa2c0d1-",
            "3fa2c0d1-+42",
            "3fa2c0d1--42",
            "3fa2c0d1-042",
            "3fa2c0d1-4x2",
            "3fa2c0d1-18446744073709551616",
            "3fa2c0d1:42",
            "3fa2c0d10-42",
            "3FA2C0D1-42",
        ];
        for cursor in malformed {
            assert_eq!(epoch.locate(cursor), Located::Malformed, "{cursor}");
        }
    }
}
