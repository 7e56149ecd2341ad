//! `idle`: what an open, quiet SSE connection costs the server in memory (and CPU).
//!
//! The server's RSS is read before any connection opens and again once every connection is
//! established; the difference divided by the connections is the cost of one. The connections
//! are then held for `--hold` while the server sends only heartbeats, and the report tells how
//! many survived, the heartbeats they got, and the server's CPU during the hold.

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::IdleArgs;
use crate::measure::seqset::SeqSet;
use crate::measure::server::{ServerProbe, ServerUsage, rss_bytes};
use crate::report::{self, Report};
use crate::subscribe::Subscribers;
use crate::subscribe::pool::ReadyReport;

/// Socket read size for connections that only ever get heartbeats.
const READ_BUFFER: usize = 2 * 1024;

/// Time for the server's memory to settle after the last connection opens.
const SETTLE: Duration = Duration::from_millis(500);

/// The result of `idle`.
#[derive(Debug, Serialize)]
pub(crate) struct IdleReport {
    command: &'static str,
    target: &'static str,
    connections: usize,
    hold_seconds: f64,
    connect: ReadyReport,
    connect_seconds: f64,
    /// Connections open at the end of the hold.
    still_open: u64,
    heartbeats: u64,
    stream_error: Option<String>,
    rss_before_bytes: Option<u64>,
    rss_connected_bytes: Option<u64>,
    /// (RSS once connected − RSS before) / connections established.
    bytes_per_connection: Option<f64>,
    /// Server usage during the hold.
    server: Option<ServerUsage>,
}

/// Runs `idle`.
pub(crate) async fn run(args: &IdleArgs, overall: Duration) -> Result<IdleReport> {
    let target = args.target.target()?;
    let endpoint = target.stream_endpoint().await?;
    let spec = args
        .connect
        .pool_spec(endpoint, args.connections, None, READ_BUFFER);

    let pid = args.run.server_pid;
    let rss_before = pid
        .map(rss_bytes)
        .transpose()
        .context("reading the server's RSS")?;
    let started = tokio::time::Instant::now();
    let (subscribers, connect) = Subscribers::open(&spec, args.connect.procs, overall).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let rss_connected = pid
        .map(rss_bytes)
        .transpose()
        .context("reading the server's RSS")?;

    let probe = pid.map(ServerProbe::start).transpose()?;
    tokio::time::sleep(args.hold).await;
    let server = probe.map(ServerProbe::stop).transpose()?;
    let streams = subscribers.finish(SeqSet::new(), Duration::ZERO).await;

    let bytes_per_connection = per_connection(rss_before, rss_connected, connect.connected);
    Ok(IdleReport {
        command: "idle",
        target: target.name(),
        connections: args.connections,
        hold_seconds: args.hold.as_secs_f64(),
        connect_seconds,
        still_open: streams.connected - streams.closed_early,
        heartbeats: streams.counts.heartbeats,
        stream_error: streams.first_error,
        connect,
        rss_before_bytes: rss_before,
        rss_connected_bytes: rss_connected,
        bytes_per_connection,
        server,
    })
}

/// The RSS growth per connection, when both readings exist.
fn per_connection(before: Option<u64>, after: Option<u64>, connections: u64) -> Option<f64> {
    let (before, after) = (before?, after?);
    (connections > 0).then(|| (after as f64 - before as f64) / connections as f64)
}

impl Report for IdleReport {
    fn human(&self) -> String {
        let mut out = format!(
            "idle: {} connections to {}, held {:.1} s\n",
            self.connections, self.target, self.hold_seconds
        );
        out += &report::line(
            "connected",
            format!(
                "{} ok, {} failed in {:.1} s",
                self.connect.connected, self.connect.failed, self.connect_seconds
            ),
        );
        out += &report::line(
            "after the hold",
            format!(
                "{} still open, {} heartbeats received",
                self.still_open, self.heartbeats
            ),
        );
        if let (Some(before), Some(after)) = (self.rss_before_bytes, self.rss_connected_bytes) {
            out += &report::line(
                "server rss",
                format!(
                    "{} before, {} connected",
                    report::bytes(before as f64),
                    report::bytes(after as f64)
                ),
            );
        }
        if let Some(per) = self.bytes_per_connection {
            out += &report::line("per connection", report::bytes(per));
        }
        for (label, error) in [
            ("connect error", &self.connect.first_error),
            ("stream error", &self.stream_error),
        ] {
            if let Some(error) = error {
                out += &report::line(label, error);
            }
        }
        out + &report::server_lines(self.server.as_ref())
    }
}
