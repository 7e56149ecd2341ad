//! `resume`: a storm of reconnecting subscribers, each resuming with `Last-Event-ID`.
//!
//! The run has four phases, each bounded:
//! 1. connect `--subscribers` streams, publish one marker event, and wait until every stream
//!    has it: its `id:` is where each subscriber will resume;
//! 2. disconnect them all;
//! 3. publish `--events` events while nobody listens, one request at a time so the hub stores
//!    them in publishing order;
//! 4. reconnect every subscriber at once with `Last-Event-ID: <marker id>` and wait until each
//!    has every event of phase 3 (or `--drain` passes).
//!
//! The figure is the time from the first reconnect to the last subscriber caught up. The run
//! is exact when no event was lost, none came twice, none came out of order, and nothing else
//! came (the marker again, events of other runs, `gap`).

use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;
use tokio::time::Instant;

use crate::cli::ResumeArgs;
use crate::measure::server::{ServerProbe, ServerUsage};
use crate::publish::publisher::{self, Format, PublishReport, PublishSpec};
use crate::report::{self, Report};
use crate::subscribe::Subscribers;
use crate::subscribe::pool::{ReadyReport, StreamReport};
use crate::subscribe::tally::Counts;
use crate::target::{StreamEndpoint, Target, resolve_loopback};

/// Socket read size: a resuming subscriber gets its backlog in a burst.
const READ_BUFFER: usize = 16 * 1024;

/// Time each phase-1 subscriber has to receive the marker.
const MARKER_DRAIN: Duration = Duration::from_secs(10);

/// The result of `resume`.
#[derive(Debug, Serialize)]
pub(crate) struct ResumeReport {
    command: &'static str,
    target: &'static str,
    subscribers: usize,
    events: u64,
    payload: usize,
    /// Where every subscriber resumed.
    resumed_after: String,
    publish: PublishReport,
    reconnect: ReadyReport,
    /// From the first reconnect until the last subscriber had every event (or gave up).
    catch_up_seconds: f64,
    /// Resumed deliveries per second over the catch-up time.
    deliveries_per_second: f64,
    deliveries_expected: u64,
    closed_early: u64,
    stream_error: Option<String>,
    counts: Counts,
    /// No loss, no duplicates, in order, nothing unexpected, every subscriber reconnected.
    exact: bool,
    server: Option<ServerUsage>,
}

/// Runs `resume`.
pub(crate) async fn run(args: &ResumeArgs, overall: Duration) -> Result<ResumeReport> {
    let target = args.target.target()?;
    let format = match target {
        Target::Nchan { .. } => Format::Raw,
        Target::Tracetail { .. } => Format::Events,
    };
    let publish_url = target.publish_url(false);
    resolve_loopback(&publish_url).await?;
    let endpoint = target.stream_endpoint().await?;
    let publish_spec = |run: u32, events: u64, rate: u64| PublishSpec {
        url: publish_url.clone(),
        format,
        rate,
        duration: Duration::from_secs_f64(events as f64 / rate as f64),
        batch: args.batch,
        payload: args.payload,
        run,
        // One request at a time: the hub stores the events in the order they are numbered.
        concurrency: 1,
    };

    // Phases 1 and 2: every subscriber gets the marker, then disconnects.
    let marker = publish_spec(rand::random(), 1, 100);
    let resumed_after = marker_phase(args, &endpoint, marker, overall).await?;

    // Phase 3: events nobody is connected to see.
    let run_id = rand::random::<u32>();
    let (publish, acked) = publisher::publish(publish_spec(run_id, args.events, args.rate)).await?;
    if publish.events_acked != args.events {
        let why = publish.first_error.as_deref().unwrap_or("no error given");
        bail!(
            "only {} of {} events were acknowledged: {why}",
            publish.events_acked,
            args.events
        );
    }

    // Phase 4: everybody reconnects at once.
    let probe = args.run.server_pid.map(ServerProbe::start).transpose()?;
    let resuming = StreamEndpoint {
        last_event_id: Some(resumed_after.clone()),
        ..endpoint
    };
    let spec = args
        .connect
        .pool_spec(resuming, args.subscribers, Some(run_id), READ_BUFFER);
    let started = Instant::now();
    let (subscribers, reconnect) = Subscribers::open(&spec, args.connect.procs, overall).await?;
    let streams = subscribers.finish(acked, args.drain).await;
    let catch_up = started.elapsed();
    let server = probe.map(ServerProbe::stop).transpose()?;

    let measured = Measured {
        resumed_after,
        publish,
        reconnect,
        streams,
        catch_up,
        server,
    };
    Ok(build_report(args, &target, measured))
}

/// What the phases of a run produced.
struct Measured {
    resumed_after: String,
    publish: PublishReport,
    reconnect: ReadyReport,
    streams: StreamReport,
    catch_up: Duration,
    server: Option<ServerUsage>,
}

/// Connects every subscriber, publishes one event, and returns its id once all have it.
async fn marker_phase(
    args: &ResumeArgs,
    endpoint: &StreamEndpoint,
    marker: PublishSpec,
    overall: Duration,
) -> Result<String> {
    let spec = args.connect.pool_spec(
        endpoint.clone(),
        args.subscribers,
        Some(marker.run),
        READ_BUFFER,
    );
    let (subscribers, ready) = Subscribers::open(&spec, args.connect.procs, overall).await?;
    if ready.failed > 0 {
        let why = ready.first_error.as_deref().unwrap_or("no error given");
        bail!("{} subscribers failed to connect: {why}", ready.failed);
    }
    tokio::time::sleep(args.settle).await;

    let (_, acked) = publisher::publish(marker).await?;
    if acked.len() != 1 {
        bail!("the marker event was not acknowledged");
    }
    // Each subscriber stops once it has the marker; dropping its socket disconnects it.
    let marked = subscribers.finish(acked, MARKER_DRAIN).await;
    if marked.counts.lost > 0 {
        bail!(
            "{} subscribers never received the marker event",
            marked.counts.subscribers_with_loss
        );
    }
    match marked.last_ids.as_slice() {
        [id] => Ok(id.clone()),
        [] => bail!("the marker event arrived without an id: the hub cannot be resumed"),
        ids => bail!("subscribers saw the marker under different ids: {ids:?}"),
    }
}

fn build_report(args: &ResumeArgs, target: &Target, measured: Measured) -> ResumeReport {
    let Measured {
        resumed_after,
        publish,
        reconnect,
        streams,
        catch_up,
        server,
    } = measured;
    let counts = streams.counts;
    let exact = reconnect.failed == 0
        && streams.closed_early == 0
        && counts.lost == 0
        && counts.duplicates == 0
        && counts.out_of_order == 0
        && counts.unexpected == 0
        && counts.foreign == 0
        && counts.gaps == 0;
    ResumeReport {
        command: "resume",
        target: target.name(),
        subscribers: args.subscribers,
        events: args.events,
        payload: args.payload,
        resumed_after,
        publish,
        reconnect,
        catch_up_seconds: catch_up.as_secs_f64(),
        deliveries_per_second: counts.deliveries as f64 / catch_up.as_secs_f64().max(1e-9),
        deliveries_expected: args.events * streams.connected,
        closed_early: streams.closed_early,
        stream_error: streams.first_error,
        counts,
        exact,
        server,
    }
}

impl Report for ResumeReport {
    fn human(&self) -> String {
        let counts = &self.counts;
        let mut out = format!(
            "resume of {} subscribers of {} after {} missed events ({} B)\n",
            self.subscribers, self.target, self.events, self.payload
        );
        out += &report::line("resumed after", &self.resumed_after);
        let (connected, failed) = (self.reconnect.connected, self.reconnect.failed);
        out += &report::line("reconnected", format!("{connected} ok, {failed} failed"));
        out += &report::line("caught up in", format!("{:.3} s", self.catch_up_seconds));
        out += &report::line("deliveries/s", format!("{:.0}", self.deliveries_per_second));
        let expected = self.deliveries_expected;
        out += &report::line("deliveries", format!("{} of {expected}", counts.deliveries));
        out += &report::line(
            "exact",
            format!(
                "{}: {} lost, {} duplicated, {} out of order, {} unexpected, {} foreign, \
                 {} gap, {} closed early",
                if self.exact { "yes" } else { "NO" },
                counts.lost,
                counts.duplicates,
                counts.out_of_order,
                counts.unexpected,
                counts.foreign,
                counts.gaps,
                self.closed_early
            ),
        );
        for (label, error) in [
            ("connect error", &self.reconnect.first_error),
            ("stream error", &self.stream_error),
        ] {
            if let Some(error) = error {
                out += &report::line(label, error);
            }
        }
        out + &report::server_lines(self.server.as_ref())
    }

    fn inexact(&self) -> Option<String> {
        (!self.exact).then(|| "the resume was not exact".to_owned())
    }
}
