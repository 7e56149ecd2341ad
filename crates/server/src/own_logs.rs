//! The hub's own logs, stored beside everyone else's as service `tracetail`
//! (`--self-telemetry`).
//!
//! The binary's log layer turns each of its log events into a [`LogEvent`] and offers it to an
//! [`OwnLogSender`]; the server drains the matching [`OwnLogReceiver`] into its store in one
//! task, a batch at a time, so the hub's logs stream and query like any service's. Nothing
//! goes over HTTP.
//!
//! Two rules keep this from feeding itself: the drain task runs inside the span named
//! [`APPEND_SPAN`], and the log layer must ignore events inside it (logs written while own logs
//! are appended); and the queue is bounded: when it is full, new own logs are dropped and
//! counted, and the drain task says how many once it catches up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tracetail_model::LogEvent;
use tracetail_store::EventLog;
use tracing::Instrument;

/// The service name of the hub's own logs.
pub const SERVICE: &str = "tracetail";
/// The name of the span the drain task runs in; logs inside it must not be offered.
pub const APPEND_SPAN: &str = "own_logs_append";
/// Own logs stored per append.
const BATCH: usize = 256;

/// Offers the hub's own logs to the server; cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct OwnLogSender {
    sender: mpsc::Sender<LogEvent>,
    dropped: Arc<AtomicU64>,
}

/// The server's end of the queue, handed over in
/// [`ServerConfig::own_logs`](crate::ServerConfig::own_logs).
#[derive(Clone, Debug)]
pub struct OwnLogReceiver {
    receiver: Arc<Mutex<Option<mpsc::Receiver<LogEvent>>>>,
    dropped: Arc<AtomicU64>,
}

/// A queue of own logs holding at most `capacity` events.
pub fn channel(capacity: usize) -> (OwnLogSender, OwnLogReceiver) {
    let (sender, receiver) = mpsc::channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    let receiver = OwnLogReceiver {
        receiver: Arc::new(Mutex::new(Some(receiver))),
        dropped: dropped.clone(),
    };
    (OwnLogSender { sender, dropped }, receiver)
}

impl OwnLogSender {
    /// Queues `event` for the store; drops and counts it when the queue is full or the
    /// server has stopped.
    pub fn offer(&self, event: LogEvent) {
        if self.sender.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts storing own logs; a receiver works for one server only.
pub(crate) fn spawn_drain(own_logs: &OwnLogReceiver, log: Arc<dyn EventLog>) {
    let receiver = own_logs
        .receiver
        .lock()
        .expect("the own-log receiver lock is never poisoned")
        .take();
    let Some(receiver) = receiver else {
        tracing::warn!("own logs are already stored by another server; not storing them");
        return;
    };
    let dropped = own_logs.dropped.clone();
    let span = tracing::info_span!(APPEND_SPAN);
    tokio::spawn(drain(receiver, dropped, log).instrument(span));
}

async fn drain(
    mut receiver: mpsc::Receiver<LogEvent>,
    dropped: Arc<AtomicU64>,
    log: Arc<dyn EventLog>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let encoded = batch.drain(..).map(|event| event.encode()).collect();
        if let Err(error) = log.append(encoded).await {
            tracing::debug!(%error, "storing own logs failed; stopping");
            return;
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!(
                count = lost,
                "own logs dropped: the queue to the store was full"
            );
        }
    }
}
