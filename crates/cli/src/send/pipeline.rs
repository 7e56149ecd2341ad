//! The run: reading, batching and delivering side by side, and how the run ends.
//!
//! ```text
//!  input thread ──chunks──> batcher thread ──batches──> delivery tasks (async)
//!  stdin, file, --follow    lines, records, NDJSON      POST /v1/events, retries,
//!                           bodies                      --in-flight at once
//! ```
//!
//! Both channels are bounded, so a slow or absent hub slows reading instead of filling memory.
//! With one request in flight (the default) records are stored in input order.
//!
//! The first SIGINT or SIGTERM stops reading; what was read is still delivered, for at most
//! [`GRACE`]. A second signal, or the end of the grace period, ends the run with whatever was
//! not acknowledged counted in the summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::batch::{Batch, Batcher};
use super::deliver::Hub;
use super::input::{self, Source};
use super::report::{Console, PROGRESS_EVERY, Tally};
use super::{Finished, Settings};

/// How long delivery goes on after the first interrupt.
pub(super) const GRACE: Duration = Duration::from_secs(5);

/// How many closed batches may wait for delivery.
const QUEUED_BATCHES: usize = 8;

/// How delivery ended.
pub(super) enum Delivery {
    /// Everything read was acknowledged (possibly after an interrupt).
    Complete,
    /// Interrupted before everything read was acknowledged.
    Interrupted,
    /// The hub answered in a way retrying cannot fix.
    Failed(anyhow::Error),
}

/// Runs `send` to the end; returns how delivery ended, the input's error if reading failed,
/// and the counters.
pub(super) async fn run(settings: Settings) -> anyhow::Result<Finished> {
    let tally = Arc::new(Tally::default());
    let console = Arc::new(Console::new(settings.quiet));
    let traceparent = settings.traceparent.as_deref();
    let hub = Arc::new(Hub::new(
        settings.endpoint,
        traceparent,
        Arc::clone(&console),
    )?);

    let stop = Arc::new(AtomicBool::new(false));
    let (batches, queued) = mpsc::channel(QUEUED_BATCHES);
    let batcher = Batcher::new(
        settings.defaults,
        settings.multiline,
        batches,
        Arc::clone(&tally),
    );
    let batcher = start(batcher, settings.source, &stop)?;

    let progress = tokio::spawn(draw_progress(Arc::clone(&tally), Arc::clone(&console)));
    let delivery = deliver_all(hub, queued, settings.in_flight, &stop, &tally, &console).await?;
    progress.abort();

    // The batcher ends soon: its input stopped or ended, or its channel closed.
    stop.store(true, Ordering::Relaxed);
    let input = batcher.join().expect("the batcher thread does not panic");
    Ok(Finished {
        delivery,
        input,
        tally,
        console,
    })
}

/// Starts reading `source`, and the batcher on a thread of its own.
fn start(
    batcher: Batcher,
    source: Source,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let chunks = input::spawn(source, Arc::clone(stop))?;
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name("send-batcher".to_string())
        .spawn(move || batcher.run(chunks, &stop))
        .context("starting the batcher thread")
}

/// Takes batches and delivers up to `in_flight` at once until the batcher is done.
async fn deliver_all(
    hub: Arc<Hub>,
    mut queued: mpsc::Receiver<Batch>,
    in_flight: usize,
    stop: &AtomicBool,
    tally: &Arc<Tally>,
    console: &Console,
) -> anyhow::Result<Delivery> {
    let mut interrupts = Interrupts::new()?;
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let mut deadline: Option<Instant> = None;
    let mut reading = true;
    while reading || !tasks.is_empty() {
        tokio::select! {
            () = interrupts.next() => {
                if deadline.is_some() {
                    return Ok(Delivery::Interrupted);
                }
                stop.store(true, Ordering::Relaxed);
                deadline = Some(Instant::now() + GRACE);
                console.say("tracetail send: interrupted; sending what was read \
                             (interrupt again to quit at once)");
            }
            () = sleep_until(deadline) => return Ok(Delivery::Interrupted),
            Some(done) = tasks.join_next() => {
                if let Err(error) = done.context("a delivery task failed")? {
                    return Ok(Delivery::Failed(error));
                }
            }
            batch = queued.recv(), if reading && tasks.len() < in_flight => match batch {
                Some(batch) => {
                    let (hub, tally) = (Arc::clone(&hub), Arc::clone(tally));
                    tasks.spawn(async move { hub.deliver(batch, &tally).await });
                }
                None => reading = false,
            },
        }
    }
    Ok(Delivery::Complete)
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// SIGINT and SIGTERM.
struct Interrupts {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn new() -> anyhow::Result<Interrupts> {
        Ok(Interrupts {
            interrupt: signal(SignalKind::interrupt()).context("handling SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("handling SIGTERM")?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Redraws the progress line with the rate of the last interval.
async fn draw_progress(tally: Arc<Tally>, console: Arc<Console>) {
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    let mut last = (Instant::now(), 0);
    loop {
        ticks.tick().await;
        let lines = tally.lines.load(Ordering::Relaxed);
        let seconds = last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = lines.saturating_sub(last.1) as f64 / seconds;
        last = (Instant::now(), lines);
        console.progress(&tally, rate);
    }
}
