//! `tracetail send`: log lines from stdin or a file to the hub's `POST /v1/events`.
//!
//! ```sh
//! my-service 2>&1 | tracetail send --service my-service
//! tracetail send --file /var/log/app.log --follow --multiline --service app
//! ```
//!
//! - [`input`] reads stdin or a file on its own thread; [`follow`] follows a file across
//!   rotation and truncation.
//! - [`lines`] cuts the input into lines and, with `--multiline`, joins stack traces;
//!   [`record`] turns each record into an NDJSON line, adding `--service` and `--level` where
//!   missing.
//! - [`batch`] builds request bodies on a second thread; [`deliver`] posts them with retries;
//!   [`pipeline`] runs all of it and handles interrupts; [`report`] keeps the counts, draws the
//!   progress line and writes the summary.
//!
//! Exit codes: 0 every record was accepted; 1 an error (the input could not be read, the hub
//! answered in a way retrying cannot fix, or records read were not acknowledged when the run
//! was interrupted); 2 a usage error; 3 the hub rejected some records (the summary names their
//! lines), or a line was too long to send.

mod batch;
mod deliver;
mod follow;
mod input;
mod lines;
mod pipeline;
mod record;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tracetail_model::TraceParent;

use self::input::Source;
use self::pipeline::Delivery;
use self::record::Defaults;
use self::report::{Console, Tally, counted, summary};

/// The exit code when the hub rejected records.
const EXIT_REJECTED: u8 = 3;

/// Flags of `tracetail send`.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// The hub's URL; `host:port` alone means `http://host:port`.
    #[arg(
        env = "TRACETAIL_SERVER",
        default_value = "http://127.0.0.1:4318",
        value_parser = crate::server_url::parse_server
    )]
    server: String,
    /// Read this file instead of stdin.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Keep reading the file as it grows, across rotation and truncation, like `tail -F`
    /// (until interrupted).
    #[arg(long, requires = "file")]
    follow: bool,
    /// Service of records that name none [default: none, so the hub shows unknown_service].
    #[arg(long)]
    service: Option<String>,
    /// Level of plain-text lines, and of JSON lines that have none.
    #[arg(long, value_enum, ignore_case = true, default_value = "info")]
    level: LevelArg,
    /// Join continuation lines (starting with a space or tab, `Caused by:`, `... N more`) to
    /// the plain-text record above them, so a stack trace is one record.
    #[arg(long)]
    multiline: bool,
    /// W3C trace context for records that carry no trace or span id.
    #[arg(long, env = "TRACEPARENT", value_name = "TRACEPARENT")]
    traceparent: Option<String>,
    /// Requests in flight at once. More helps with a distant hub, where each request waits a
    /// round trip, but then batches may be stored out of input order.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    in_flight: u16,
    /// No progress line, and a summary only when something went wrong.
    #[arg(long, short)]
    quiet: bool,
}

/// The six levels, as `--level` takes them.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum LevelArg {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LevelArg {
    fn name(self) -> &'static str {
        match self {
            LevelArg::Trace => "TRACE",
            LevelArg::Debug => "DEBUG",
            LevelArg::Info => "INFO",
            LevelArg::Warn => "WARN",
            LevelArg::Error => "ERROR",
            LevelArg::Fatal => "FATAL",
        }
    }
}

/// The flags, validated.
#[derive(Debug, Clone)]
struct Settings {
    source: Source,
    endpoint: reqwest::Url,
    defaults: Defaults,
    multiline: bool,
    traceparent: Option<String>,
    in_flight: usize,
    quiet: bool,
}

/// What a finished run hands back for the summary and the exit code.
struct Finished {
    delivery: Delivery,
    /// The input's error, if reading failed.
    input: anyhow::Result<()>,
    tally: Arc<Tally>,
    console: Arc<Console>,
}

/// Runs `tracetail send`.
pub(crate) fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_args(args)?;
    let quiet = settings.quiet;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(pipeline::run(settings))?;
    finish(report, quiet)
}

/// Prints the summary and picks the exit code.
fn finish(report: Finished, quiet: bool) -> anyhow::Result<ExitCode> {
    let Finished {
        delivery,
        input,
        tally,
        console,
    } = report;
    let elapsed = console.started().elapsed();
    let outcome = tally.outcome();
    let records = tally.records.load(std::sync::atomic::Ordering::Relaxed);
    let unacknowledged = records.saturating_sub(outcome.accepted + outcome.rejected);

    let clean = outcome.rejected == 0 && outcome.possible_duplicates == 0 && unacknowledged == 0;
    if !quiet || !clean || input.is_err() || !matches!(delivery, Delivery::Complete) {
        console.say(&summary(&tally, elapsed).join("\n"));
    }

    match delivery {
        Delivery::Failed(error) => return Err(error.context("the hub refused the records")),
        Delivery::Interrupted => bail!(
            "interrupted before {} acknowledged",
            counted(unacknowledged, "record was", "records were")
        ),
        Delivery::Complete => {}
    }
    input?;
    if outcome.rejected > 0 {
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    Ok(ExitCode::SUCCESS)
}

impl Settings {
    fn from_args(args: SendArgs) -> anyhow::Result<Settings> {
        let source = match (args.file, args.follow) {
            (None, _) => Source::Stdin,
            (Some(path), false) => Source::File(path),
            (Some(path), true) => Source::Follow(path),
        };
        if args.service.as_deref() == Some("") {
            bail!("--service must not be empty");
        }
        let traceparent = args
            .traceparent
            .filter(|text| !text.trim().is_empty())
            .map(|text| check_traceparent(&text))
            .transpose()?;
        Ok(Settings {
            source,
            endpoint: events_endpoint(&args.server)?,
            defaults: Defaults::new(args.service.as_deref(), args.level.name()),
            multiline: args.multiline,
            traceparent,
            in_flight: usize::from(args.in_flight),
            quiet: args.quiet,
        })
    }
}

/// `<server>/v1/events`, for a server as [`crate::server_url::parse_server`] gives it.
fn events_endpoint(server: &str) -> anyhow::Result<reqwest::Url> {
    let server = server.trim_end_matches('/');
    let endpoint = reqwest::Url::parse(&format!("{server}/v1/events"))
        .with_context(|| format!("server {server:?} is not a URL"))?;
    if endpoint.scheme() != "http" {
        bail!("server {server:?}: only http:// is supported");
    }
    Ok(endpoint)
}

/// Reads `TRACEPARENT` as W3C Trace Context does and gives the version-00 header to send:
/// a higher version is passed on as `00` with the same ids; anything invalid is refused, since
/// the hub would ignore it.
fn check_traceparent(text: &str) -> anyhow::Result<String> {
    match TraceParent::parse(text) {
        Some(parent) => Ok(parent.to_string()),
        None => bail!(
            "traceparent {text:?} is not W3C trace context \
             (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, lower case)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_without_a_scheme_are_http_and_https_is_refused() {
        use crate::server_url::parse_server;

        let server = parse_server("localhost:4318/").expect("valid");
        let endpoint = events_endpoint(&server).expect("valid");
        assert_eq!(endpoint.as_str(), "http://localhost:4318/v1/events");
        let endpoint = events_endpoint("http://127.0.0.1:9/base").expect("valid");
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:9/base/v1/events");
        let error = events_endpoint("https://hub").expect_err("no TLS");
        assert!(error.to_string().contains("only http://"), "{error}");
    }

    #[test]
    fn only_a_traceparent_the_hub_would_read_is_taken() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(check_traceparent(valid).expect("valid"), valid);
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert_eq!(check_traceparent(future).expect("valid"), valid);
        for text in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(check_traceparent(text).is_err(), "{text}");
        }
    }
}
