//! Counting what the OTLP exporters delivered, so the demo can say what the hub accepted.
//!
//! The SDK's batch processors export on their own threads and only report failures through
//! OpenTelemetry's internal logs. [`Counting`] wraps an exporter, counts the records of each
//! batch it exported or failed to export, and keeps the first failure's message for the summary.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Records exported and lost by every exporter sharing it, for one kind of signal.
#[derive(Debug, Default)]
pub(super) struct ExportStats {
    /// Records in batches the endpoint acknowledged.
    accepted: AtomicU64,
    /// Records in batches that failed after the exporter's own retries.
    failed: AtomicU64,
    /// The message of the first failed export, kept for the summary.
    first_error: Mutex<Option<String>>,
}

impl ExportStats {
    /// Records in batches the endpoint acknowledged.
    pub(super) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Records in batches that failed after the exporter's own retries.
    pub(super) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The message of the first failed export, if any failed.
    pub(super) fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .expect("no panics while holding the lock")
            .clone()
    }

    fn record(&self, count: usize, result: &OTelSdkResult) {
        let count = u64::try_from(count).expect("a batch fits in u64");
        match result {
            Ok(()) => {
                self.accepted.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => {
                self.failed.fetch_add(count, Ordering::Relaxed);
                let mut first = self
                    .first_error
                    .lock()
                    .expect("no panics while holding the lock");
                first.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// An exporter that counts into shared [`ExportStats`] what the wrapped exporter delivered.
#[derive(Debug)]
pub(super) struct Counting<E> {
    inner: E,
    stats: Arc<ExportStats>,
}

impl<E> Counting<E> {
    /// Wraps `inner`, counting into `stats`.
    pub(super) fn new(inner: E, stats: Arc<ExportStats>) -> Self {
        Counting { inner, stats }
    }
}

impl<E: LogExporter> LogExporter for Counting<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let count = batch.iter().count();
        let result = self.inner.export(batch).await;
        self.stats.record(count, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: SpanExporter> SpanExporter for Counting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let count = batch.len();
        let result = self.inner.export(batch).await;
        self.stats.record(count, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
