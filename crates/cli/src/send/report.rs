//! What `send` tells the user: counters, the progress line, warnings and the summary.
//!
//! [`Tally`] is shared by the batcher (lines and records made) and the delivery tasks (what
//! the hub answered), updated once per chunk or per batch. [`Console`] owns stderr: a
//! warning first clears the progress line, so the two never garble each other. The progress
//! line is drawn only on a terminal, from one second into the run, at most four times a second.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many rejections the summary lists.
const LISTED_REJECTIONS: usize = 5;

/// How often the progress line is redrawn.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How long a run lasts before the progress line appears.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// Counters of one run.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Lines read, blank ones included.
    pub(super) lines: AtomicU64,
    /// Bytes read.
    pub(super) bytes: AtomicU64,
    /// Records made of those lines.
    pub(super) records: AtomicU64,
    /// Records the hub answered for, accepted or rejected.
    pub(super) acknowledged: AtomicU64,
    /// What became of the records.
    outcome: Mutex<Outcome>,
}

/// What became of the records, for the summary.
#[derive(Debug, Default, Clone)]
pub(super) struct Outcome {
    /// Records the hub stored.
    pub(super) accepted: u64,
    /// Records the hub rejected, or `send` did not send (too long).
    pub(super) rejected: u64,
    /// The first rejections: line number and reason.
    pub(super) listed: Vec<(u64, String)>,
    /// Records whose request was retried after an answer was lost.
    pub(super) possible_duplicates: u64,
}

impl Tally {
    /// Counts a record `send` itself refused to send.
    pub(super) fn reject_locally(&self, line: u64, error: String) {
        let mut outcome = self
            .outcome
            .lock()
            .expect("no panic while holding the tally");
        outcome.rejected += 1;
        if outcome.listed.len() < LISTED_REJECTIONS {
            outcome.listed.push((line, error));
        }
    }

    /// Counts the hub's answer for `records` records.
    pub(super) fn acknowledge(&self, records: u64, answer: Acknowledged) {
        let mut outcome = self
            .outcome
            .lock()
            .expect("no panic while holding the tally");
        outcome.accepted += answer.accepted;
        outcome.rejected += answer.rejected;
        let room = LISTED_REJECTIONS.saturating_sub(outcome.listed.len());
        outcome.listed.extend(answer.listed.into_iter().take(room));
        if answer.maybe_duplicated {
            outcome.possible_duplicates += answer.accepted;
        }
        self.acknowledged.fetch_add(records, Ordering::Relaxed);
    }

    /// A copy of the outcome so far.
    pub(super) fn outcome(&self) -> Outcome {
        self.outcome
            .lock()
            .expect("no panic while holding the tally")
            .clone()
    }
}

/// The hub's answer for one batch, with line numbers in place of batch indexes.
#[derive(Debug, Default)]
pub(super) struct Acknowledged {
    /// Records stored.
    pub(super) accepted: u64,
    /// Records rejected.
    pub(super) rejected: u64,
    /// Rejections the hub listed: line number and reason.
    pub(super) listed: Vec<(u64, String)>,
    /// Whether an earlier attempt may have stored the batch already.
    pub(super) maybe_duplicated: bool,
}

/// Writes to stderr, keeping the progress line out of the way of other messages.
#[derive(Debug)]
pub(super) struct Console {
    /// Whether progress is drawn: stderr is a terminal and `--quiet` is off.
    progress: bool,
    /// Whether a progress line is on the screen now.
    drawn: Mutex<bool>,
    /// When the run started.
    started: Instant,
}

impl Console {
    /// A console; progress is drawn only when stderr is a terminal and `quiet` is off.
    pub(super) fn new(quiet: bool) -> Console {
        Console {
            progress: !quiet && std::io::stderr().is_terminal(),
            drawn: Mutex::new(false),
            started: Instant::now(),
        }
    }

    /// When the run started.
    pub(super) fn started(&self) -> Instant {
        self.started
    }

    /// Prints a message on a line of its own.
    pub(super) fn say(&self, message: &str) {
        let mut drawn = self.drawn.lock().expect("no panic while printing");
        let clear = if *drawn { "\r\x1b[K" } else { "" };
        *drawn = false;
        let _ = writeln!(std::io::stderr().lock(), "{clear}{message}");
    }

    /// Redraws the progress line, if progress is shown and the run has lasted long enough.
    pub(super) fn progress(&self, tally: &Tally, lines_per_second: f64) {
        if !self.progress || self.started.elapsed() < PROGRESS_AFTER {
            return;
        }
        let line = format!(
            "{} lines, {}, {} lines/s, {} records acknowledged",
            grouped(tally.lines.load(Ordering::Relaxed)),
            size(tally.bytes.load(Ordering::Relaxed)),
            grouped(lines_per_second as u64),
            grouped(tally.acknowledged.load(Ordering::Relaxed)),
        );
        let mut drawn = self.drawn.lock().expect("no panic while printing");
        *drawn = true;
        let _ = write!(std::io::stderr().lock(), "\r\x1b[K{line}");
    }
}

/// The summary of a run, one line per fact.
pub(super) fn summary(tally: &Tally, elapsed: Duration) -> Vec<String> {
    let lines = tally.lines.load(Ordering::Relaxed);
    let records = tally.records.load(Ordering::Relaxed);
    let outcome = tally.outcome();
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let mut text = vec![format!(
        "tracetail send: {} read ({}) in {seconds:.2} s, {} lines/s",
        counted(lines, "line", "lines"),
        size(tally.bytes.load(Ordering::Relaxed)),
        grouped((lines as f64 / seconds) as u64),
    )];

    let unacknowledged = records.saturating_sub(outcome.accepted + outcome.rejected);
    let mut counts = format!(
        "  {}: {} accepted, {} rejected",
        counted(records, "record", "records"),
        grouped(outcome.accepted),
        grouped(outcome.rejected),
    );
    if unacknowledged > 0 {
        counts.push_str(&format!(", {} not acknowledged", grouped(unacknowledged)));
    }
    text.push(counts);

    for (line, error) in &outcome.listed {
        text.push(format!("  line {line}: {error}"));
    }
    let unlisted = outcome.rejected.saturating_sub(outcome.listed.len() as u64);
    if unlisted > 0 {
        text.push(format!("  and {} more rejected", grouped(unlisted)));
    }
    if outcome.possible_duplicates > 0 {
        text.push(format!(
            "  {} may have been delivered twice (a request was retried after its answer was lost)",
            counted(outcome.possible_duplicates, "record", "records")
        ));
    }
    text
}

/// `1234567` as `1,234,567`.
pub(super) fn grouped(number: u64) -> String {
    let digits = number.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `1 record`, `2 records`.
pub(super) fn counted(number: u64, one: &str, many: &str) -> String {
    let noun = if number == 1 { one } else { many };
    format!("{} {noun}", grouped(number))
}

fn size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn the_summary_lists_the_first_rejections_duplicates_and_what_was_not_acknowledged() {
        let tally = Tally::default();
        tally.lines.store(12, Ordering::Relaxed);
        tally.bytes.store(12, Ordering::Relaxed);
        tally.records.store(10, Ordering::Relaxed);
        let listed = (1..=6).map(|line| (line, format!("bad {line}"))).collect();
        let answer = Acknowledged {
            accepted: 2,
            rejected: 6,
            listed,
            maybe_duplicated: true,
        };
        tally.acknowledge(8, answer);
        let text = summary(&tally, Duration::from_secs(2)).join("\n");
        assert!(
            text.contains("12 lines read (12 B) in 2.00 s, 6 lines/s"),
            "{text}"
        );
        assert!(text.contains("10 records: 2 accepted, 6 rejected, 2 not acknowledged"));
        assert!(
            text.contains("  line 5: bad 5\n  and 1 more rejected"),
            "{text}"
        );
        assert!(text.contains("2 records may have been delivered twice"));
    }
}
