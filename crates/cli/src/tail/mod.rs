//! `tracetail tail`: the hub's live stream in the terminal.
//!
//! - [`filters`]: the filter flags, shared with `query`.
//! - `follow`: the loop: read the stream, print, keep the resume point, stop cleanly.
//! - `cursor`: the resume point and `--cursor-file`.
//! - `notes`: reconnects, resumes, replays and gaps, reported on stderr.
//!
//! The stream itself (reconnects with backoff, `Last-Event-ID`, the idle watchdog) is the
//! client library's [`tracetail_client::Subscription`]; this module decides what a person
//! sees and what survives a restart of `tail` itself.

mod cursor;
pub(crate) mod filters;
mod follow;
mod notes;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tracetail_client::Subscription;

use crate::format::OutputArgs;
use cursor::ResumePoint;
use filters::FilterArgs;

/// The end of `tracetail tail --help`: how it behaves, and its exit codes. (The `about`
/// line comes from the subcommand's doc comment in `main.rs`, which also resets
/// `long_about`, hence `after_long_help`.)
const LONG_HELP: &str = "\
Each event is one line: local time with milliseconds, level, service, the first 8 hex digits \
of the trace id, the message, then the attributes as key=value. With --json, each event is \
its JSON on one line instead.

With --trace the hub also sends the trace's spans. Each is one line like a log line, with SPAN \
in place of the level: the local time of its start, service, short trace id, span name, \
duration, and ERROR with the status message if it failed. -s applies to spans too; with \
-l error or fatal only failed spans show, with a lower level all do. With --json a span is \
printed as {\"span\": {...}}, so scripts can tell it from a log event.

Reconnects, resumes (with how many missed events were \
replayed) and gaps are reported on stderr, one line each starting with \"tracetail: \".

Without a cursor the stream starts live, or at --since. With --cursor-file, the cursor of \
the last printed event is kept in that file (written at most every 100 ms, and at exit) and \
the next run resumes right after it: nothing missed, nothing repeated.

Exit codes:
  0  stopped by Ctrl-C or SIGTERM; stdout was closed (tracetail tail | head); or the server
     ended the subscription (204)
  1  an error: the server refused the stream (401, 403, 404, or 400 for a bad filter), the
     cursor file could not be read or written, or stdout could not be written
  2  a usage error";

/// Flags of `tracetail tail`.
#[derive(Args, Debug)]
#[command(after_long_help = LONG_HELP)]
pub(crate) struct TailArgs {
    /// The hub to read from: a URL, or `host:port` alone for `http://host:port`.
    #[arg(
        env = "TRACETAIL_SERVER",
        default_value = "http://127.0.0.1:4318",
        value_parser = crate::server_url::parse_server
    )]
    server: String,
    #[command(flatten)]
    filters: FilterArgs,
    /// Without a cursor, start with the events since then: 30s, 5m, 2h, 7d back from now, an
    /// RFC 3339 time, or Unix milliseconds [default: live only].
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Keep the resume point in this file: read at start, rewritten as events are printed.
    #[arg(long, value_name = "PATH")]
    cursor_file: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `tracetail tail` until a signal, a closed stdout, or an error.
pub(crate) fn run(args: TailArgs) -> anyhow::Result<ExitCode> {
    let resume = ResumePoint::load(args.cursor_file)?;
    let target = Target {
        server: args.server,
        filters: args.filters,
        since: args.since,
    };
    // A bad URL fails here, before the terminal fills with anything.
    target.subscription(None)?;
    let printer = args.output.printer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(follow::follow(target, printer, resume))
}

/// What to follow: the server and the filters, ready to open a stream from any cursor.
#[derive(Debug)]
struct Target {
    server: String,
    filters: FilterArgs,
    since: Option<String>,
}

impl Target {
    /// A subscription resuming after `cursor`, or starting as the flags say without one.
    fn subscription(&self, cursor: Option<&str>) -> anyhow::Result<Subscription> {
        let mut builder = self.filters.apply(Subscription::builder(&self.server));
        if let Some(since) = &self.since {
            builder = builder.since(since);
        }
        if let Some(cursor) = cursor {
            builder = builder.last_event_id(cursor);
        }
        Ok(builder.build()?)
    }

    /// The stream URL with the filters, for messages.
    fn stream_url(&self) -> String {
        self.subscription(None)
            .map(|subscription| subscription.url().to_string())
            .unwrap_or_else(|_| self.server.clone())
    }

    /// Whether a stream without a cursor starts at the server's latest event, so that the
    /// `open` event's cursor is a true resume point.
    fn starts_live(&self) -> bool {
        self.since.is_none() && !self.filters.follows_a_trace()
    }
}
