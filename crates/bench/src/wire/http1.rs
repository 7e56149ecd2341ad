//! Just enough HTTP/1.1 for a streaming GET: the request, the response head, and the body framing.
//!
//! Subscribers speak HTTP over a bare [`tokio::net::TcpStream`] so that ten thousand of them cost
//! little more than their sockets. An SSE response has no length, so servers send it either
//! chunked (hyper, nginx) or delimited by the connection closing; [`BodyDecoder`] undoes both
//! without copying the data, handing each piece of body straight to the SSE parser.

use thiserror::Error;

/// The largest response head accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// Why a response could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum HttpError {
    /// The head did not end within [`MAX_HEAD`] bytes.
    #[error("response head longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// The status line was not `HTTP/1.x NNN ...`.
    #[error("malformed status line {0:?}")]
    StatusLine(String),
    /// A chunk-size line was not hexadecimal.
    #[error("malformed chunk size line")]
    ChunkSize,
    /// Chunk data was not followed by CRLF.
    #[error("chunk data not followed by a line end")]
    ChunkEnd,
}

/// The parts of a response head a subscriber acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    /// The status code.
    pub(crate) status: u16,
    /// `Content-Type`, if sent.
    pub(crate) content_type: Option<String>,
    /// How the body is delimited.
    pub(crate) framing: Framing,
}

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length: n`.
    Length(u64),
    /// Neither: the body runs until the server closes the connection.
    UntilClose,
}

/// A `GET` for an event stream, with the headers an EventSource sends; with `last_event_id`,
/// the header an EventSource sends when it reconnects.
pub(crate) fn stream_request(
    host: &str,
    path_and_query: &str,
    last_event_id: Option<&str>,
) -> Vec<u8> {
    let resume = last_event_id
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-cache\r\n{resume}User-Agent: tracetail-bench\r\n\r\n"
    )
    .into_bytes()
}

/// Parses the head at the start of `buf`, returning it and its length once it is complete.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLong);
        }
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status(status_line)?;

    let mut head = ResponseHead {
        status,
        content_type: None,
        framing: Framing::UntilClose,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                head.framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case("content-length")
            && head.framing != Framing::Chunked
            && let Ok(length) = value.parse()
        {
            head.framing = Framing::Length(length);
        }
    }
    Ok(Some((head, end + 4)))
}

fn parse_status(line: &str) -> Result<u16, HttpError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    match code.parse() {
        Ok(status) if version.starts_with("HTTP/1.") => Ok(status),
        _ => Err(HttpError::StatusLine(line.chars().take(80).collect())),
    }
}

/// Removes the body framing, passing each run of body bytes to a callback.
#[derive(Debug)]
pub(crate) struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size; `in_extension` after a `;` or whitespace.
    Size {
        value: u64,
        digits: u8,
        in_extension: bool,
    },
    /// Inside chunk data with this many bytes left.
    Data { left: u64 },
    /// After chunk data, expecting CR or LF.
    DataEnd { seen_cr: bool },
    /// After the last chunk, reading trailer lines until an empty one.
    Trailer { line_empty: bool },
    /// A `Content-Length` body with this many bytes left.
    Length { left: u64 },
    /// A body that runs until the connection closes.
    UntilClose,
    /// The body has ended.
    Done,
}

impl BodyDecoder {
    /// A decoder for a body with the given framing.
    pub(crate) fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Chunked => State::Size {
                value: 0,
                digits: 0,
                in_extension: false,
            },
            Framing::Length(left) => State::Length { left },
            Framing::UntilClose => State::UntilClose,
        };
        Self { state }
    }

    /// Whether the body has ended (last chunk or full length seen).
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes the next bytes from the connection, calling `on_body` with body bytes.
    pub(crate) fn decode<E: From<HttpError>>(
        &mut self,
        mut input: &[u8],
        on_body: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while !input.is_empty() {
            match self.state {
                State::Data { left } | State::Length { left } => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    on_body(&input[..take])?;
                    input = &input[take..];
                    self.state = self.after_body(left - take as u64);
                }
                State::UntilClose => {
                    on_body(input)?;
                    return Ok(());
                }
                State::Done => return Ok(()),
                _ => {
                    self.state = self.control_byte(input[0])?;
                    input = &input[1..];
                }
            }
        }
        Ok(())
    }

    /// The state after a run of body bytes left `left` bytes to go.
    fn after_body(&self, left: u64) -> State {
        match (self.state, left) {
            (State::Data { .. }, 0) => State::DataEnd { seen_cr: false },
            (State::Data { .. }, left) => State::Data { left },
            (_, 0) => State::Done,
            (_, left) => State::Length { left },
        }
    }

    /// Advances the chunk framing by one byte outside chunk data.
    fn control_byte(&self, byte: u8) -> Result<State, HttpError> {
        let state = match (self.state, byte) {
            (State::Size { digits: 0, .. }, b'\n' | b'\r') => return Err(HttpError::ChunkSize),
            (State::Size { value: 0, .. }, b'\n') => State::Trailer { line_empty: true },
            (State::Size { value, .. }, b'\n') => State::Data { left: value },
            (State::Size { .. }, b'\r') => self.state,
            (
                State::Size {
                    in_extension: true, ..
                },
                _,
            ) => self.state,
            (State::Size { value, digits, .. }, b';' | b' ' | b'\t') => State::Size {
                value,
                digits,
                in_extension: true,
            },
            (State::Size { value, digits, .. }, _) => {
                let digit = (byte as char).to_digit(16).ok_or(HttpError::ChunkSize)?;
                if digits >= 15 {
                    return Err(HttpError::ChunkSize);
                }
                let value = value * 16 + u64::from(digit);
                State::Size {
                    value,
                    digits: digits + 1,
                    in_extension: false,
                }
            }
            (State::DataEnd { seen_cr: false }, b'\r') => State::DataEnd { seen_cr: true },
            (State::DataEnd { .. }, b'\n') => State::Size {
                value: 0,
                digits: 0,
                in_extension: false,
            },
            (State::DataEnd { .. }, _) => return Err(HttpError::ChunkEnd),
            (State::Trailer { line_empty: true }, b'\n') => State::Done,
            (State::Trailer { .. }, b'\n') => State::Trailer { line_empty: true },
            (State::Trailer { line_empty }, b'\r') => State::Trailer { line_empty },
            (State::Trailer { .. }, _) => State::Trailer { line_empty: false },
            (state, _) => state,
        };
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(framing: Framing, pieces: &[&[u8]]) -> Result<(Vec<u8>, bool), HttpError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut body = Vec::new();
        for piece in pieces {
            decoder.decode(piece, &mut |bytes: &[u8]| -> Result<(), HttpError> {
                body.extend_from_slice(bytes);
                Ok(())
            })?;
        }
        Ok((body, decoder.is_done()))
    }

    #[test]
    fn only_a_resuming_request_carries_last_event_id() {
        let fresh = String::from_utf8(stream_request("h:1", "/s", None)).expect("ascii");
        assert!(!fresh.to_lowercase().contains("last-event-id"));
        let resuming = stream_request("h:1", "/s?x=1", Some("e-9:1"));
        let resuming = String::from_utf8(resuming).expect("ascii");
        assert!(resuming.starts_with("GET /s?x=1 HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(resuming.contains("\r\nLast-Event-ID: e-9:1\r\n"));
        assert!(resuming.ends_with("\r\n\r\n"));
    }

    #[test]
    fn head_of_a_chunked_event_stream() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            Transfer-Encoding: chunked\r\n\r\n5\r\nhello";
        let (head, len) = parse_head(raw).expect("valid").expect("complete");
        assert_eq!(head.status, 200);
        assert_eq!(head.content_type.as_deref(), Some("text/event-stream"));
        assert_eq!(head.framing, Framing::Chunked);
        assert_eq!(&raw[len..], b"5\r\nhello");
    }

    #[test]
    fn incomplete_head_waits_and_garbage_is_rejected() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nA: b\r\n"), Ok(None));
        assert!(matches!(
            parse_head(b"SSH-2.0\r\n\r\n"),
            Err(HttpError::StatusLine(_))
        ));
        assert_eq!(
            parse_head(&vec![b'a'; MAX_HEAD + 1]),
            Err(HttpError::HeadTooLong)
        );
    }

    #[test]
    fn head_without_length_runs_until_close() {
        let (head, _) = parse_head(b"HTTP/1.0 404 Not Found\r\n\r\n")
            .expect("ok")
            .expect("some");
        assert_eq!((head.status, head.framing), (404, Framing::UntilClose));
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n")
            .expect("ok")
            .expect("some");
        assert_eq!(head.framing, Framing::Length(12));
    }

    #[test]
    fn chunked_body_decodes_across_any_split() {
        let raw: &[u8] = b"6;ext=1\r\ndata: \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
        let expected = b"data: 0123456789".to_vec();
        assert_eq!(
            decode_all(Framing::Chunked, &[raw]),
            Ok((expected.clone(), true))
        );
        for split in 1..raw.len() {
            let (a, b) = raw.split_at(split);
            assert_eq!(
                decode_all(Framing::Chunked, &[a, b]),
                Ok((expected.clone(), true))
            );
        }
        let bytes: Vec<&[u8]> = raw.chunks(1).collect();
        assert_eq!(decode_all(Framing::Chunked, &bytes), Ok((expected, true)));
    }

    #[test]
    fn chunked_body_with_bad_framing_is_an_error() {
        assert_eq!(
            decode_all(Framing::Chunked, &[b"zz\r\n"]),
            Err(HttpError::ChunkSize)
        );
        assert_eq!(
            decode_all(Framing::Chunked, &[b"1\r\nab"]),
            Err(HttpError::ChunkEnd)
        );
        assert_eq!(
            decode_all(Framing::Chunked, &[b"\r\n"]),
            Err(HttpError::ChunkSize)
        );
    }

    #[test]
    fn length_body_stops_at_its_length() {
        assert_eq!(
            decode_all(Framing::Length(3), &[b"ab", b"cdef"]),
            Ok((b"abc".to_vec(), true))
        );
        assert_eq!(
            decode_all(Framing::UntilClose, &[b"ab", b"c"]),
            Ok((b"abc".to_vec(), false))
        );
    }
}
