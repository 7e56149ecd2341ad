//! The grammar every stream cursor follows, whatever store issued it.
//!
//! A cursor is the `id:` of an SSE event and the value a client sends back as `Last-Event-ID`.
//! It is opaque to clients: at most 64 characters from `[0-9A-Za-z._:-]`. Which cursors a store
//! knows is the store's business; this module only says whether a text can be a cursor at all.

/// The longest cursor, in bytes.
pub const MAX_CURSOR_LEN: usize = 64;

/// Why a text is not a cursor.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    /// Empty, too long, or holding a character outside the cursor alphabet.
    #[error("malformed cursor {0:?}: a cursor is 1 to 64 characters from [0-9A-Za-z._:-]")]
    Malformed(String),
}

/// Checks the cursor grammar; the error carries the offending text (cut to 80 characters).
pub fn check_cursor(text: &str) -> Result<(), CursorError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    if text.is_empty() || text.len() > MAX_CURSOR_LEN || !text.bytes().all(allowed) {
        return Err(CursorError::Malformed(text.chars().take(80).collect()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_alphabet_and_length_are_enforced() {
        assert!(check_cursor("a1b2c3d4-42").is_ok());
        assert!(check_cursor("x.y_z:0-9").is_ok());
        assert!(check_cursor(&"a".repeat(64)).is_ok());
        assert!(check_cursor(&"a".repeat(65)).is_err());
        assert!(check_cursor("").is_err());
        assert!(check_cursor("a b").is_err());
        assert!(check_cursor("a\nb").is_err());
        assert!(check_cursor("ü").is_err());
    }
}
