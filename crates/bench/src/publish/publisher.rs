//! Publishes stamped events at a steady rate for a fixed time, recording what was acknowledged.
//!
//! A scheduler wakes every [`TICK`] and sends the events the rate says are due by then, as one
//! request of at most `batch` events on its own task. At most `concurrency` requests are in
//! flight: when the hub answers slower than that allows, events pile up and leave in larger
//! batches, as a batching log shipper would do. Publishing stops at the end of the duration
//! (events due by then get [`LAST_SEND_GRACE`] to find a slot), and the report shows the rate
//! actually achieved.
//!
//! Each request stamps its events with the wall-clock time just before sending, so measured
//! latency includes the hub's ingest (which, for tracetail, includes making the events
//! durable). Concurrent requests may reach the hub in any order, so with more than one in
//! flight, "out of order" counts reflect the publishing, not the hub.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::{describe_failure, http_client, transport_error};
use crate::measure::latency::{Latency, Summary};
use crate::measure::seqset::SeqSet;
use crate::wire::otlp::{self, Record};
use crate::wire::payload::{self, SERVICE, Stamp, now_ns};

/// How often the scheduler sends what is due.
const TICK: Duration = Duration::from_millis(5);

/// How long past the duration the last events may wait for a request slot before they are
/// dropped from the run (and so never sent).
const LAST_SEND_GRACE: Duration = Duration::from_secs(1);

/// How a batch of events travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// NDJSON to `POST /v1/events`.
    Events,
    /// OTLP protobuf to `POST /v1/logs`.
    Otlp,
    /// One JSON object per request, forwarded untouched (Nchan); batches are always 1.
    Raw,
}

/// What to publish.
#[derive(Debug, Clone)]
pub(crate) struct PublishSpec {
    /// Where to send.
    pub(crate) url: Url,
    /// Body format.
    pub(crate) format: Format,
    /// Events per second.
    pub(crate) rate: u64,
    /// How long to publish.
    pub(crate) duration: Duration,
    /// Most events per request (each carries whatever is due, up to this).
    pub(crate) batch: u64,
    /// Bytes of each message.
    pub(crate) payload: usize,
    /// The run id stamped on each event.
    pub(crate) run: u32,
    /// Most requests in flight.
    pub(crate) concurrency: usize,
}

/// What publishing achieved.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PublishReport {
    /// Events sent.
    pub(crate) events_sent: u64,
    /// Events the hub acknowledged.
    pub(crate) events_acked: u64,
    /// Events the hub explicitly refused in a successful answer.
    pub(crate) events_rejected: u64,
    /// Requests sent.
    pub(crate) requests: u64,
    /// Requests that failed (transport error or non-2xx).
    pub(crate) failed_requests: u64,
    /// Events per request, on average.
    pub(crate) mean_batch: f64,
    /// The first failure.
    pub(crate) first_error: Option<String>,
    /// From the first request to the last answer.
    pub(crate) seconds: f64,
    /// Acknowledged events per second.
    pub(crate) acked_per_second: f64,
    /// Request latency.
    pub(crate) request_latency: Summary,
}

/// Shared by the request tasks; read once they have all ended.
#[derive(Debug, Default)]
struct Results {
    report: PublishReport,
    acked: SeqSet,
    latency: Latency,
}

/// Publishes according to `spec`; returns the report and the set of acknowledged sequence numbers.
pub(crate) async fn publish(spec: PublishSpec) -> Result<(PublishReport, SeqSet)> {
    let job = Job {
        client: http_client(spec.concurrency)?,
        spec: Arc::new(spec),
        results: Arc::new(Mutex::new(Results::default())),
    };
    let start = Instant::now();
    let mut in_flight = schedule(&job, start).await;
    while in_flight.join_next().await.is_some() {}

    let results = std::mem::take(&mut *job.results.lock().expect("request tasks have ended"));
    let mut report = results.report;
    report.seconds = start.elapsed().as_secs_f64();
    report.events_acked = results.acked.len();
    report.mean_batch = report.events_sent as f64 / report.requests.max(1) as f64;
    report.acked_per_second = report.events_acked as f64 / report.seconds.max(1e-9);
    report.request_latency = results.latency.summary();
    Ok((report, results.acked))
}

/// What every request task needs.
#[derive(Debug, Clone)]
struct Job {
    client: reqwest::Client,
    spec: Arc<PublishSpec>,
    /// Written by each request task as its answer arrives.
    results: Arc<Mutex<Results>>,
}

/// Starts each request when it is due until the duration ends; returns those still in flight.
async fn schedule(job: &Job, start: Instant) -> JoinSet<()> {
    let spec = &job.spec;
    let max_batch = if spec.format == Format::Raw {
        1
    } else {
        spec.batch.max(1)
    };
    let total = (spec.rate as f64 * spec.duration.as_secs_f64()).round() as u64;
    let due_by = |elapsed: Duration| {
        let due = u128::from(spec.rate) * elapsed.as_nanos() / 1_000_000_000;
        if elapsed >= spec.duration {
            total
        } else {
            (due as u64).min(total)
        }
    };
    let permits = Arc::new(Semaphore::new(spec.concurrency.max(1)));
    let mut requests = JoinSet::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let mut next_seq = 0;
    while next_seq < total {
        ticker.tick().await;
        let ended = start.elapsed() >= spec.duration;
        while next_seq < due_by(start.elapsed()) {
            // A hub slower than the rate holds the permits. Events pile up meanwhile and go
            // in the next, larger batch; publishing still ends on time.
            let permit = permits.clone().acquire_owned();
            let stop_at = start + spec.duration + LAST_SEND_GRACE;
            let Ok(Ok(permit)) = tokio::time::timeout_at(stop_at, permit).await else {
                return requests;
            };
            let count = max_batch.min(due_by(start.elapsed()) - next_seq);
            requests.spawn(send_batch(job.clone(), next_seq..next_seq + count, permit));
            next_seq += count;
        }
        while requests.try_join_next().is_some() {}
        if ended {
            break;
        }
    }
    requests
}

/// Sends one batch and records the answer.
async fn send_batch(job: Job, seqs: Range<u64>, _permit: OwnedSemaphorePermit) {
    let Job {
        client,
        spec,
        results,
    } = job;
    let sent_ns = now_ns();
    let (content_type, body) = encode(&spec, seqs.clone(), sent_ns);
    let started = Instant::now();
    let answer = client
        .post(spec.url.clone())
        .header("content-type", content_type)
        .body(body)
        .send();
    let answer = match answer.await {
        Ok(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            (status.is_success(), Some(status), body)
        }
        Err(error) => (false, None, Bytes::from(transport_error(&error))),
    };
    let elapsed = started.elapsed();

    let mut results = results
        .lock()
        .expect("no request task panics holding the lock");
    results.report.requests += 1;
    results.report.events_sent += seqs.end - seqs.start;
    results.latency.record(elapsed);
    match answer {
        (true, _, body) => acknowledge(&mut results, spec.format, seqs, &body),
        (false, status, body) => {
            results.report.failed_requests += 1;
            results
                .report
                .first_error
                .get_or_insert_with(|| describe_failure(status, &body));
        }
    }
}

/// The content type and body of one batch.
fn encode(spec: &PublishSpec, seqs: Range<u64>, sent_ns: u64) -> (&'static str, Vec<u8>) {
    let (run, size) = (spec.run, spec.payload);
    match spec.format {
        Format::Events => {
            let count = seqs.end - seqs.start;
            (
                "application/x-ndjson",
                payload::ndjson_batch(run, seqs.start, count, sent_ns, size),
            )
        }
        Format::Otlp => {
            let records = seqs.map(|seq| {
                let text = payload::message(Stamp { run, seq, sent_ns }, size);
                Record::with_random_ids(text, sent_ns)
            });
            (
                otlp::CONTENT_TYPE,
                otlp::encode_batch(SERVICE, records).to_vec(),
            )
        }
        Format::Raw => {
            let stamp = Stamp {
                run,
                seq: seqs.start,
                sent_ns,
            };
            ("application/json", payload::json_event(stamp, size))
        }
    }
}

/// Records a successful answer: the batch minus whatever the answer says was refused.
fn acknowledge(results: &mut Results, format: Format, seqs: Range<u64>, body: &[u8]) {
    match format {
        Format::Otlp => match otlp::rejected_records(body) {
            // OTLP does not say which records were refused, so none of the batch counts.
            0 => results.acked.insert_range(seqs),
            rejected => results.report.events_rejected += rejected,
        },
        Format::Events => {
            let Rejections { indices, total } = rejections(body);
            results.report.events_rejected += total;
            if total > indices.len() as u64 {
                // The answer lists only the first rejections: which others failed is unknown.
                return;
            }
            let mut start = seqs.start;
            for index in indices.into_iter().filter(|&i| i < seqs.end - seqs.start) {
                results.acked.insert_range(start..seqs.start + index);
                start = seqs.start + index + 1;
            }
            results.acked.insert_range(start..seqs.end);
        }
        Format::Raw => results.acked.insert_range(seqs),
    }
}

/// The records a `/v1/events` answer refused.
#[derive(Debug, Default, PartialEq, Eq)]
struct Rejections {
    /// Sorted, distinct indices listed in `rejected`.
    indices: Vec<u64>,
    /// `rejected_total` when given (the list may be cut short), else the list's length.
    total: u64,
}

/// Reads `{"rejected": [{"index": i, ..}], "rejected_total": n}`; nothing if the answer is not
/// of that shape.
fn rejections(body: &[u8]) -> Rejections {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        rejected: Vec<Rejected>,
        rejected_total: Option<u64>,
    }
    #[derive(Deserialize)]
    struct Rejected {
        index: u64,
    }
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return Rejections::default();
    };
    let mut indices: Vec<u64> = answer.rejected.iter().map(|r| r.index).collect();
    indices.sort_unstable();
    indices.dedup();
    let total = answer.rejected_total.unwrap_or(0).max(indices.len() as u64);
    Rejections { indices, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_answer_with_rejections_acknowledges_the_rest() {
        let mut results = Results::default();
        let body =
            br#"{"accepted":3,"rejected":[{"index":3,"error":"x"},{"index":1,"error":"y"}]}"#;
        acknowledge(&mut results, Format::Events, 10..15, body);
        assert_eq!(results.acked.pairs(), vec![[10, 11], [12, 13], [14, 15]]);
        assert_eq!(results.report.events_rejected, 2);
    }

    #[test]
    fn a_cut_short_rejection_list_acknowledges_nothing_of_the_batch() {
        let mut results = Results::default();
        let body = br#"{"accepted":1,"rejected":[{"index":0,"error":"x"}],"rejected_total":2}"#;
        acknowledge(&mut results, Format::Events, 0..3, body);
        assert_eq!(results.acked.len(), 0);
        assert_eq!(results.report.events_rejected, 2);
    }

    #[test]
    fn answers_without_details_acknowledge_the_whole_batch() {
        let mut results = Results::default();
        acknowledge(&mut results, Format::Events, 0..4, b"");
        acknowledge(&mut results, Format::Otlp, 4..8, b"");
        acknowledge(&mut results, Format::Raw, 8..9, b"");
        assert_eq!(results.acked.pairs(), vec![[0, 9]]);
    }

    #[test]
    fn batches_are_stamped_with_their_sequence_numbers() {
        let spec = PublishSpec {
            url: Url::parse("http://127.0.0.1:1/").expect("url"),
            format: Format::Events,
            rate: 1,
            duration: Duration::from_secs(1),
            batch: 10,
            payload: 64,
            run: 5,
            concurrency: 1,
        };
        let (content_type, body) = encode(&spec, 7..9, 42);
        assert_eq!(content_type, "application/x-ndjson");
        let stamps: Vec<Stamp> = body
            .split(|&b| b == b'\n')
            .filter_map(payload::find_stamp)
            .collect();
        assert_eq!(
            stamps,
            vec![
                Stamp {
                    run: 5,
                    seq: 7,
                    sent_ns: 42
                },
                Stamp {
                    run: 5,
                    seq: 8,
                    sent_ns: 42
                }
            ]
        );
    }
}
