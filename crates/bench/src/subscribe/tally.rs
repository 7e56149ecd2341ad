//! What one subscriber saw: deliveries, latency, and its sequence numbers for loss accounting.
//!
//! A [`Tally`] is fed every frame its stream yields. An event counts as a delivery only if its
//! stamp names this run; each first delivery of a sequence number records its latency (receive
//! time minus the stamp's send time, both wall clock on this machine); a second delivery of the
//! same number is a duplicate; a number below the highest seen so far is out of order. Loss is
//! decided at the end against the publisher's acknowledged set: an acknowledged number the
//! subscriber never saw is lost, a seen number nobody acknowledged is unexpected.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::measure::latency::LatencyBatch;
use crate::measure::seqset::SeqSet;
use crate::wire::payload::find_stamp;
use crate::wire::sse::Frame;

/// Counts from one subscriber, or summed over many.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts {
    /// Events of this run received, duplicates included.
    pub(crate) deliveries: u64,
    /// Deliveries of a sequence number already seen.
    pub(crate) duplicates: u64,
    /// First deliveries that arrived after a higher sequence number.
    pub(crate) out_of_order: u64,
    /// Acknowledged events never received.
    pub(crate) lost: u64,
    /// Subscribers that lost at least one event.
    pub(crate) subscribers_with_loss: u64,
    /// Received events that the publisher never saw acknowledged.
    pub(crate) unexpected: u64,
    /// `log` or unnamed events without this run's stamp (other producers, earlier runs).
    pub(crate) foreign: u64,
    /// `event: gap` frames.
    pub(crate) gaps: u64,
    /// `event: heartbeat` frames.
    pub(crate) heartbeats: u64,
    /// `event: open` frames.
    pub(crate) opens: u64,
    /// Frames of any other type.
    pub(crate) other_frames: u64,
}

impl Counts {
    /// Adds `other` into `self`.
    pub(crate) fn add(&mut self, other: &Counts) {
        self.deliveries += other.deliveries;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.lost += other.lost;
        self.subscribers_with_loss += other.subscribers_with_loss;
        self.unexpected += other.unexpected;
        self.foreign += other.foreign;
        self.gaps += other.gaps;
        self.heartbeats += other.heartbeats;
        self.opens += other.opens;
        self.other_frames += other.other_frames;
    }
}

/// One subscriber's running account.
#[derive(Debug)]
pub(crate) struct Tally {
    /// The run whose events count; `None` counts no event as a delivery (idle connections).
    run: Option<u32>,
    counts: Counts,
    frames: u64,
    seen: SeqSet,
    highest: Option<u64>,
    latency: LatencyBatch,
    /// The acknowledged set once publishing has ended, and how many of it are still unseen.
    expected: Option<(Arc<SeqSet>, u64)>,
    /// The `id:` of the last event of this run, where a reconnect would resume.
    last_id: Vec<u8>,
}

impl Tally {
    /// An empty account for events of `run`, recording latency into `latency`.
    pub(crate) fn new(run: Option<u32>, latency: LatencyBatch) -> Self {
        Self {
            run,
            counts: Counts::default(),
            frames: 0,
            seen: SeqSet::new(),
            highest: None,
            latency,
            expected: None,
            last_id: Vec::new(),
        }
    }

    /// Frames of any type received so far.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// Accounts for one frame that arrived at `now_ns` (Unix epoch nanoseconds).
    pub(crate) fn on_frame(&mut self, frame: Frame<'_>, now_ns: u64) {
        self.frames += 1;
        match frame.event {
            b"log" | b"message" => self.on_event(frame.id, frame.data, now_ns),
            b"heartbeat" => self.counts.heartbeats += 1,
            b"gap" => self.counts.gaps += 1,
            b"open" => self.counts.opens += 1,
            _ => self.counts.other_frames += 1,
        }
    }

    fn on_event(&mut self, id: &[u8], data: &[u8], now_ns: u64) {
        let stamp = find_stamp(data).filter(|stamp| Some(stamp.run) == self.run);
        let Some(stamp) = stamp else {
            self.counts.foreign += 1;
            return;
        };
        self.counts.deliveries += 1;
        self.last_id.clear();
        self.last_id.extend_from_slice(id);
        if !self.seen.insert(stamp.seq) {
            self.counts.duplicates += 1;
            return;
        }

        self.latency
            .record_micros(now_ns.saturating_sub(stamp.sent_ns) / 1000);
        if self.highest.is_some_and(|highest| stamp.seq < highest) {
            self.counts.out_of_order += 1;
        }
        self.highest = Some(
            self.highest
                .map_or(stamp.seq, |highest| highest.max(stamp.seq)),
        );
        if let Some((acked, missing)) = &mut self.expected
            && acked.contains(stamp.seq)
        {
            *missing = missing.saturating_sub(1);
        }
    }

    /// Publishing has ended with `acked` acknowledged: from now on, track what is still missing.
    pub(crate) fn expect(&mut self, acked: Arc<SeqSet>) {
        let missing = acked.len() - self.seen.intersection_len(&acked);
        self.expected = Some((acked, missing));
    }

    /// How many acknowledged events are still unseen; `None` before [`Tally::expect`].
    pub(crate) fn missing(&self) -> Option<u64> {
        self.expected.as_ref().map(|(_, missing)| *missing)
    }

    /// The `id:` of the last event of this run received, if any had one.
    pub(crate) fn last_id(&self) -> Option<String> {
        (!self.last_id.is_empty()).then(|| String::from_utf8_lossy(&self.last_id).into_owned())
    }

    /// The final counts, with loss judged against the set given to [`Tally::expect`].
    pub(crate) fn finish(mut self) -> Counts {
        self.latency.flush();
        let mut counts = std::mem::take(&mut self.counts);
        if let Some((acked, _)) = &self.expected {
            let both = self.seen.intersection_len(acked);
            counts.lost = acked.len() - both;
            counts.unexpected = self.seen.len() - both;
            counts.subscribers_with_loss = u64::from(counts.lost > 0);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::measure::latency::Latency;
    use crate::wire::payload::{Stamp, json_event};

    const RUN: u32 = 0xabc;

    fn tally() -> (Tally, Arc<Mutex<Latency>>) {
        let shared = Arc::new(Mutex::new(Latency::new()));
        (
            Tally::new(Some(RUN), LatencyBatch::new(shared.clone())),
            shared,
        )
    }

    fn deliver(tally: &mut Tally, run: u32, seq: u64) {
        deliver_with_id(tally, run, seq, b"");
    }

    fn deliver_with_id(tally: &mut Tally, run: u32, seq: u64, id: &[u8]) {
        let data = json_event(
            Stamp {
                run,
                seq,
                sent_ns: 1_000_000,
            },
            100,
        );
        tally.on_frame(
            Frame {
                id,
                event: b"log",
                data: &data,
            },
            3_000_000,
        );
    }

    fn acked(range: std::ops::Range<u64>) -> Arc<SeqSet> {
        let mut set = SeqSet::new();
        set.insert_range(range);
        Arc::new(set)
    }

    #[test]
    fn complete_in_order_delivery_has_no_loss_and_records_latency() {
        let (mut tally, shared) = tally();
        for seq in 0..100 {
            deliver(&mut tally, RUN, seq);
        }
        tally.expect(acked(0..100));
        assert_eq!(tally.missing(), Some(0));
        let counts = tally.finish();
        assert_eq!(
            (counts.deliveries, counts.lost, counts.duplicates),
            (100, 0, 0)
        );
        let summary = shared.lock().expect("lock").summary();
        assert_eq!((summary.count, summary.p50_ms), (100, 2.0));
    }

    #[test]
    fn last_id_is_that_of_the_last_event_of_this_run() {
        let (mut tally, _) = tally();
        assert_eq!(tally.last_id(), None);
        deliver_with_id(&mut tally, RUN, 0, b"a-1");
        deliver_with_id(&mut tally, RUN + 1, 0, b"a-2");
        assert_eq!(tally.last_id().as_deref(), Some("a-1"));
        deliver_with_id(&mut tally, RUN, 1, b"a-3");
        assert_eq!(tally.last_id().as_deref(), Some("a-3"));
    }

    #[test]
    fn missing_duplicate_and_reordered_events_are_each_counted() {
        let (mut tally, _) = tally();
        for seq in [0, 1, 3, 2, 3, 5] {
            deliver(&mut tally, RUN, seq);
        }
        tally.expect(acked(0..7));
        assert_eq!(tally.missing(), Some(2));
        deliver(&mut tally, RUN, 6);
        assert_eq!(tally.missing(), Some(1));

        let counts = tally.finish();
        assert_eq!(counts.deliveries, 7);
        assert_eq!((counts.duplicates, counts.out_of_order), (1, 1));
        assert_eq!((counts.lost, counts.subscribers_with_loss), (1, 1));
    }

    #[test]
    fn other_runs_and_unacknowledged_events_do_not_hide_loss() {
        let (mut tally, _) = tally();
        deliver(&mut tally, RUN + 1, 0);
        deliver(&mut tally, RUN, 9);
        tally.on_frame(
            Frame {
                id: b"",
                event: b"heartbeat",
                data: b"{}",
            },
            0,
        );
        tally.on_frame(
            Frame {
                id: b"",
                event: b"gap",
                data: b"{}",
            },
            0,
        );
        tally.expect(acked(0..2));
        let counts = tally.finish();
        assert_eq!((counts.foreign, counts.unexpected, counts.lost), (1, 1, 2));
        assert_eq!((counts.heartbeats, counts.gaps), (1, 1));
    }
}
