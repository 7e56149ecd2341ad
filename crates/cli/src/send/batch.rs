//! The batcher: chunks of input to lines, records and request bodies, on a thread of its own.
//!
//! A batch closes at [`MAX_BATCH_RECORDS`] records, at [`MAX_BATCH_BYTES`] of body (well under
//! the hub's default 8 MiB `--max-body`), or [`MAX_BATCH_WAIT`] after its first record,
//! whichever comes first, and goes to the delivery side over a bounded channel. A `--multiline`
//! record still open when the input pauses for [`MULTILINE_WAIT`] is closed as it is.
//!
//! When asked to stop, the batcher still turns every chunk already read into batches: nothing
//! read is dropped on the floor; what cannot be delivered is counted as not acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc::Sender;

use super::input::Chunk;
use super::lines::{Grouper, Line, LineSplitter, MAX_RECORD_BYTES, Record};
use super::record::{Defaults, encode};
use super::report::Tally;

/// The most records in one request.
pub(super) const MAX_BATCH_RECORDS: usize = 1000;

/// The most body bytes in one request (a single larger record travels alone).
pub(super) const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// The longest a record waits for its batch to fill.
pub(super) const MAX_BATCH_WAIT: Duration = Duration::from_millis(200);

/// How long a `--multiline` record waits for more continuation lines once input pauses.
const MULTILINE_WAIT: Duration = Duration::from_millis(500);

/// How often the batcher looks at the stop flag when nothing arrives.
const IDLE_WAKE: Duration = Duration::from_millis(100);

/// One request body: NDJSON, one record per line.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    /// The body.
    pub(super) body: Bytes,
    /// The input line number of each record, in body order.
    pub(super) lines: Vec<u64>,
}

impl Batch {
    /// How many records it holds.
    pub(super) fn len(&self) -> usize {
        self.lines.len()
    }

    /// Two batches of about half the records each, in order; for a hub that finds it too large.
    pub(super) fn split(self) -> (Batch, Batch) {
        debug_assert!(self.len() > 1, "a single record cannot be split");
        let half = self.len() / 2;
        let cut = self
            .body
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'\n')
            .nth(half - 1)
            .map(|(at, _)| at + 1)
            .expect("one line end per record");
        let mut lines = self.lines;
        let second_lines = lines.split_off(half);
        let first = Batch {
            body: self.body.slice(..cut),
            lines,
        };
        let second = Batch {
            body: self.body.slice(cut..),
            lines: second_lines,
        };
        (first, second)
    }
}

/// Turns chunks into batches.
#[derive(Debug)]
pub(super) struct Batcher {
    splitter: LineSplitter,
    grouper: Grouper,
    sink: Sink,
}

impl Batcher {
    /// A batcher sending its batches to `output`.
    pub(super) fn new(
        defaults: Defaults,
        multiline: bool,
        output: Sender<Batch>,
        tally: Arc<Tally>,
    ) -> Batcher {
        Batcher {
            splitter: LineSplitter::new(),
            grouper: Grouper::new(multiline),
            sink: Sink {
                defaults,
                body: Vec::new(),
                lines: Vec::new(),
                opened: None,
                output,
                closed: false,
                tally,
            },
        }
    }

    /// Batches everything from `input` until it ends, `stop` is set, or nobody takes batches.
    /// Returns the input's error, if reading failed.
    pub(super) fn run(mut self, input: Receiver<Chunk>, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut failure = None;
        while !self.sink.closed {
            if stop.load(Ordering::Relaxed) {
                // Whatever was read already is batched; the reader stops on its own.
                while let Ok(chunk) = input.try_recv() {
                    failure = failure.or(self.take(chunk));
                }
                break;
            }
            match input.recv_timeout(self.wait()) {
                Ok(chunk) => failure = failure.or(self.take(chunk)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.close_due();
        }
        self.finish();
        failure.map_or(Ok(()), Err)
    }

    /// Takes one chunk; returns the input's error when it is one.
    fn take(&mut self, chunk: Chunk) -> Option<anyhow::Error> {
        match chunk {
            Chunk::Data(bytes) => {
                let tally = &self.sink.tally;
                tally.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.split(|splitter, on_line| splitter.feed(&bytes, on_line));
            }
            Chunk::FileChanged => {
                self.split(LineSplitter::finish);
                let sink = &mut self.sink;
                self.grouper
                    .flush(&mut |record: Record<'_>| sink.add(record));
                self.splitter.restart_numbering();
            }
            Chunk::Failed(error) => return Some(error),
        }
        None
    }

    /// Runs `feed` on the splitter with every line it gives going through the grouper into
    /// the open batch, and counts the lines.
    fn split(&mut self, feed: impl FnOnce(&mut LineSplitter, &mut dyn FnMut(Line<'_>))) {
        let Batcher {
            splitter,
            grouper,
            sink,
        } = self;
        let mut lines = 0;
        feed(splitter, &mut |line: Line<'_>| {
            lines += 1;
            grouper.push(line, &mut |record: Record<'_>| sink.add(record));
        });
        sink.tally.lines.fetch_add(lines, Ordering::Relaxed);
    }

    /// How long to wait for input before something falls due.
    fn wait(&self) -> Duration {
        let now = Instant::now();
        let batch_due = self.sink.opened.map(|opened| opened + MAX_BATCH_WAIT);
        let record_due = self
            .grouper
            .pending_since()
            .map(|since| since + MULTILINE_WAIT);
        [batch_due, record_due]
            .into_iter()
            .flatten()
            .map(|due| due.saturating_duration_since(now))
            .fold(IDLE_WAKE, Duration::min)
    }

    /// Closes a `--multiline` record or a batch that has waited long enough.
    fn close_due(&mut self) {
        let now = Instant::now();
        if let Some(since) = self.grouper.pending_since()
            && now >= since + MULTILINE_WAIT
        {
            let sink = &mut self.sink;
            self.grouper
                .flush(&mut |record: Record<'_>| sink.add(record));
        }
        if self
            .sink
            .opened
            .is_some_and(|opened| now >= opened + MAX_BATCH_WAIT)
        {
            self.sink.send();
        }
    }

    /// Ends the last line and record, and sends the last batch.
    fn finish(&mut self) {
        self.split(LineSplitter::finish);
        let sink = &mut self.sink;
        self.grouper
            .flush(&mut |record: Record<'_>| sink.add(record));
        sink.send();
    }
}

/// Where records go: the open batch, then the channel.
#[derive(Debug)]
struct Sink {
    defaults: Defaults,
    /// The open batch's body.
    body: Vec<u8>,
    /// The open batch's line numbers.
    lines: Vec<u64>,
    /// When the open batch got its first record.
    opened: Option<Instant>,
    /// The delivery side; it ends the run early by dropping its end.
    output: Sender<Batch>,
    /// Whether the delivery side has gone.
    closed: bool,
    tally: Arc<Tally>,
}

impl Sink {
    fn add(&mut self, record: Record<'_>) {
        self.tally.records.fetch_add(1, Ordering::Relaxed);
        if record.overlong {
            let error = format!("longer than {MAX_RECORD_BYTES} bytes, so not sent");
            return self.tally.reject_locally(record.line, error);
        }
        let start = self.body.len();
        encode(record.text, &self.defaults, &mut self.body);
        if !self.lines.is_empty() && self.body.len() > MAX_BATCH_BYTES {
            // The record does not fit: it opens the next batch.
            let record_bytes = self.body.split_off(start);
            self.send();
            self.body = record_bytes;
        }
        self.lines.push(record.line);
        self.opened.get_or_insert_with(Instant::now);
        if self.lines.len() >= MAX_BATCH_RECORDS || self.body.len() >= MAX_BATCH_BYTES {
            self.send();
        }
    }

    /// Sends the open batch, if it has records; waits while the channel is full.
    fn send(&mut self) {
        self.opened = None;
        if self.lines.is_empty() {
            return;
        }
        let batch = Batch {
            body: Bytes::from(std::mem::take(&mut self.body)),
            lines: std::mem::take(&mut self.lines),
        };
        self.body.reserve(64 * 1024);
        self.closed |= self.output.blocking_send(batch).is_err();
    }
}
