//! The loop of `tail`: read the stream, print, keep the resume point, stop cleanly.
//!
//! **Output.** Events go to a buffered stdout, flushed whenever the stream has nothing more
//! ready, so a burst is one write and a quiet stream shows each event at once. A closed
//! stdout (`BrokenPipe`) ends the loop quietly with status 0.
//!
//! **Resume point.** It follows the client library's own cursor: the id of the last event,
//! or a gap's `resumed_from`. Before the first event, a stream that started live resumes
//! after the cursor its `open` event named: a stream without any cursor would come back
//! live and miss what was sent while it was away, so on the first reconnect without one the
//! loop opens a new stream from that point instead, after the delay the old one announced.
//!
//! **Stopping.** SIGINT (Ctrl-C) or SIGTERM, a closed stdout, the server's 204, or a
//! terminal error all end in [`Session::finish`]: flush stdout, save the cursor file, exit.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tracetail_client::{ClientError, ClientEvent, EventStream, LogRecord, ReconnectReason};

use super::Target;
use super::cursor::ResumePoint;
use super::notes::Notes;
use crate::format::{Printer, is_broken_pipe};
use crate::query::error_message;

/// The context of every failed write to stdout.
const WRITING_STDOUT: &str = "writing to stdout";

/// Follows `target` until a signal, a closed stdout, or an error.
pub(super) async fn follow<W: Write>(
    target: Target,
    printer: Printer<W>,
    resume: ResumePoint,
) -> anyhow::Result<ExitCode> {
    let stop = watch_signals();
    let mut session = Session {
        target,
        printer,
        resume,
        notes: Notes::stderr(),
        stream_has_cursor: false,
    };
    let outcome = session.run(stop).await;
    session.finish(outcome)
}

/// What the loop does after an item.
enum Flow {
    /// Reads on.
    Continue,
    /// Opens a new stream from the resume point after this long.
    Restart { after: Duration },
    /// Stops.
    Exit,
}

/// Everything one run of `tail` holds.
struct Session<W: Write> {
    target: Target,
    printer: Printer<W>,
    resume: ResumePoint,
    notes: Notes,
    /// Whether the current stream resumes from a cursor of its own when it reconnects.
    stream_has_cursor: bool,
}

impl<W: Write> Session<W> {
    /// Reads and prints until told to stop; `Ok` means a clean stop.
    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut stream = self.open_stream()?;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let item = match stream.next().now_or_never() {
                Some(item) => item,
                None => {
                    self.checkpoint()?;
                    let wake = self.wake_at();
                    let sleep = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now).into());
                    tokio::select! {
                        _ = stop.changed() => return Ok(()),
                        item = stream.next() => item,
                        () = sleep, if wake.is_some() => {
                            self.on_timer()?;
                            continue;
                        }
                    }
                }
            };
            match self.handle(item)? {
                Flow::Continue => self.checkpoint_if_due()?,
                Flow::Restart { after } => {
                    drop(stream);
                    tokio::select! {
                        _ = stop.changed() => return Ok(()),
                        () = tokio::time::sleep(after) => {}
                    }
                    stream = self.open_stream()?;
                }
                Flow::Exit => return Ok(()),
            }
        }
    }

    /// A stream from the resume point.
    fn open_stream(&mut self) -> anyhow::Result<EventStream> {
        let cursor = self.resume.current();
        self.stream_has_cursor = cursor.is_some();
        Ok(self.target.subscription(cursor)?.stream())
    }

    /// Handles one item of the stream.
    fn handle(&mut self, item: Option<Result<ClientEvent, ClientError>>) -> anyhow::Result<Flow> {
        let event = match item {
            None => {
                self.notes.ended();
                return Ok(Flow::Exit);
            }
            Some(Err(error)) if error.is_terminal() => return Err(self.stopped_by(error)),
            Some(Err(error)) => {
                self.skipped(&error);
                return Ok(Flow::Continue);
            }
            Some(Ok(event)) => event,
        };
        self.handle_event(event)
    }

    /// Handles one event of the stream, or note about it.
    fn handle_event(&mut self, event: ClientEvent) -> anyhow::Result<Flow> {
        match event {
            ClientEvent::Log { id, record, data } => self.print(&id, &record, &data)?,
            ClientEvent::Span { id, span } => {
                if self.target.filters.shows_span(&span) {
                    self.printer.print_span(&span).context(WRITING_STDOUT)?;
                }
                self.moved_past(&id);
            }
            ClientEvent::Gap {
                requested,
                resumed_from,
                reason,
            } => {
                self.notes.gap(&requested, &resumed_from, &reason);
                self.moved_past(&resumed_from);
            }
            ClientEvent::Open { cursor, .. } => self.opened(&cursor),
            ClientEvent::Connected => self.notes.connected(),
            ClientEvent::Resumed { cursor } => self.notes.resumed(&cursor),
            ClientEvent::Reconnecting {
                attempt,
                delay,
                reason,
            } => return Ok(self.reconnecting(&reason, delay, attempt)),
            ClientEvent::Heartbeat => self.notes.heartbeat(),
            ClientEvent::Other { id, .. } => self.moved_past(&id),
        }
        Ok(Flow::Continue)
    }

    /// The error that ended the stream, naming the stream and quoting the server's message.
    fn stopped_by(&self, error: ClientError) -> anyhow::Error {
        let url = self.target.stream_url();
        match error {
            ClientError::Refused { status, body } => {
                anyhow!(
                    "following {url}: server answered {status}: {}",
                    error_message(body.as_bytes())
                )
            }
            other => anyhow::Error::new(other).context(format!("following {url}")),
        }
    }

    /// Prints one log event and moves the resume point past it.
    fn print(&mut self, id: &str, record: &LogRecord, data: &str) -> anyhow::Result<()> {
        self.printer.print(record, data).context(WRITING_STDOUT)?;
        self.moved_past(id);
        self.notes.event(id);
        Ok(())
    }

    /// The stream moved past `cursor` (empty: it did not move).
    fn moved_past(&mut self, cursor: &str) {
        if !cursor.is_empty() {
            self.resume.advance(cursor);
            self.stream_has_cursor = true;
        }
    }

    /// `event: open`: the end of a replay, and the resume point of a live stream with no
    /// event yet.
    fn opened(&mut self, latest: &str) {
        self.notes.opened(latest);
        if self.resume.current().is_none() && self.target.starts_live() {
            self.resume.advance(latest);
        }
    }

    /// The connection is gone. A stream without a cursor of its own would come back live,
    /// so it is replaced by one from the resume point, after the same delay.
    fn reconnecting(&mut self, reason: &ReconnectReason, delay: Duration, attempt: u32) -> Flow {
        self.notes.reconnecting(reason, delay, attempt);
        if !self.stream_has_cursor && self.resume.current().is_some() {
            return Flow::Restart { after: delay };
        }
        Flow::Continue
    }

    /// One event could not be shown; the stream moved past it all the same.
    fn skipped(&mut self, error: &ClientError) {
        self.notes.skipped(error);
        match error {
            ClientError::Decode { id, .. } => self.moved_past(id),
            ClientError::EventTooLarge(too_large) => self.moved_past(&too_large.last_event_id),
            _ => {}
        }
    }

    /// The next moment a timer has work: a due save of the cursor file, or a lull that ends
    /// the count of a replay.
    fn wake_at(&self) -> Option<Instant> {
        let save = self.resume.save_due();
        let lull = self.notes.lull_deadline();
        save.into_iter().chain(lull).min()
    }

    fn on_timer(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        if self.notes.lull_deadline().is_some_and(|lull| lull <= now) {
            self.notes.settle();
        }
        self.resume.save_if_due(now)
    }

    /// Flushes stdout and saves the cursor file if its interval has passed.
    fn checkpoint(&mut self) -> anyhow::Result<()> {
        self.printer.flush().context(WRITING_STDOUT)?;
        self.resume.flushed();
        self.resume.save_if_due(Instant::now())
    }

    /// While events keep coming: a checkpoint once the cursor file is due.
    fn checkpoint_if_due(&mut self) -> anyhow::Result<()> {
        match self.resume.save_due() {
            Some(due) if due <= Instant::now() => self.checkpoint(),
            _ => Ok(()),
        }
    }

    /// Flushes stdout, saves the cursor, and turns the outcome into the exit status.
    fn finish(mut self, outcome: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
        let flushed = self.printer.flush().context(WRITING_STDOUT);
        if flushed.is_ok() {
            self.resume.flushed();
        }
        let saved = self.resume.save();
        match outcome.and(flushed) {
            Err(error) if !is_broken_pipe(&error) => {
                if let Err(save_error) = saved {
                    let _ = writeln!(std::io::stderr(), "tracetail: {save_error:#}");
                }
                Err(error)
            }
            // A clean stop, or a reader that went away: both are a success.
            _ => saved.map(|()| ExitCode::SUCCESS),
        }
    }
}

/// A flag that turns true on SIGINT or SIGTERM.
///
/// The handlers are installed before this returns, so a signal from now on stops `tail`
/// cleanly instead of killing it with the cursor unsaved.
fn watch_signals() -> watch::Receiver<bool> {
    use tokio::signal::unix::{SignalKind, signal};

    let (sender, receiver) = watch::channel(false);
    let mut interrupt = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = sender.send(true);
    });
    receiver
}
