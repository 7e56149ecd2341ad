//! Input bytes to lines, and lines to records.
//!
//! [`LineSplitter`] cuts chunks of input at `\n` (dropping a `\r` before it) and numbers the
//! lines from 1. A line longer than [`MAX_RECORD_BYTES`] keeps only its start and is marked
//! overlong; the rest of it is skipped, so one huge line cannot exhaust memory.
//!
//! [`Grouper`] makes records of lines. Blank lines are never records. Without `--multiline`
//! every other line is one record. With it, a continuation line (see [`is_continuation`]) is
//! joined with `\n` to the plain-text record above it; a JSON-object line is always a record of
//! its own. A joined record that would pass [`MAX_RECORD_BYTES`] ends there, and the next
//! continuation line starts a new record.

use std::time::Instant;

use super::record::is_json_object;

/// The largest record `send` ships; a longer line is reported as rejected, not sent.
pub(super) const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// One line of input, without its line end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    /// The text, at most [`MAX_RECORD_BYTES`].
    pub(super) text: &'a [u8],
    /// Its number in the input (or in the file since the last rotation or truncation), from 1.
    pub(super) number: u64,
    /// Whether the line was longer than [`MAX_RECORD_BYTES`] and was cut.
    pub(super) overlong: bool,
}

/// Cuts a stream of chunks into lines.
#[derive(Debug)]
pub(super) struct LineSplitter {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Whether the partial line already passed the limit.
    partial_overlong: bool,
    /// The number the next line gets.
    next_number: u64,
}

impl LineSplitter {
    /// A splitter at line 1.
    pub(super) fn new() -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            partial_overlong: false,
            next_number: 1,
        }
    }

    /// Cuts `chunk` into lines, completing the partial line first; keeps the unfinished end.
    pub(super) fn feed(&mut self, mut chunk: &[u8], emit: &mut dyn FnMut(Line<'_>)) {
        while let Some(end) = chunk.iter().position(|&byte| byte == b'\n') {
            let piece = &chunk[..end];
            chunk = &chunk[end + 1..];
            if self.partial.is_empty() && !self.partial_overlong {
                let (text, overlong) = capped(piece);
                let number = self.take_number();
                emit(Line {
                    text: strip_cr(text),
                    number,
                    overlong,
                });
            } else {
                self.append(piece);
                self.emit_partial(emit);
            }
        }
        self.append(chunk);
    }

    /// Ends the partial line, if any, as a line of its own (end of input, or the file changed).
    pub(super) fn finish(&mut self, emit: &mut dyn FnMut(Line<'_>)) {
        if !self.partial.is_empty() || self.partial_overlong {
            self.emit_partial(emit);
        }
    }

    /// Numbers the next line 1 again: the file was rotated or truncated.
    pub(super) fn restart_numbering(&mut self) {
        self.next_number = 1;
    }

    fn append(&mut self, piece: &[u8]) {
        let room = MAX_RECORD_BYTES - self.partial.len();
        if piece.len() > room {
            self.partial_overlong = true;
        }
        self.partial
            .extend_from_slice(&piece[..piece.len().min(room)]);
    }

    fn emit_partial(&mut self, emit: &mut dyn FnMut(Line<'_>)) {
        let number = self.take_number();
        emit(Line {
            text: strip_cr(&self.partial),
            number,
            overlong: self.partial_overlong,
        });
        self.partial.clear();
        self.partial_overlong = false;
    }

    fn take_number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number - 1
    }
}

fn capped(text: &[u8]) -> (&[u8], bool) {
    if text.len() > MAX_RECORD_BYTES {
        (&text[..MAX_RECORD_BYTES], true)
    } else {
        (text, false)
    }
}

fn strip_cr(text: &[u8]) -> &[u8] {
    text.strip_suffix(b"\r").unwrap_or(text)
}

/// Whether a line continues the record above under `--multiline`: it starts with a space or a
/// tab (stack frames, wrapped text), or is a Java `Caused by:` or `... N more` line.
pub(super) fn is_continuation(text: &[u8]) -> bool {
    if matches!(text.first(), Some(b' ' | b'\t')) || text.starts_with(b"Caused by:") {
        return true;
    }
    let Some(count) = text
        .strip_prefix(b"... ")
        .and_then(|rest| rest.strip_suffix(b" more"))
    else {
        return false;
    };
    !count.is_empty() && count.iter().all(u8::is_ascii_digit)
}

/// One record: a line, or lines joined by `--multiline`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'a> {
    /// The text; joined lines are separated by `\n`.
    pub(super) text: &'a [u8],
    /// The number of its first line.
    pub(super) line: u64,
    /// Whether it was cut at [`MAX_RECORD_BYTES`] (and so must not be sent).
    pub(super) overlong: bool,
}

/// Lines to records, joining continuation lines under `--multiline`.
#[derive(Debug)]
pub(super) struct Grouper {
    /// Whether `--multiline` is on.
    multiline: bool,
    /// The plain-text record continuation lines may still join; empty when there is none.
    pending: Vec<u8>,
    /// The first line of `pending`.
    pending_line: u64,
    /// When the last line joined or started `pending`.
    pending_since: Option<Instant>,
}

impl Grouper {
    /// A grouper; `multiline` joins continuation lines.
    pub(super) fn new(multiline: bool) -> Grouper {
        Grouper {
            multiline,
            pending: Vec::new(),
            pending_line: 0,
            pending_since: None,
        }
    }

    /// Takes one line; emits every record it completes.
    pub(super) fn push(&mut self, line: Line<'_>, emit: &mut impl FnMut(Record<'_>)) {
        if line.text.iter().all(u8::is_ascii_whitespace) && !line.overlong {
            return;
        }
        if !self.multiline {
            return emit(record_of(line));
        }
        if self.joins(line) {
            self.pending.push(b'\n');
            self.pending.extend_from_slice(line.text);
            self.pending_since = Some(Instant::now());
            return;
        }

        self.flush(emit);
        if line.overlong || is_json_object(line.text) {
            return emit(record_of(line));
        }
        self.pending.extend_from_slice(line.text);
        self.pending_line = line.number;
        self.pending_since = Some(Instant::now());
    }

    /// Emits the pending record, if any: the input ended, paused, or changed file.
    pub(super) fn flush(&mut self, emit: &mut impl FnMut(Record<'_>)) {
        if self.pending_since.take().is_some() {
            emit(Record {
                text: &self.pending,
                line: self.pending_line,
                overlong: false,
            });
            self.pending.clear();
        }
    }

    /// When the pending record last grew; `None` when there is none.
    pub(super) fn pending_since(&self) -> Option<Instant> {
        self.pending_since
    }

    fn joins(&self, line: Line<'_>) -> bool {
        self.pending_since.is_some()
            && !line.overlong
            && is_continuation(line.text)
            && self.pending.len() + 1 + line.text.len() <= MAX_RECORD_BYTES
    }
}

fn record_of(line: Line<'_>) -> Record<'_> {
    Record {
        text: line.text,
        line: line.number,
        overlong: line.overlong,
    }
}

#[cfg(test)]
#[path = "lines_tests.rs"]
mod tests;
