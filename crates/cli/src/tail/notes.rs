//! What `tail` tells the person on stderr: reconnects, resumes with how much was replayed,
//! gaps, skipped events. One line each, all starting with `tracetail: `, so stdout holds
//! nothing but events.
//!
//! **Counting a replay.** After a reconnect the server first sends the events stored after
//! the cursor, then live ones, with no marker between. Its `open` event names its latest
//! cursor, though: when the event with that cursor arrives, the replay is over and the count
//! is exact (`replayed 42 missed events`). A filter may hide that event; then the count ends
//! at the first heartbeat or after [`LULL`] without events, and says what it is: every event
//! since resuming, missed and new (`caught up: 42 events since resuming`).

use std::io::Write;
use std::time::{Duration, Instant};

use tracetail_client::{ClientError, GapReason, ReconnectReason};

/// A pause this long after a resume means the replay is over.
pub(super) const LULL: Duration = Duration::from_secs(1);

/// Where the stream stands with respect to a resume.
#[derive(Debug)]
enum Replay {
    /// Nothing to count.
    Live,
    /// Resumed after `after`; `count` events have arrived since.
    Counting {
        /// The cursor resumed after.
        after: String,
        /// The server's latest cursor when the stream opened: the end of the replay.
        end: Option<String>,
        /// Events since the resume.
        count: u64,
        /// When the last event or note arrived.
        last_seen: Instant,
    },
}

/// The stderr side of `tail`.
pub(super) struct Notes {
    /// Where notes go: stderr outside tests.
    out: Box<dyn Write>,
    replay: Replay,
    /// Whether any connection was made yet: the first one goes unannounced.
    connected_before: bool,
}

impl Notes {
    /// Notes to stderr.
    pub(super) fn stderr() -> Notes {
        Notes::new(Box::new(std::io::stderr()))
    }

    fn new(out: Box<dyn Write>) -> Notes {
        Notes {
            out,
            replay: Replay::Live,
            connected_before: false,
        }
    }

    /// A connection without a cursor: live, or replaying from `--since`.
    pub(super) fn connected(&mut self) {
        if self.connected_before {
            self.say(format_args!("reconnected"));
        }
        self.connected_before = true;
    }

    /// A connection resuming after `cursor`.
    pub(super) fn resumed(&mut self, cursor: &str) {
        self.say(format_args!("resumed after {cursor}"));
        self.connected_before = true;
        self.replay = Replay::Counting {
            after: cursor.to_string(),
            end: None,
            count: 0,
            last_seen: Instant::now(),
        };
    }

    /// `event: open`, naming the server's latest cursor.
    pub(super) fn opened(&mut self, latest: &str) {
        let Replay::Counting { after, end, .. } = &mut self.replay else {
            return;
        };
        if after != latest {
            *end = Some(latest.to_string());
            return;
        }
        self.replay = Replay::Live;
        self.say(format_args!("nothing missed"));
    }

    /// An event with cursor `id` was printed.
    pub(super) fn event(&mut self, id: &str) {
        let Replay::Counting {
            end,
            count,
            last_seen,
            ..
        } = &mut self.replay
        else {
            return;
        };
        *count += 1;
        *last_seen = Instant::now();
        if end.as_deref() == Some(id) {
            let count = *count;
            self.replay = Replay::Live;
            self.say(format_args!("replayed {count} missed events"));
        }
    }

    /// The server sent a heartbeat: it had nothing more to send.
    pub(super) fn heartbeat(&mut self) {
        self.settle();
    }

    /// When a pause would end the count of a replay, if one is being counted.
    pub(super) fn lull_deadline(&self) -> Option<Instant> {
        match &self.replay {
            Replay::Counting { last_seen, .. } => Some(*last_seen + LULL),
            Replay::Live => None,
        }
    }

    /// Ends the count of a replay whose end was not seen.
    pub(super) fn settle(&mut self) {
        if let Replay::Counting { count, .. } = self.replay {
            self.replay = Replay::Live;
            self.say(format_args!("caught up: {count} events since resuming"));
        }
    }

    /// The connection is gone; the next attempt starts after `delay`.
    pub(super) fn reconnecting(&mut self, reason: &ReconnectReason, delay: Duration, attempt: u32) {
        self.settle();
        self.say(format_args!(
            "{reason}; reconnecting in {:.1}s (attempt {attempt})",
            delay.as_secs_f64()
        ));
    }

    /// The server could not resume exactly where asked.
    pub(super) fn gap(&mut self, requested: &str, resumed_from: &str, reason: &GapReason) {
        let why = match reason {
            GapReason::Unknown => "it is from another store or from before the data was wiped",
            GapReason::Evicted => "retention has removed the events after it",
            GapReason::Future => "it is ahead of the server's latest event",
            GapReason::Malformed => "it is not a cursor",
            GapReason::Other(reason) => reason,
        };
        self.say(format_args!(
            "GAP: cannot resume after {requested:?}: {why}; continuing after {resumed_from:?}, \
             events may be missing"
        ));
    }

    /// An event that could not be shown, and why; the stream goes on.
    pub(super) fn skipped(&mut self, error: &ClientError) {
        self.say(format_args!("skipped an event: {error}"));
    }

    /// The server answered 204: it has no stream for this client.
    pub(super) fn ended(&mut self) {
        self.say(format_args!(
            "the server ended the subscription (204 No Content)"
        ));
    }

    /// Writes one note. A closed stderr is no reason to stop following the stream.
    fn say(&mut self, note: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "tracetail: {note}");
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// A writer whose text the test can read while [`Notes`] owns it.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.borrow_mut())).expect("utf-8")
        }
    }

    fn notes() -> (Notes, Shared) {
        let out = Shared::default();
        (Notes::new(Box::new(out.clone())), out)
    }

    #[test]
    fn a_replay_is_counted_exactly_up_to_the_cursor_open_named() {
        let (mut notes, out) = notes();
        notes.connected();
        assert_eq!(out.take(), "", "the first connection goes unannounced");
        notes.resumed("e-10");
        notes.opened("e-13");
        for id in ["e-11", "e-12", "e-13", "e-14"] {
            notes.event(id);
        }
        assert_eq!(
            out.take(),
            "tracetail: resumed after e-10\ntracetail: replayed 3 missed events\n"
        );
        assert_eq!(notes.lull_deadline(), None, "live again");
    }

    #[test]
    fn a_replay_whose_end_is_filtered_out_settles_at_a_heartbeat_and_says_so() {
        let (mut notes, out) = notes();
        notes.resumed("e-10");
        notes.opened("e-20");
        notes.event("e-12");
        assert!(notes.lull_deadline().is_some());
        notes.heartbeat();
        let text = out.take();
        assert!(
            text.ends_with("tracetail: caught up: 1 events since resuming\n"),
            "{text}"
        );
    }

    #[test]
    fn a_resume_with_nothing_new_says_so_at_once() {
        let (mut notes, out) = notes();
        notes.resumed("e-10");
        notes.opened("e-10");
        assert_eq!(
            out.take(),
            "tracetail: resumed after e-10\ntracetail: nothing missed\n"
        );
    }

    #[test]
    fn reconnects_and_gaps_are_one_marked_line_each() {
        let (mut notes, out) = notes();
        let delay = Duration::from_millis(1500);
        notes.reconnecting(&ReconnectReason::Status(503), delay, 2);
        notes.gap("e-1", "f-0", &GapReason::Evicted);
        assert_eq!(
            out.take(),
            "tracetail: server answered 503; reconnecting in 1.5s (attempt 2)\n\
             tracetail: GAP: cannot resume after \"e-1\": retention has removed the events \
             after it; continuing after \"f-0\", events may be missing\n"
        );
    }
}
