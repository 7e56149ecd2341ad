//! Server-Sent Events framing.
//!
//! Every frame is built once, as [`Bytes`], and shared by every subscriber that receives it.
//! A frame is always a whole event ending in a blank line, so a body can concatenate frames
//! into one write without a reader ever seeing half an event.
//!
//! Safety of the framing rests on one rule: no field value contains CR or LF. Cursors cannot
//! (see [`crate::cursor`]), event names are constants, and data is JSON as written by
//! `serde_json`, which escapes every control character inside strings.

use bytes::{BufMut, Bytes, BytesMut};

/// One event: `id:` (when given), `event:`, one `data:` line, and the blank line that ends it.
pub fn frame(id: Option<&str>, event: &str, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(frame_len(id, event, data));
    write_frame(&mut out, id, event, data);
    out.freeze()
}

/// The length of [`frame`]'s output for these fields.
pub fn frame_len(id: Option<&str>, event: &str, data: &[u8]) -> usize {
    let id_len = id.map_or(0, |id| id.len() + 5);
    id_len + event.len() + data.len() + 16
}

/// Appends the frame [`frame`] would build to `out`, so frames of one batch can share one
/// buffer.
pub fn write_frame(out: &mut BytesMut, id: Option<&str>, event: &str, data: &[u8]) {
    debug_assert!(
        !event.contains(['\r', '\n']),
        "event names are single-line constants"
    );
    debug_assert!(
        !data.contains(&b'\n') && !data.contains(&b'\r'),
        "data must be one line"
    );

    out.reserve(frame_len(id, event, data));
    if let Some(id) = id {
        debug_assert!(!id.contains(['\r', '\n', '\0']), "cursors are single-line");
        out.put_slice(b"id: ");
        out.put_slice(id.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_slice(b"event: ");
    out.put_slice(event.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(data);
    out.put_slice(b"\n\n");
}

/// The `retry:` field that opens every stream, telling clients how long to wait to reconnect.
pub fn retry(millis: u64) -> Bytes {
    Bytes::from(format!("retry: {millis}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_id_event_and_one_data_line() {
        let bytes = frame(Some("c-1"), "log", br#"{"a":1}"#);
        assert_eq!(&bytes[..], b"id: c-1\nevent: log\ndata: {\"a\":1}\n\n");
    }

    #[test]
    fn frame_without_id_has_no_id_field() {
        assert_eq!(
            &frame(None, "heartbeat", b"{}")[..],
            b"event: heartbeat\ndata: {}\n\n"
        );
        assert_eq!(&retry(3000)[..], b"retry: 3000\n\n");
    }

    #[test]
    fn frame_len_is_the_length_written() {
        for id in [None, Some("00000001-42")] {
            let data = br#"{"message":"hi"}"#;
            assert_eq!(frame(id, "log", data).len(), frame_len(id, "log", data));
        }
    }
}
