//! `fanout`: publish at a fixed rate to many subscribers; measure delivery latency and loss.
//!
//! The run has four phases, each bounded: connect every subscriber (all must be live before
//! the first event, or early events would look lost); publish at `--rate` for `--duration`;
//! drain, where each subscriber waits up to `--drain` for acknowledged events it still lacks;
//! report. Server CPU and memory are measured from the start of publishing to the end of the
//! drain, the window in which the hub does the fan-out work.

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::FanoutArgs;
use crate::measure::latency::{Latency, Summary};
use crate::measure::server::{ServerProbe, ServerUsage};
use crate::publish::publisher::{self, Format, PublishReport, PublishSpec};
use crate::report::{self, Report};
use crate::subscribe::Subscribers;
use crate::subscribe::pool::{ReadyReport, StreamReport};
use crate::subscribe::tally::Counts;
use crate::target::{Target, resolve_loopback};

/// Socket read size for subscribers that receive a steady flow.
const READ_BUFFER: usize = 16 * 1024;

/// The result of `fanout`.
#[derive(Debug, Serialize)]
pub(crate) struct FanoutReport {
    command: &'static str,
    target: &'static str,
    subscribers: usize,
    rate: u64,
    duration_seconds: f64,
    payload: usize,
    /// Most events per publish request.
    batch: u64,
    format: Format,
    connect: ReadyReport,
    publish: PublishReport,
    /// Deliveries per second over the publishing time, over all subscribers.
    deliveries_per_second: f64,
    /// Acknowledged events times connected subscribers: perfect delivery.
    deliveries_expected: u64,
    closed_early: u64,
    stream_error: Option<String>,
    counts: Counts,
    latency: Summary,
    server: Option<ServerUsage>,
}

/// Runs `fanout` at `rate` events/s (one step of `--rates`, or `--rate`).
pub(crate) async fn run(
    args: &FanoutArgs,
    rate: u64,
    overall: std::time::Duration,
) -> Result<FanoutReport> {
    let target = args.target.target()?;
    let format = publish_format(&target, args.format)?;
    let publish_url = target.publish_url(format == Format::Otlp);
    resolve_loopback(&publish_url).await?;

    let run_id = rand::random::<u32>();
    let endpoint = target.stream_endpoint().await?;
    let spec = args
        .connect
        .pool_spec(endpoint, args.subscribers, Some(run_id), READ_BUFFER);
    let (subscribers, connect) = Subscribers::open(&spec, args.connect.procs, overall).await?;
    tokio::time::sleep(args.settle).await;

    let probe = args.run.server_pid.map(ServerProbe::start).transpose()?;
    let (publish, acked) = publisher::publish(PublishSpec {
        url: publish_url,
        format,
        rate,
        duration: args.duration,
        batch: args.batch,
        payload: args.payload,
        run: run_id,
        concurrency: args.publishers,
    })
    .await?;
    let acked_count = acked.len();
    let streams = subscribers.finish(acked, args.drain).await;
    let server = probe.map(ServerProbe::stop).transpose()?;

    let measured = Measured {
        connect,
        publish,
        acked: acked_count,
        streams,
        server,
    };
    Ok(build_report(args, rate, &target, format, measured))
}

/// How events reach `target`: as given for tracetail, raw bodies for Nchan.
fn publish_format(target: &Target, requested: Format) -> Result<Format> {
    match target {
        Target::Nchan { .. } => Ok(Format::Raw),
        Target::Tracetail { .. } if requested == Format::Raw => {
            bail!("--format raw is for Nchan; tracetail takes events or otlp")
        }
        Target::Tracetail { .. } => Ok(requested),
    }
}

/// What the phases of a run produced.
struct Measured {
    connect: ReadyReport,
    publish: PublishReport,
    acked: u64,
    streams: StreamReport,
    server: Option<ServerUsage>,
}

fn build_report(
    args: &FanoutArgs,
    rate: u64,
    target: &Target,
    format: Format,
    measured: Measured,
) -> FanoutReport {
    let Measured {
        connect,
        publish,
        acked,
        streams,
        server,
    } = measured;
    let mut latency = Latency::new();
    latency.merge_buckets(&streams.latency);
    FanoutReport {
        command: "fanout",
        target: target.name(),
        subscribers: args.subscribers,
        rate,
        duration_seconds: args.duration.as_secs_f64(),
        payload: args.payload,
        batch: if format == Format::Raw { 1 } else { args.batch },
        format,
        connect,
        deliveries_per_second: streams.counts.deliveries as f64 / publish.seconds.max(1e-9),
        publish,
        deliveries_expected: acked * streams.connected,
        closed_early: streams.closed_early,
        stream_error: streams.first_error,
        counts: streams.counts,
        latency: latency.summary(),
        server,
    }
}

impl FanoutReport {
    /// Why a rate step should be the last: p99 over `stop_p99`, or anything lost or cut.
    pub(crate) fn step_limit(&self, stop_p99: std::time::Duration) -> Option<String> {
        let limit_ms = stop_p99.as_secs_f64() * 1000.0;
        if let Some(problem) = self.inexact() {
            return Some(problem);
        }
        (self.latency.p99_ms > limit_ms)
            .then(|| format!("p99 {:.1} ms passed {limit_ms:.0} ms", self.latency.p99_ms))
    }
}

impl Report for FanoutReport {
    fn inexact(&self) -> Option<String> {
        let counts = &self.counts;
        let problems = [
            (self.connect.failed, "subscribers failed to connect"),
            (counts.lost, "acknowledged deliveries lost"),
            (counts.duplicates, "deliveries duplicated"),
            (self.closed_early, "streams closed early"),
        ];
        let found: Vec<String> = problems
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, what)| format!("{count} {what}"))
            .collect();
        (!found.is_empty()).then(|| found.join(", "))
    }

    fn human(&self) -> String {
        let (publish, counts) = (&self.publish, &self.counts);
        let mut out = format!(
            "fanout to {} subscribers of {} at {} events/s for {:.1} s ({} B, batch <= {}, {:?})\n",
            self.subscribers,
            self.target,
            self.rate,
            self.duration_seconds,
            self.payload,
            self.batch,
            self.format
        );
        let (connected, failed) = (self.connect.connected, self.connect.failed);
        out += &report::line("connected", format!("{connected} ok, {failed} failed"));
        out += &report::line("published", publish_summary(publish));
        out += &report::latency_line("publish latency", &publish.request_latency);
        out += &report::line("deliveries/s", format!("{:.0}", self.deliveries_per_second));
        let expected = self.deliveries_expected;
        out += &report::line("deliveries", format!("{} of {expected}", counts.deliveries));
        out += &report::latency_line("delivery latency", &self.latency);
        let losers = counts.subscribers_with_loss;
        out += &report::line("lost", format!("{} (on {losers} subscribers)", counts.lost));
        let reordered = counts.out_of_order;
        out += &report::line(
            "duplicated",
            format!("{}  reordered {reordered}", counts.duplicates),
        );
        out += &report::line("stream events", stream_summary(counts, self.closed_early));
        for (label, error) in [
            ("connect error", &self.connect.first_error),
            ("publish error", &publish.first_error),
            ("stream error", &self.stream_error),
        ] {
            if let Some(error) = error {
                out += &report::line(label, error);
            }
        }
        out + &report::server_lines(self.server.as_ref())
    }
}

fn publish_summary(publish: &PublishReport) -> String {
    format!(
        "{} sent, {} acked ({:.0}/s), {} requests of {:.1} on average, {} failed",
        publish.events_sent,
        publish.events_acked,
        publish.acked_per_second,
        publish.requests,
        publish.mean_batch,
        publish.failed_requests
    )
}

fn stream_summary(counts: &Counts, closed_early: u64) -> String {
    format!(
        "{} gap, {} heartbeat, {} unexpected, {} foreign; {closed_early} streams closed early",
        counts.gaps, counts.heartbeats, counts.unexpected, counts.foreign
    )
}
