//! W3C trace and span ids: 16 and 8 bytes, written as lower-case hex.

use std::fmt;
use std::str::FromStr;

/// Why bytes or text are not a valid trace or span id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// The id has the wrong number of bytes.
    #[error("{kind} must be {expected} bytes, got {actual}")]
    Length {
        /// `trace_id` or `span_id`.
        kind: &'static str,
        /// The length the id must have.
        expected: usize,
        /// The length it had.
        actual: usize,
    },
    /// Hexadecimal text of the wrong number of digits.
    #[error("{kind} {text:?} must be {expected} hexadecimal digits, got {actual}")]
    HexLength {
        /// `trace_id` or `span_id`.
        kind: &'static str,
        /// The text, at most 80 characters of it.
        text: String,
        /// The number of digits the id must have.
        expected: usize,
        /// The number it had.
        actual: usize,
    },
    /// Every byte is zero, which W3C Trace Context reserves for "no id".
    #[error("{kind} is all zeros")]
    AllZeros {
        /// `trace_id` or `span_id`.
        kind: &'static str,
    },
    /// The text is not hexadecimal.
    #[error("{kind} {text:?} is not hexadecimal")]
    NotHex {
        /// `trace_id` or `span_id`.
        kind: &'static str,
        /// The offending text.
        text: String,
    },
}

macro_rules! define_id {
    ($name:ident, $len:expr, $kind:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Checks length and the all-zero rule.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
                let array: [u8; $len] = bytes.try_into().map_err(|_| IdError::Length {
                    kind: $kind,
                    expected: $len,
                    actual: bytes.len(),
                })?;
                if array.iter().all(|&b| b == 0) {
                    return Err(IdError::AllZeros { kind: $kind });
                }
                Ok(Self(array))
            }

            /// Reads hex text in either case.
            pub fn from_hex(text: &str) -> Result<Self, IdError> {
                let digits = text.len();
                if digits != 2 * $len && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(IdError::HexLength {
                        kind: $kind,
                        text: text.chars().take(80).collect(),
                        expected: 2 * $len,
                        actual: digits,
                    });
                }
                let bytes = hex::decode(text).map_err(|_| IdError::NotHex {
                    kind: $kind,
                    text: text.chars().take(80).collect(),
                })?;
                Self::from_bytes(&bytes)
            }

            /// The lower-case hex form.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::from_hex(text)
            }
        }
    };
}

define_id!(
    TraceId,
    16,
    "trace_id",
    "A W3C trace id: 16 bytes, never all zeros."
);
define_id!(
    SpanId,
    8,
    "span_id",
    "A W3C span id: 8 bytes, never all zeros."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_read_in_either_case_and_written_lower_case() {
        let id: TraceId = "4BF92F3577B34DA6A3CE929D0E0E4736"
            .parse()
            .expect("valid id");
        assert_eq!(id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn wrong_length_and_all_zero_ids_are_refused() {
        assert!(matches!(
            TraceId::from_bytes(&[1; 8]),
            Err(IdError::Length { .. })
        ));
        assert!(matches!(
            SpanId::from_bytes(&[0; 8]),
            Err(IdError::AllZeros { .. })
        ));
        assert!(matches!(
            SpanId::from_hex("zz"),
            Err(IdError::NotHex { .. })
        ));
        let short = TraceId::from_hex("abc").expect_err("3 digits");
        assert_eq!(
            short.to_string(),
            "trace_id \"abc\" must be 32 hexadecimal digits, got 3"
        );
    }
}
