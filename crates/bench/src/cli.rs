//! The command line: one subcommand per measurement, flags with their defaults.
//!
//! Durations take humantime forms (`10s`, `500ms`, `2m`). Every run is bounded: by its
//! `--duration` or `--hold`, by its connect timeout, and by an overall `--timeout`.

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::publish::publisher::Format;
use crate::subscribe::pool::PoolSpec;
use crate::target::{StreamEndpoint, Target};

/// Load generator for tracetail and other SSE hubs (nginx + Nchan), on loopback only.
#[derive(Debug, Parser)]
#[command(name = "tracetail-bench", version)]
pub(crate) struct Cli {
    /// Print one JSON object instead of the human-readable summary.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// The measurement to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The measurements.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// OTLP/HTTP ingest throughput: protobuf batches to `POST /v1/logs`.
    Ingest(IngestArgs),
    /// Fan-out: N SSE subscribers, events published at a fixed rate, delivery latency and loss.
    Fanout(FanoutArgs),
    /// Idle streams: server memory per open SSE connection.
    Idle(IdleArgs),
    /// Resume storm: subscribers miss events, then all reconnect with `Last-Event-ID`.
    Resume(ResumeArgs),
    /// Internal: one worker process of a multi-process run.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// Options every measured run has.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Also measure this server process: CPU seconds and peak RSS during the measured window.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Abort the whole run after this long [default: the run's own bounds plus a minute].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) timeout: Option<Duration>,
    /// Exit with status 1 (after the report) when an acknowledged event was lost, duplicated
    /// or, for `resume`, delivered out of order, or a stream failed: for checks, not speed.
    #[arg(long)]
    pub(crate) strict: bool,
}

/// Which hub to drive.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// tracetail's base URL.
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub(crate) url: String,
    /// Query string for tracetail's `/v1/stream` (filters), e.g. `service=tracetail-bench`.
    #[arg(long, default_value = "")]
    pub(crate) stream_query: String,
    /// Drive nginx + Nchan instead: the publish URL, e.g. `http://127.0.0.1:8080/pub?id=bench`.
    #[arg(long, requires = "nchan_sub")]
    pub(crate) nchan_pub: Option<String>,
    /// The Nchan EventSource URL, e.g. `http://127.0.0.1:8080/sub/bench`.
    #[arg(long, requires = "nchan_pub")]
    pub(crate) nchan_sub: Option<String>,
}

impl TargetArgs {
    /// The hub these flags name.
    pub(crate) fn target(&self) -> Result<Target> {
        Target::from_urls(
            &self.url,
            &self.stream_query,
            self.nchan_pub.as_deref(),
            self.nchan_sub.as_deref(),
        )
    }
}

/// How subscriber connections are made.
#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// Worker processes holding the connections; 0 picks enough for the descriptor limit.
    #[arg(long, default_value_t = 0)]
    pub(crate) procs: usize,
    /// Spread connections over source addresses 127.0.0.1..=127.0.0.N (0: off; IPv4
    /// loopback servers only), so more than one address's ephemeral ports can be used.
    #[arg(long, default_value_t = 250)]
    pub(crate) source_ips: u8,
    /// Connection attempts in flight at once, per process.
    #[arg(long, default_value_t = 256)]
    pub(crate) connect_concurrency: usize,
    /// Time for all subscribers to connect; later ones count as failed.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) connect_timeout: Duration,
}

impl ConnectArgs {
    /// The pool of `count` subscribers to `endpoint` these flags describe.
    pub(crate) fn pool_spec(
        &self,
        endpoint: StreamEndpoint,
        count: usize,
        run: Option<u32>,
        read_buffer: usize,
    ) -> PoolSpec {
        PoolSpec {
            endpoint,
            count,
            first_index: 0,
            source_ips: self.source_ips,
            connect_concurrency: self.connect_concurrency,
            connect_timeout: self.connect_timeout,
            run,
            read_buffer,
        }
    }
}

/// `ingest`.
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// tracetail's base URL.
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub(crate) url: String,
    /// Log records per request.
    #[arg(long, default_value_t = 512)]
    pub(crate) batch: usize,
    /// Concurrent connections, each sending one request at a time.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// How long to send.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) duration: Duration,
    /// Bytes of each record's message.
    #[arg(long, default_value_t = 200)]
    pub(crate) payload: usize,
    /// The resource's `service.name`.
    #[arg(long, default_value = "tracetail-bench")]
    pub(crate) service: String,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `fanout`.
#[derive(Debug, Args)]
pub(crate) struct FanoutArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// SSE subscribers.
    #[arg(long, default_value_t = 1000)]
    pub(crate) subscribers: usize,
    /// Events published per second.
    #[arg(long, default_value_t = 1000)]
    pub(crate) rate: u64,
    /// Step through these rates instead of `--rate` (e.g. `100,300,1000`), one fresh set of
    /// subscribers each, stopping after the first step whose p99 passes `--stop-p99` or that
    /// lost anything.
    #[arg(long, value_delimiter = ',', conflicts_with = "rate")]
    pub(crate) rates: Vec<u64>,
    /// The p99 delivery latency that ends a `--rates` run.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub(crate) stop_p99: Duration,
    /// How long to publish.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub(crate) duration: Duration,
    /// Bytes of each event's message.
    #[arg(long, default_value_t = 200)]
    pub(crate) payload: usize,
    /// Most events per publish request. Each request carries the events due since the last
    /// (rate / 200 per 5 ms tick), so batches only grow this large when the hub falls behind.
    /// Always 1 for Nchan, which takes one message per request.
    #[arg(long, default_value_t = 1000)]
    pub(crate) batch: u64,
    /// How tracetail gets the events: NDJSON to `/v1/events`, or OTLP protobuf to `/v1/logs`.
    #[arg(long, value_enum, default_value_t = Format::Events)]
    pub(crate) format: Format,
    /// Publish requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub(crate) publishers: usize,
    /// After publishing, how long subscribers may wait for acknowledged events still missing.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub(crate) drain: Duration,
    /// Pause between the last subscriber connecting and the first publish.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub(crate) settle: Duration,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `idle`.
#[derive(Debug, Args)]
pub(crate) struct IdleArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Idle SSE connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) connections: usize,
    /// How long to hold them open once all are established.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub(crate) hold: Duration,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Subscribers that disconnect and resume.
    #[arg(long, default_value_t = 1000)]
    pub(crate) subscribers: usize,
    /// Events published while they are away.
    #[arg(long, default_value_t = 1000)]
    pub(crate) events: u64,
    /// Events per second while they are away (one request at a time).
    #[arg(long, default_value_t = 5000)]
    pub(crate) rate: u64,
    /// Most events per publish request (always 1 for Nchan).
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: u64,
    /// Bytes of each event's message.
    #[arg(long, default_value_t = 200)]
    pub(crate) payload: usize,
    /// How long resumed subscribers may take to catch up before what they lack counts as lost.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) drain: Duration,
    /// Pause between the last subscriber connecting and the marker event.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub(crate) settle: Duration,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// `worker` (internal).
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The pool to open, as JSON.
    #[arg(long)]
    pub(crate) spec: String,
    /// Exit after this long whatever happens.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fanout_defaults_match_the_documented_ones() {
        let cli = Cli::parse_from(["tracetail-bench", "fanout", "--rate", "500", "--json"]);
        let Command::Fanout(args) = cli.command else {
            panic!("fanout expected")
        };
        assert!(cli.json);
        assert_eq!(
            (args.subscribers, args.rate, args.payload),
            (1000, 500, 200)
        );
        assert_eq!(args.duration, Duration::from_secs(20));
        assert_eq!(args.connect.source_ips, 250);
    }
}
