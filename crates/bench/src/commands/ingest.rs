//! `ingest`: how many OTLP log records per second the hub acknowledges.
//!
//! `concurrency` workers each send protobuf batches back to back over their own keep-alive
//! connection for `duration`. Bodies are encoded before the clock starts (one per worker, with
//! distinct trace ids), so the generator spends its CPU on HTTP, not on protobuf. Only records
//! in 2xx answers count, minus any the answer's `partialSuccess` rejects.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use bytes::Bytes;
use reqwest::Url;
use serde::Serialize;
use tokio::time::Instant;

use crate::cli::IngestArgs;
use crate::measure::latency::{Latency, Summary};
use crate::measure::server::{ServerProbe, ServerUsage};
use crate::publish::{describe_failure, http_client, transport_error};
use crate::report::{self, Report};
use crate::target::{Target, resolve_loopback};
use crate::wire::otlp::{self, Record};
use crate::wire::payload::now_ns;

/// Pause after a failed request, so a refused connection does not become a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// The result of `ingest`.
#[derive(Debug, Serialize)]
pub(crate) struct IngestReport {
    command: &'static str,
    url: String,
    batch: usize,
    concurrency: usize,
    payload: usize,
    seconds: f64,
    records_acked: u64,
    records_rejected: u64,
    records_per_second: f64,
    requests_ok: u64,
    requests_failed: u64,
    requests_per_second: f64,
    first_error: Option<String>,
    request_latency: Summary,
    server: Option<ServerUsage>,
}

/// One worker's account.
#[derive(Debug, Default)]
struct WorkerTally {
    ok: u64,
    failed: u64,
    acked: u64,
    rejected: u64,
    first_error: Option<String>,
    latency: Latency,
}

/// Runs `ingest`.
pub(crate) async fn run(args: &IngestArgs) -> Result<IngestReport> {
    if args.batch == 0 || args.concurrency == 0 {
        bail!("--batch and --concurrency must be at least 1");
    }
    let url = Target::from_urls(&args.url, "", None, None)?.publish_url(true);
    resolve_loopback(&url).await?;
    let client = http_client(args.concurrency)?;
    let bodies: Vec<Bytes> = (0..args.concurrency)
        .map(|worker| body(args, worker))
        .collect();

    let probe = args.run.server_pid.map(ServerProbe::start).transpose()?;
    let started = Instant::now();
    let deadline = started + args.duration;
    let url = Arc::new(url);
    let workers: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(worker(client, url, body, args.batch, deadline))
        })
        .collect();
    let mut total = WorkerTally::default();
    for handle in workers {
        total.add(handle.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let server = probe.map(ServerProbe::stop).transpose()?;
    if total.ok == 0 {
        let why = total
            .first_error
            .as_deref()
            .unwrap_or("no request finished");
        bail!("no request to {url} succeeded: {why}");
    }
    Ok(IngestReport::new(args, &url, seconds, total, server))
}

impl IngestReport {
    fn new(
        args: &IngestArgs,
        url: &Url,
        seconds: f64,
        total: WorkerTally,
        server: Option<ServerUsage>,
    ) -> Self {
        IngestReport {
            command: "ingest",
            url: url.to_string(),
            batch: args.batch,
            concurrency: args.concurrency,
            payload: args.payload,
            seconds,
            records_acked: total.acked,
            records_rejected: total.rejected,
            records_per_second: total.acked as f64 / seconds,
            requests_ok: total.ok,
            requests_failed: total.failed,
            requests_per_second: total.ok as f64 / seconds,
            first_error: total.first_error,
            request_latency: total.latency.summary(),
            server,
        }
    }
}

/// One worker's batch body.
fn body(args: &IngestArgs, worker: usize) -> Bytes {
    let now = now_ns();
    let records = (0..args.batch).map(|index| {
        let mut text = format!("bench ingest worker={worker} record={index} ");
        let pad = args.payload.saturating_sub(text.len());
        text.extend(std::iter::repeat_n('x', pad));
        Record::with_random_ids(text, now)
    });
    otlp::encode_batch(&args.service, records)
}

async fn worker(
    client: reqwest::Client,
    url: Arc<Url>,
    body: Bytes,
    batch: usize,
    deadline: Instant,
) -> WorkerTally {
    let mut tally = WorkerTally::default();
    while Instant::now() < deadline {
        let started = Instant::now();
        let request = client
            .post(url.as_str())
            .header("content-type", otlp::CONTENT_TYPE)
            .body(body.clone())
            .send();
        let answer = match tokio::time::timeout_at(deadline + Duration::from_secs(5), request).await
        {
            Ok(Ok(response)) => {
                let status = response.status();
                (status, response.bytes().await.unwrap_or_default())
            }
            Ok(Err(error)) => {
                tally.fail(transport_error(&error)).await;
                continue;
            }
            Err(_) => {
                tally
                    .fail("request still unanswered after the run ended".into())
                    .await;
                break;
            }
        };
        tally.latency.record(started.elapsed());
        let (status, answer_body) = answer;
        if status.is_success() {
            let rejected = otlp::rejected_records(&answer_body).min(batch as u64);
            tally.ok += 1;
            tally.rejected += rejected;
            tally.acked += batch as u64 - rejected;
        } else {
            tally
                .fail(describe_failure(Some(status), &answer_body))
                .await;
        }
    }
    tally
}

impl WorkerTally {
    fn add(&mut self, other: WorkerTally) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.acked += other.acked;
        self.rejected += other.rejected;
        self.first_error = self.first_error.take().or(other.first_error);
        self.latency.merge(&other.latency);
    }

    async fn fail(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
        tokio::time::sleep(ERROR_BACKOFF).await;
    }
}

impl Report for IngestReport {
    fn human(&self) -> String {
        let mut out = format!(
            "ingest {} for {:.1} s: {} connections, {} records x {} B per request\n",
            self.url, self.seconds, self.concurrency, self.batch, self.payload
        );
        out += &report::line("records/s", format!("{:.0}", self.records_per_second));
        out += &report::line("requests/s", format!("{:.1}", self.requests_per_second));
        out += &report::line(
            "records",
            format!(
                "{} acked, {} rejected",
                self.records_acked, self.records_rejected
            ),
        );
        out += &report::line(
            "requests",
            format!("{} ok, {} failed", self.requests_ok, self.requests_failed),
        );
        out += &report::latency_line("request latency", &self.request_latency);
        if let Some(error) = &self.first_error {
            out += &report::line("first error", error);
        }
        out + &report::server_lines(self.server.as_ref())
    }
}
