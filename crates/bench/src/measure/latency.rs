//! Latency histograms: recorded in microseconds, merged across tasks and processes.
//!
//! An HDR histogram with three significant digits keeps every percentile within 0.1% of the
//! truth in a fixed ~100 KiB, whatever the count. Subscribers share one histogram per process
//! through [`LatencyBatch`], which buffers samples so the lock is taken once per few hundred
//! deliveries. Worker processes ship theirs to the parent as [`Buckets`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The highest latency tracked exactly: one hour, in microseconds. Longer ones count as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// Samples a [`LatencyBatch`] buffers before it takes the shared lock.
const BATCH: usize = 256;

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub(crate) struct Latency {
    histogram: Histogram<u64>,
}

/// Recorded histogram buckets as `[value_us, count]` pairs, the histogram's portable form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Buckets(pub(crate) Vec<[u64; 2]>);

/// The numbers a report shows, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// How many samples.
    pub(crate) count: u64,
    /// Mean.
    pub(crate) mean_ms: f64,
    /// Median.
    pub(crate) p50_ms: f64,
    /// 99th percentile.
    pub(crate) p99_ms: f64,
    /// 99.9th percentile.
    pub(crate) p999_ms: f64,
    /// Largest sample.
    pub(crate) max_ms: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .expect("the bounds are constants that hdrhistogram accepts");
        Self { histogram }
    }

    /// Records one sample in microseconds.
    pub(crate) fn record_micros(&mut self, micros: u64) {
        self.histogram.saturating_record(micros);
    }

    /// Records one sample.
    pub(crate) fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub(crate) fn merge(&mut self, other: &Latency) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms with equal bounds always add");
    }

    /// Adds every sample of a histogram shipped as buckets.
    pub(crate) fn merge_buckets(&mut self, buckets: &Buckets) {
        for &[micros, count] in &buckets.0 {
            let micros = micros.min(MAX_MICROS);
            self.histogram
                .record_n(micros, count)
                .expect("values are clamped to the bounds");
        }
    }

    /// The histogram as portable buckets.
    pub(crate) fn buckets(&self) -> Buckets {
        let pairs = self.histogram.iter_recorded();
        Buckets(
            pairs
                .map(|v| [v.value_iterated_to(), v.count_at_value()])
                .collect(),
        )
    }

    /// The report numbers.
    pub(crate) fn summary(&self) -> Summary {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let histogram = &self.histogram;
        if histogram.is_empty() {
            return Summary::default();
        }
        Summary {
            count: histogram.len(),
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// A per-task buffer in front of a histogram that many tasks share.
#[derive(Debug)]
pub(crate) struct LatencyBatch {
    pending: Vec<u64>,
    shared: Arc<Mutex<Latency>>,
}

impl LatencyBatch {
    /// A buffer that flushes into `shared`.
    pub(crate) fn new(shared: Arc<Mutex<Latency>>) -> Self {
        Self {
            pending: Vec::new(),
            shared,
        }
    }

    /// Records one sample in microseconds, flushing when the buffer is full.
    pub(crate) fn record_micros(&mut self, micros: u64) {
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(BATCH);
        }
        self.pending.push(micros);
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    /// Moves buffered samples into the shared histogram.
    pub(crate) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut shared = self
            .shared
            .lock()
            .expect("no task panics while holding the lock");
        for micros in self.pending.drain(..) {
            shared.record_micros(micros);
        }
    }
}

impl Drop for LatencyBatch {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_percentiles_in_milliseconds() {
        let mut latency = Latency::new();
        for micros in 1..=1000 {
            latency.record_micros(micros * 1000);
        }
        let summary = latency.summary();
        assert_eq!(summary.count, 1000);
        assert!((summary.p50_ms - 500.0).abs() < 1.0, "{summary:?}");
        assert!((summary.p99_ms - 990.0).abs() < 1.0, "{summary:?}");
        assert!((summary.max_ms - 1000.0).abs() < 1.0, "{summary:?}");
    }

    #[test]
    fn buckets_carry_a_histogram_between_processes() {
        let mut original = Latency::new();
        for micros in [3, 3, 150, 20_000, MAX_MICROS * 2] {
            original.record_micros(micros);
        }
        let wire = serde_json::to_string(&original.buckets()).expect("serialize");
        let buckets: Buckets = serde_json::from_str(&wire).expect("deserialize");
        let mut copy = Latency::new();
        copy.merge_buckets(&buckets);
        assert_eq!(copy.summary(), original.summary());
    }

    #[test]
    fn batches_reach_the_shared_histogram_when_dropped() {
        let shared = Arc::new(Mutex::new(Latency::new()));
        let mut batch = LatencyBatch::new(shared.clone());
        for _ in 0..(BATCH + 10) {
            batch.record_micros(7);
        }
        drop(batch);
        assert_eq!(
            shared.lock().expect("lock").summary().count,
            (BATCH + 10) as u64
        );
    }
}
