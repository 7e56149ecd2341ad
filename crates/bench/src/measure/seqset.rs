//! Sets of sequence numbers kept as sorted ranges: which events were acknowledged, which seen.
//!
//! Delivery is normally in order and complete, so a subscriber's set of seen sequence numbers
//! is one range that grows at its end: constant memory and constant time per event however long
//! the run. Loss or reordering adds a range per hole, so memory follows how badly a hub behaves,
//! not how many events it delivered. The same type holds the publisher's acknowledged numbers,
//! and travels to worker processes as `[start, end)` pairs.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Sorted, disjoint, non-adjacent half-open ranges of `u64`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<[u64; 2]>", into = "Vec<[u64; 2]>")]
pub(crate) struct SeqSet {
    ranges: Vec<Range<u64>>,
}

impl SeqSet {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `seq`; false if it was already there (a duplicate).
    pub(crate) fn insert(&mut self, seq: u64) -> bool {
        // Fast path: in-order arrival extends or follows the last range.
        match self.ranges.last_mut() {
            None => {
                self.ranges.push(seq..seq + 1);
                return true;
            }
            Some(last) if seq == last.end => {
                last.end += 1;
                return true;
            }
            Some(last) if seq > last.end => {
                self.ranges.push(seq..seq + 1);
                return true;
            }
            Some(_) => {}
        }

        // `seq` lies before the end of the last range: find the first range ending after it.
        let at = self.ranges.partition_point(|range| range.end <= seq);
        if self.ranges[at].start <= seq {
            return false;
        }
        let joins_previous = at > 0 && self.ranges[at - 1].end == seq;
        let joins_next = self.ranges[at].start == seq + 1;
        match (joins_previous, joins_next) {
            (true, true) => {
                self.ranges[at - 1].end = self.ranges[at].end;
                self.ranges.remove(at);
            }
            (true, false) => self.ranges[at - 1].end = seq + 1,
            (false, true) => self.ranges[at].start = seq,
            (false, false) => self.ranges.insert(at, seq..seq + 1),
        }
        true
    }

    /// Adds every number in `range`.
    pub(crate) fn insert_range(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        if self.ranges.last().is_none_or(|last| last.end < range.start) {
            self.ranges.push(range);
            return;
        }

        // Merge with every range that overlaps or touches the new one.
        let first = self.ranges.partition_point(|r| r.end < range.start);
        let past = self.ranges.partition_point(|r| r.start <= range.end);
        let mut merged = range;
        if first < past {
            merged.start = merged.start.min(self.ranges[first].start);
            merged.end = merged.end.max(self.ranges[past - 1].end);
        }
        self.ranges.splice(first..past, [merged]);
    }

    /// Whether `seq` is in the set.
    pub(crate) fn contains(&self, seq: u64) -> bool {
        let at = self.ranges.partition_point(|range| range.end <= seq);
        self.ranges.get(at).is_some_and(|range| range.start <= seq)
    }

    /// How many numbers the set holds.
    pub(crate) fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|range| range.end - range.start)
            .sum()
    }

    /// How many numbers are in both sets.
    pub(crate) fn intersection_len(&self, other: &SeqSet) -> u64 {
        let (mut a, mut b) = (
            self.ranges.iter().peekable(),
            other.ranges.iter().peekable(),
        );
        let mut total = 0;
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            let start = x.start.max(y.start);
            let end = x.end.min(y.end);
            total += end.saturating_sub(start);
            if x.end <= y.end {
                a.next();
            } else {
                b.next();
            }
        }
        total
    }

    /// The ranges, in order, as `[start, end)` pairs.
    #[cfg(test)]
    pub(crate) fn pairs(&self) -> Vec<[u64; 2]> {
        self.clone().into()
    }
}

impl From<Vec<[u64; 2]>> for SeqSet {
    fn from(pairs: Vec<[u64; 2]>) -> Self {
        let mut set = SeqSet::new();
        for [start, end] in pairs {
            set.insert_range(start..end);
        }
        set
    }
}

impl From<SeqSet> for Vec<[u64; 2]> {
    fn from(set: SeqSet) -> Self {
        set.ranges
            .into_iter()
            .map(|range| [range.start, range.end])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of(seqs: &[u64]) -> SeqSet {
        let mut set = SeqSet::new();
        for &seq in seqs {
            set.insert(seq);
        }
        set
    }

    #[test]
    fn in_order_delivery_stays_one_range() {
        let set = set_of(&(0..10_000).collect::<Vec<_>>());
        assert_eq!(set.pairs(), vec![[0, 10_000]]);
        assert_eq!(set.len(), 10_000);
    }

    #[test]
    fn duplicates_are_reported_wherever_they_fall() {
        let mut set = set_of(&[0, 1, 2, 5, 6, 9]);
        for seq in [0, 2, 5, 6, 9] {
            assert!(!set.insert(seq), "{seq} is a duplicate");
        }
        assert!(set.insert(3) && set.insert(8) && set.insert(4) && set.insert(7));
        assert_eq!(set.pairs(), vec![[0, 10]]);
    }

    #[test]
    fn holes_are_ranges_and_late_arrivals_fill_them() {
        let mut set = set_of(&[0, 1, 4, 7]);
        assert_eq!(set.pairs(), vec![[0, 2], [4, 5], [7, 8]]);
        assert!(!set.contains(2) && set.contains(4) && !set.contains(8));
        set.insert(6);
        assert_eq!(set.pairs(), vec![[0, 2], [4, 5], [6, 8]]);
    }

    #[test]
    fn insert_range_merges_overlapping_and_touching_ranges() {
        let mut set = SeqSet::new();
        set.insert_range(10..20);
        set.insert_range(0..5);
        set.insert_range(30..40);
        set.insert_range(5..10);
        assert_eq!(set.pairs(), vec![[0, 20], [30, 40]]);
        set.insert_range(15..35);
        assert_eq!(set.pairs(), vec![[0, 40]]);
        set.insert_range(50..50);
        assert_eq!(set.len(), 40);
    }

    #[test]
    fn intersection_counts_shared_numbers() {
        let mut acked = SeqSet::new();
        acked.insert_range(0..100);
        acked.insert_range(200..300);
        let seen = set_of(&[5, 6, 7, 150, 250, 299, 300]);
        assert_eq!(seen.intersection_len(&acked), 5);
        assert_eq!(acked.intersection_len(&seen), 5);
    }

    #[test]
    fn json_form_is_start_end_pairs() {
        let set = set_of(&[1, 2, 3, 7]);
        let json = serde_json::to_string(&set).expect("serialize");
        assert_eq!(json, "[[1,4],[7,8]]");
        assert_eq!(
            serde_json::from_str::<SeqSet>(&json).expect("deserialize"),
            set
        );
    }
}
