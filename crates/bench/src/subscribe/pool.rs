//! A pool of subscribers in this process: open them all, then finish them all.
//!
//! The pool spawns one task per subscriber and owns their join handles and the finish signal.
//! [`Pool::open`] returns once every subscriber has connected or failed (bounded by the connect
//! timeout); [`Pool::finish`] hands them the acknowledged set, waits for them to drain, and sums
//! what they saw into one [`StreamReport`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::connection::{self, Finish, Outcome, Shared};
use super::tally::Counts;
use crate::measure::latency::{Buckets, Latency};
use crate::measure::seqset::SeqSet;
use crate::target::StreamEndpoint;

/// How many distinct last event ids a report keeps; one is what a single stream should give.
const MAX_LAST_IDS: usize = 4;

/// Extra time past the drain deadline before subscriber tasks are aborted.
const JOIN_GRACE: Duration = Duration::from_secs(5);

/// Everything needed to open a pool; also what a worker process is given.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PoolSpec {
    /// Where to subscribe.
    pub(crate) endpoint: StreamEndpoint,
    /// How many subscribers.
    pub(crate) count: usize,
    /// The index of the first, so source addresses keep cycling across worker processes.
    pub(crate) first_index: usize,
    /// Loopback source addresses to spread over (0: off).
    pub(crate) source_ips: u8,
    /// Connection attempts in flight at once.
    pub(crate) connect_concurrency: usize,
    /// How long all subscribers together have to connect.
    pub(crate) connect_timeout: Duration,
    /// The run whose events count (`None`: no event counts, for idle connections).
    pub(crate) run: Option<u32>,
    /// Bytes per socket read.
    pub(crate) read_buffer: usize,
}

/// The outcome of the connect phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ReadyReport {
    /// Subscribers that connected.
    pub(crate) connected: u64,
    /// Subscribers that did not.
    pub(crate) failed: u64,
    /// The first connect error, to tell the user what went wrong.
    pub(crate) first_error: Option<String>,
}

impl ReadyReport {
    /// Adds a worker's report into this one.
    pub(crate) fn add(&mut self, other: ReadyReport) {
        self.connected += other.connected;
        self.failed += other.failed;
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// Everything the subscribers saw, summed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StreamReport {
    /// Subscribers that connected.
    pub(crate) connected: u64,
    /// Connected subscribers whose stream ended or broke before they were done.
    pub(crate) closed_early: u64,
    /// The first stream error, if any.
    pub(crate) first_error: Option<String>,
    /// Summed counts.
    pub(crate) counts: Counts,
    /// Publish-to-receive latency of first deliveries.
    pub(crate) latency: Buckets,
    /// The distinct last event ids the subscribers ended on (at most [`MAX_LAST_IDS`]).
    #[serde(default)]
    pub(crate) last_ids: Vec<String>,
}

impl StreamReport {
    /// Adds a worker's report into this one.
    pub(crate) fn add(&mut self, other: StreamReport) {
        self.connected += other.connected;
        self.closed_early += other.closed_early;
        self.first_error = self.first_error.take().or(other.first_error);
        self.counts.add(&other.counts);
        for id in other.last_ids {
            self.add_last_id(id);
        }
        let mut latency = Latency::new();
        latency.merge_buckets(&self.latency);
        latency.merge_buckets(&other.latency);
        self.latency = latency.buckets();
    }

    fn add_outcome(&mut self, outcome: Outcome) {
        if !outcome.connected {
            return;
        }
        self.connected += 1;
        self.closed_early += u64::from(outcome.closed_early);
        if self.first_error.is_none() {
            self.first_error = outcome.error;
        }
        self.counts.add(&outcome.counts);
        if let Some(id) = outcome.last_id {
            self.add_last_id(id);
        }
    }

    fn add_last_id(&mut self, id: String) {
        if self.last_ids.len() < MAX_LAST_IDS && !self.last_ids.contains(&id) {
            self.last_ids.push(id);
        }
    }
}

/// Counts the connect results of `count` subscribers, giving up on stragglers at `give_up`.
async fn collect_ready(
    mut results: mpsc::UnboundedReceiver<Result<(), String>>,
    count: usize,
    give_up: Instant,
) -> ReadyReport {
    let mut ready = ReadyReport::default();
    while ready.connected + ready.failed < count as u64 {
        match tokio::time::timeout_at(give_up, results.recv()).await {
            Ok(Some(Ok(()))) => ready.connected += 1,
            Ok(Some(Err(error))) => {
                ready.failed += 1;
                ready.first_error.get_or_insert(error);
            }
            Ok(None) | Err(_) => break,
        }
    }
    ready.failed = count as u64 - ready.connected;
    ready
}

/// Subscribers running in this process.
#[derive(Debug)]
pub(crate) struct Pool {
    handles: Vec<JoinHandle<Outcome>>,
    finish: watch::Sender<Option<Arc<Finish>>>,
    latency: Arc<Mutex<Latency>>,
}

impl Pool {
    /// Starts every subscriber and waits until each has connected or failed.
    pub(crate) async fn open(spec: &PoolSpec) -> (Pool, ReadyReport) {
        let latency = Arc::new(Mutex::new(Latency::new()));
        let connect_deadline = Instant::now() + spec.connect_timeout;
        let shared = Arc::new(Shared {
            request: spec.endpoint.request(),
            endpoint: spec.endpoint.clone(),
            run: spec.run,
            source_ips: spec.source_ips,
            read_buffer: spec.read_buffer,
            connect_limit: Semaphore::new(spec.connect_concurrency.max(1)),
            connect_deadline,
            latency: latency.clone(),
        });

        let (ready_tx, ready_rx) = mpsc::unbounded_channel();
        let (finish, finish_rx) = watch::channel(None);
        let handles = (0..spec.count)
            .map(|offset| {
                let index = spec.first_index + offset;
                let task =
                    connection::run(index, shared.clone(), ready_tx.clone(), finish_rx.clone());
                tokio::spawn(task)
            })
            .collect();
        drop(ready_tx);

        let ready = collect_ready(ready_rx, spec.count, connect_deadline + JOIN_GRACE).await;
        (
            Pool {
                handles,
                finish,
                latency,
            },
            ready,
        )
    }

    /// Tells every subscriber what was acknowledged, waits up to `drain` for the rest of it
    /// to arrive, and reports.
    pub(crate) async fn finish(self, acked: SeqSet, drain: Duration) -> StreamReport {
        let deadline = Instant::now() + drain;
        let finish = Finish {
            acked: Arc::new(acked),
            deadline,
        };
        self.finish.send_replace(Some(Arc::new(finish)));

        let mut report = StreamReport::default();
        for mut handle in self.handles {
            match tokio::time::timeout_at(deadline + JOIN_GRACE, &mut handle).await {
                Ok(Ok(outcome)) => report.add_outcome(outcome),
                Ok(Err(join_error)) => {
                    report
                        .first_error
                        .get_or_insert(format!("subscriber task: {join_error}"));
                }
                Err(_) => {
                    handle.abort();
                    report
                        .first_error
                        .get_or_insert("subscriber did not stop in time".into());
                }
            }
        }
        let latency = self.latency.lock().expect("subscribers have stopped");
        report.latency = latency.buckets();
        report
    }
}
