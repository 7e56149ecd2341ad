//! An incremental Server-Sent Events parser for subscribers that read raw bytes.
//!
//! Bytes arrive in arbitrary pieces (TCP reads, HTTP chunks), so the parser keeps only the one
//! line it has not finished and the fields of the event it is building. It follows the WHATWG
//! event-stream rules that matter for measuring: lines end in CRLF, LF or a lone CR (also when
//! the CR and LF arrive in different reads); `field: value` loses one leading space; a line
//! starting with `:` is a comment; a blank line dispatches the event if it has data.

use thiserror::Error;

/// The longest line the parser buffers before giving up on a stream.
const MAX_LINE: usize = 1 << 20;

/// Why a stream could not be parsed.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum SseError {
    /// A line (or an event's data) grew past [`MAX_LINE`] bytes without ending.
    #[error("event stream line longer than {MAX_LINE} bytes")]
    LineTooLong,
}

/// One dispatched event, borrowed from the parser until the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    /// The last `id:` seen on the stream so far (it persists across events), maybe empty.
    pub(crate) id: &'a [u8],
    /// The `event:` type; `message` when the event named none.
    pub(crate) event: &'a [u8],
    /// The `data:` lines joined with LF.
    pub(crate) data: &'a [u8],
}

/// Parser state for one stream.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The previous input ended in CR, so an LF at the start of the next input is not a line.
    pending_cr: bool,
    /// The current event's type, empty until an `event:` field.
    event: Vec<u8>,
    /// The current event's data lines, joined with LF.
    data: Vec<u8>,
    /// Whether any `data:` field arrived for the current event.
    has_data: bool,
    /// The stream's last event id.
    last_id: Vec<u8>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the stream, calling `on_frame` for each complete event.
    pub(crate) fn feed(
        &mut self,
        mut input: &[u8],
        on_frame: &mut impl FnMut(Frame<'_>),
    ) -> Result<(), SseError> {
        if std::mem::take(&mut self.pending_cr) && input.first() == Some(&b'\n') {
            input = &input[1..];
        }

        while let Some(end) = input.iter().position(|&b| b == b'\n' || b == b'\r') {
            let terminator = input[end];
            if self.partial.is_empty() {
                self.line(&input[..end], on_frame)?;
            } else {
                self.partial.extend_from_slice(&input[..end]);
                let line = std::mem::take(&mut self.partial);
                self.line(&line, on_frame)?;
                self.partial = line;
                self.partial.clear();
            }

            // A CR may be the first half of CRLF, possibly split across reads.
            let mut next = end + 1;
            if terminator == b'\r' {
                match input.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            input = &input[next..];
        }

        if self.partial.len() + input.len() > MAX_LINE {
            return Err(SseError::LineTooLong);
        }
        self.partial.extend_from_slice(input);
        Ok(())
    }

    /// Handles one complete line, without its terminator.
    fn line(&mut self, line: &[u8], on_frame: &mut impl FnMut(Frame<'_>)) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(on_frame);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }

        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                if self.data.len() + value.len() > MAX_LINE {
                    return Err(SseError::LineTooLong);
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.last_id.extend_from_slice(value);
            }
            // `retry:` matters to reconnecting clients; these subscribers never reconnect.
            _ => {}
        }
        Ok(())
    }

    /// Ends the current event at a blank line: hands it out if it carried data, then resets.
    fn dispatch(&mut self, on_frame: &mut impl FnMut(Frame<'_>)) {
        if self.has_data {
            let event = if self.event.is_empty() {
                &b"message"[..]
            } else {
                &self.event[..]
            };
            on_frame(Frame {
                id: &self.last_id,
                event,
                data: &self.data,
            });
        }
        self.event.clear();
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned copy of a frame, for assertions.
    #[derive(Debug, PartialEq, Eq)]
    struct Owned {
        id: String,
        event: String,
        data: String,
    }

    fn parse_pieces(pieces: &[&[u8]]) -> (Vec<Owned>, SseParser) {
        let mut parser = SseParser::new();
        let mut frames = Vec::new();
        for piece in pieces {
            parser
                .feed(piece, &mut |frame: Frame<'_>| {
                    frames.push(Owned {
                        id: String::from_utf8_lossy(frame.id).into_owned(),
                        event: String::from_utf8_lossy(frame.event).into_owned(),
                        data: String::from_utf8_lossy(frame.data).into_owned(),
                    })
                })
                .expect("valid stream");
        }
        (frames, parser)
    }

    fn owned(id: &str, event: &str, data: &str) -> Owned {
        Owned {
            id: id.into(),
            event: event.into(),
            data: data.into(),
        }
    }

    const TRACETAIL_STREAM: &[u8] = b"retry: 3000\n\nevent: open\ndata: {\"cursor\":\"0\"}\n\n\
        id: c-1\nevent: log\ndata: {\"message\":\"a\"}\n\n\
        event: heartbeat\ndata: {\"ts\":1}\n\n";

    #[test]
    fn tracetail_stream_yields_open_log_and_heartbeat() {
        let (frames, _) = parse_pieces(&[TRACETAIL_STREAM]);
        assert_eq!(
            frames,
            vec![
                owned("", "open", "{\"cursor\":\"0\"}"),
                owned("c-1", "log", "{\"message\":\"a\"}"),
                owned("c-1", "heartbeat", "{\"ts\":1}"),
            ]
        );
    }

    #[test]
    fn byte_at_a_time_gives_the_same_frames_as_one_read() {
        let pieces: Vec<&[u8]> = TRACETAIL_STREAM.chunks(1).collect();
        assert_eq!(parse_pieces(&pieces).0, parse_pieces(&[TRACETAIL_STREAM]).0);
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_end() {
        let (frames, _) = parse_pieces(&[b"id: 7\r", b"\nevent: log\r\ndata: x\r", b"\n\r", b"\n"]);
        assert_eq!(frames, vec![owned("7", "log", "x")]);
    }

    #[test]
    fn lone_cr_ends_lines() {
        let (frames, _) = parse_pieces(&[b"event: log\rdata: y\r\r"]);
        assert_eq!(frames, vec![owned("", "log", "y")]);
    }

    #[test]
    fn unnamed_events_are_messages_and_data_lines_join_with_lf() {
        let (frames, _) = parse_pieces(&[b"data: one\ndata:two\ndata\n\n"]);
        assert_eq!(frames, vec![owned("", "message", "one\ntwo\n")]);
    }

    #[test]
    fn comments_and_events_without_data_dispatch_nothing() {
        let (frames, _) = parse_pieces(&[b": keepalive\n\nevent: log\n\nretry: x\n\n"]);
        assert!(frames.is_empty());
    }

    #[test]
    fn event_type_resets_after_each_dispatch() {
        let (frames, _) = parse_pieces(&[b"event: gap\ndata: 1\n\ndata: 2\n\n"]);
        assert_eq!(
            frames,
            vec![owned("", "gap", "1"), owned("", "message", "2")]
        );
    }

    #[test]
    fn endless_line_is_an_error_not_unbounded_memory() {
        let mut parser = SseParser::new();
        let big = vec![b'a'; MAX_LINE / 2 + 1];
        parser.feed(&big, &mut |_| {}).expect("first half fits");
        assert_eq!(parser.feed(&big, &mut |_| {}), Err(SseError::LineTooLong));
    }
}
