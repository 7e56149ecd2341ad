//! Measures append throughput of the embedded log: 200,000 events of about 250 bytes,
//! appended in batches of 512 by 16 concurrent tasks, each batch durable before the next.
//!
//! ```text
//! cargo run --release -p tracetail-store --example append_throughput [-- <data-dir>]
//! ```
//!
//! Without a directory argument it writes to a fresh temporary directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Map;
use tracetail_model::{EncodedEvent, Level, LogEvent, TraceId};
use tracetail_store::embedded::{EmbeddedLog, EmbeddedOptions};
use tracetail_store::{CommitListener, EventLog};

const EVENTS: usize = 200_000;
const BATCH: usize = 512;
const TASKS: usize = 16;

fn sample(n: usize) -> EncodedEvent {
    LogEvent {
        ts_nanos: 1_700_000_000_000_000_000 + n as u64,
        level: Level::Info,
        severity: 9,
        message: format!("GET /api/orders/{n} 200 in 12ms user=alice@example.com region=eu-west-1"),
        service: "checkout".into(),
        trace_id: Some(TraceId([(n % 251) as u8 + 1; 16])),
        span_id: None,
        attributes: Map::new(),
        resource: Map::new(),
    }
    .encode()
}

/// The events cut into batches, dealt round-robin to the tasks.
fn task_queues() -> Vec<Vec<Vec<EncodedEvent>>> {
    let mut queues: Vec<Vec<Vec<EncodedEvent>>> = (0..TASKS).map(|_| Vec::new()).collect();
    let numbers: Vec<usize> = (0..EVENTS).collect();
    for (index, chunk) in numbers.chunks(BATCH).enumerate() {
        queues[index % TASKS].push(chunk.iter().map(|&n| sample(n)).collect());
    }
    queues
}

/// Runs every queue on its own task, each append awaited before the next; returns the time.
async fn append_all(log: &Arc<EmbeddedLog>, queues: Vec<Vec<Vec<EncodedEvent>>>) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = queues
        .into_iter()
        .map(|queue| {
            let log = Arc::clone(log);
            tokio::spawn(async move {
                for batch in queue {
                    log.append(batch).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("appending task");
    }
    started.elapsed()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let heard = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&heard);
    let listener: CommitListener =
        Arc::new(move |batch| _ = counter.fetch_add(batch.len() as u64, Ordering::Relaxed));
    let options = EmbeddedOptions {
        dir,
        retention_age: Duration::from_secs(24 * 3600),
        retention_size: 1 << 30,
    };
    let log = EmbeddedLog::open(options, listener)?;

    let queues = task_queues();
    let json_bytes: usize = queues
        .iter()
        .flatten()
        .flatten()
        .map(EncodedEvent::len)
        .sum();
    let elapsed = append_all(&log, queues).await;

    println!(
        "{EVENTS} events ({} bytes of JSON each on average) in {:.2?}: {:.0} records/s, \
         {} group commits, listener heard {}",
        json_bytes / EVENTS,
        elapsed,
        EVENTS as f64 / elapsed.as_secs_f64(),
        log.commits(),
        heard.load(Ordering::Relaxed),
    );
    log.close()?;
    Ok(())
}
