//! An incremental `text/event-stream` parser, following the WHATWG HTML standard's "event
//! stream interpretation" (section 9.2.6), fed arbitrary byte chunks as they arrive.
//!
//! The parser owns everything between bytes and events:
//!
//! - **Lines** end with CR, LF or CRLF. A CR that ends one chunk and an LF that starts the
//!   next are one line end, not two. Bytes after the last line end wait for the next chunk.
//! - **Decoding** is UTF-8, one line at a time once the line is complete, so a character split
//!   across chunks arrives intact, and invalid bytes become U+FFFD. Splitting at CR and LF
//!   before decoding gives the same text as decoding the whole stream, because neither byte
//!   can be part of a multi-byte sequence. A UTF-8 BOM is dropped only at the very start.
//! - **Fields**: a line starting with `:` is a comment; a line without a colon is a field
//!   name with an empty value; one space after the colon is removed, and only one. `event`
//!   sets the type (default `message`), `data` lines are joined with LF, an `id` containing
//!   NUL is ignored, and `retry` counts only when it is all ASCII digits. Field names are
//!   case-sensitive; unknown fields are ignored.
//! - **Dispatch** happens at a blank line. An event without data is not dispatched, but its
//!   `id` still counts (see below). A half event when the stream ends is discarded.
//!
//! # The resume cursor
//!
//! An `id:` line sets the *last event ID buffer* at once. Each blank line then commits that
//! buffer as the stream's *last event ID* ([`Parser::last_event_id`]), whether or not the
//! block had data, exactly as a browser's `EventSource` does; dispatched events carry the
//! committed value. The committed value is the resume cursor: what a reconnect sends as
//! `Last-Event-ID`. Because only a blank line commits, the `id:` of a half event cut off by
//! the end of the stream never becomes the cursor, and an empty `id:` followed by a blank
//! line resets the cursor to empty (a reconnect then sends no `Last-Event-ID`).
//!
//! # Bounded memory
//!
//! An event whose data would pass the size limit is not buffered: its data is dropped as soon
//! as it passes the limit, and at its blank line the parser yields [`EventTooLarge`] instead
//! of the event. Any single line longer than the limit plus [`LINE_SLACK`] bytes is cut there
//! and poisons its event the same way (comments are simply skipped). The oversized event's
//! `id` still commits, so a reconnect does not ask for it again.

use std::collections::VecDeque;
use std::time::Duration;

/// The default limit on the data of one event: 16 MiB, twice the largest request body a hub
/// takes by default (its `--max-body`, 8 MiB), leaving room for the fields and escapes the hub
/// adds to a record that filled a body. A hub with a larger `--max-body` needs a larger limit.
pub const DEFAULT_EVENT_SIZE_LIMIT: usize = 16 << 20;

/// Room for a field name and its colon on a line that carries a value of the limit's size.
pub const LINE_SLACK: usize = 64;

/// The UTF-8 encoding of U+FEFF, dropped when it starts the stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, else `message`.
    pub event_type: String,
    /// The `data:` lines, joined with LF.
    pub data: String,
    /// The stream's last event ID when the event was dispatched (empty when none).
    pub last_event_id: String,
}

/// An event skipped because its data, or one of its lines, passed the size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event {event_type:?} with id {last_event_id:?} is larger than the limit of {limit} bytes \
     and was skipped"
)]
pub struct EventTooLarge {
    /// The limit, in bytes.
    pub limit: usize,
    /// The event's type, as far as it was read.
    pub event_type: String,
    /// The stream's last event ID after the skipped event.
    pub last_event_id: String,
}

/// The parser of one stream. Feed it with [`Parser::feed`], take what it found with
/// [`Parser::next_event`], and call [`Parser::finish`] when the stream ends.
#[derive(Debug)]
pub struct Parser {
    /// The limit on one event's data, in bytes.
    limit: usize,
    /// BOM bytes matched so far while the stream is still at its start; `None` after.
    bom_matched: Option<usize>,
    /// The line being assembled, never longer than `limit + LINE_SLACK`.
    line: Vec<u8>,
    /// The line being assembled was cut at the line limit.
    line_overflowed: bool,
    /// The last byte seen was a CR, so an LF right after it ends no line.
    after_cr: bool,
    /// The data buffer: each `data:` value followed by LF.
    data: String,
    /// The event type buffer.
    event_type: String,
    /// The last event ID buffer.
    id_buffer: String,
    /// The event being read passed the limit and will be reported, not dispatched.
    oversized: bool,
    /// The last event ID committed by the last blank line: the resume cursor.
    last_event_id: String,
    /// The reconnection time from the last valid `retry:` field.
    reconnection_time: Option<Duration>,
    /// Events and errors found and not yet taken.
    ready: VecDeque<Result<SseEvent, EventTooLarge>>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(DEFAULT_EVENT_SIZE_LIMIT)
    }
}

impl Parser {
    /// A parser for a new stream whose events may carry up to `limit` bytes of data.
    pub fn new(limit: usize) -> Parser {
        Parser {
            limit,
            bom_matched: Some(0),
            line: Vec::new(),
            line_overflowed: false,
            after_cr: false,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            oversized: false,
            last_event_id: String::new(),
            reconnection_time: None,
            ready: VecDeque::new(),
        }
    }

    /// Starts from a known last event ID, as a reconnected stream does: events without an
    /// `id:` of their own carry it, and it stays the cursor until the server sends another.
    #[must_use]
    pub fn with_last_event_id(mut self, cursor: &str) -> Parser {
        self.set_last_event_id(cursor);
        self
    }

    /// Replaces both the last event ID buffer and the committed last event ID.
    pub fn set_last_event_id(&mut self, cursor: &str) {
        cursor.clone_into(&mut self.id_buffer);
        cursor.clone_into(&mut self.last_event_id);
    }

    /// The resume cursor: the last event ID committed by the last blank line (see the module
    /// docs). Empty when there is none.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time of the last valid `retry:` field, if any.
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.reconnection_time
    }

    /// Bytes of buffer memory the parser holds, for checking that memory stays bounded.
    pub fn buffered_bytes(&self) -> usize {
        self.line.capacity() + self.data.capacity() + self.event_type.capacity()
    }

    /// Takes the next event or skipped-event error found so far, in stream order.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, EventTooLarge>> {
        self.ready.pop_front()
    }

    /// Reads one chunk of the stream, of any size, split anywhere.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = self.skip_bom(chunk);
        while let Some((&first, after_first)) = rest.split_first() {
            // The LF of a CRLF whose CR ended the previous line (or chunk).
            if std::mem::take(&mut self.after_cr) && first == b'\n' {
                rest = after_first;
                continue;
            }
            let Some(end) = rest.iter().position(|&byte| byte == b'\r' || byte == b'\n') else {
                self.append(rest);
                return;
            };
            self.append(&rest[..end]);
            self.after_cr = rest[end] == b'\r';
            self.end_line();
            rest = &rest[end + 1..];
        }
    }

    /// Ends the stream: a half line and a half event are discarded, and the cursor stays
    /// where the last blank line left it. Returns whether anything was discarded.
    pub fn finish(&mut self) -> bool {
        let discarded = !self.line.is_empty()
            || !self.data.is_empty()
            || !self.event_type.is_empty()
            || self.oversized
            || self.id_buffer != self.last_event_id;
        self.line.clear();
        self.line_overflowed = false;
        self.data.clear();
        self.event_type.clear();
        self.oversized = false;
        self.id_buffer.clone_from(&self.last_event_id);
        discarded
    }

    /// Drops a UTF-8 BOM at the very start of the stream, even when split across chunks;
    /// returns the rest of the chunk.
    fn skip_bom<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let Some(mut matched) = self.bom_matched else {
            return chunk;
        };
        for (index, &byte) in chunk.iter().enumerate() {
            if byte != BOM[matched] {
                // Not a BOM after all: the bytes held back start the first line.
                self.bom_matched = None;
                self.append(&BOM[..matched]);
                return &chunk[index..];
            }
            matched += 1;
            if matched == BOM.len() {
                self.bom_matched = None;
                return &chunk[index + 1..];
            }
        }
        self.bom_matched = Some(matched);
        &[]
    }

    /// Adds bytes to the current line, up to the line limit.
    fn append(&mut self, bytes: &[u8]) {
        let room = self
            .limit
            .saturating_add(LINE_SLACK)
            .saturating_sub(self.line.len());
        if bytes.len() > room {
            self.line.extend_from_slice(&bytes[..room]);
            self.line_overflowed = true;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    /// Interprets the line just completed.
    fn end_line(&mut self) {
        let overflowed = std::mem::take(&mut self.line_overflowed);
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch();
        } else if line[0] == b':' {
            // A comment, however long.
        } else if overflowed {
            self.poison();
        } else {
            let text = String::from_utf8_lossy(&line);
            let (name, value) = match text.split_once(':') {
                Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
                None => (&*text, ""),
            };
            self.field(name, value);
        }

        // Keep the allocation for the next line.
        self.line = line;
        self.line.clear();
    }

    /// Applies one field to the buffers.
    fn field(&mut self, name: &str, value: &str) {
        match name {
            "event" => value.clone_into(&mut self.event_type),
            "data" => {
                if self.oversized || self.data.len() + value.len() > self.limit {
                    self.poison();
                } else {
                    self.data.push_str(value);
                    self.data.push('\n');
                }
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.id_buffer),
            "retry" if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) => {
                // Digits too many for a u64 are a delay no one means: ignored like any other.
                if let Ok(millis) = value.parse() {
                    self.reconnection_time = Some(Duration::from_millis(millis));
                }
            }
            _ => {}
        }
    }

    /// Marks the current event as oversized and frees its data.
    fn poison(&mut self) {
        self.oversized = true;
        self.data = String::new();
    }

    /// A blank line: commits the last event ID and dispatches the event, if it has data.
    fn dispatch(&mut self) {
        self.last_event_id.clone_from(&self.id_buffer);
        let mut event_type = std::mem::take(&mut self.event_type);
        if event_type.is_empty() {
            event_type.push_str("message");
        }

        if std::mem::take(&mut self.oversized) {
            self.ready.push_back(Err(EventTooLarge {
                limit: self.limit,
                event_type,
                last_event_id: self.last_event_id.clone(),
            }));
            return;
        }
        if self.data.is_empty() {
            return;
        }

        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        self.ready.push_back(Ok(SseEvent {
            event_type,
            data,
            last_event_id: self.last_event_id.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, data: &str, id: &str) -> Result<SseEvent, EventTooLarge> {
        Ok(SseEvent {
            event_type: event_type.into(),
            data: data.into(),
            last_event_id: id.into(),
        })
    }

    #[test]
    fn a_resumed_parser_gives_its_cursor_to_events_without_an_id() {
        let mut parser = Parser::new(DEFAULT_EVENT_SIZE_LIMIT).with_last_event_id("7");
        parser.feed(b"retry: 1000\n\nevent: open\ndata: {}\n\n");
        assert_eq!(parser.next_event(), Some(event("open", "{}", "7")));
        assert_eq!(parser.last_event_id(), "7");
    }

    #[test]
    fn memory_stays_bounded_under_an_endless_line_and_endless_data() {
        let limit = 1024;
        let mut parser = Parser::new(limit);

        // One line of 8 MiB that never ends.
        parser.feed(b"data: ");
        for _ in 0..2048 {
            parser.feed(&[b'x'; 4096]);
            assert!(
                parser.buffered_bytes() <= 4 * limit,
                "{}",
                parser.buffered_bytes()
            );
        }
        parser.feed(b"\n\n");
        assert!(matches!(parser.next_event(), Some(Err(_))));

        // 8 MiB of short data lines in one event.
        let line = format!("data: {}\n", "y".repeat(100));
        for _ in 0..80_000 {
            parser.feed(line.as_bytes());
            assert!(
                parser.buffered_bytes() <= 4 * limit,
                "{}",
                parser.buffered_bytes()
            );
        }
        parser.feed(b"\ndata: after\n\n");
        assert!(matches!(parser.next_event(), Some(Err(_))));
        assert_eq!(parser.next_event(), Some(event("message", "after", "")));
    }
}
