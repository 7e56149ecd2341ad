//! `tracetail query`: stored events, read page by page from `GET /v1/logs`.
//!
//! Which events, and in what order on screen:
//!
//! - by default, the newest `--limit` matching events, printed oldest first, the way
//!   `tail -n` shows the end of a file. They are fetched newest first and printed once the
//!   last page is in, so this mode holds up to `--limit` events in memory;
//! - `--order asc`: the oldest matching events (from `--since` on, if given), oldest first;
//! - `--order desc`: the newest matching events, newest first.
//!
//! The explicit orders print each page as it arrives. Pages are at most [`PAGE_SIZE`]
//! events; the walk follows `next` until `--limit` events are printed or `next` is null.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use reqwest::Url;
use serde::Deserialize;
use serde_json::value::RawValue;
use tracetail_client::LogRecord;

use crate::format::{OutputArgs, Printer, is_broken_pipe};
use crate::tail::filters::FilterArgs;

/// Events asked for per request; the server allows up to 10,000.
const PAGE_SIZE: u64 = 1000;
/// The longest piece of an unexpected answer quoted in an error.
const BODY_SNIPPET_CHARS: usize = 300;

/// The end of `tracetail query --help`: which events, and the exit codes.
const LONG_HELP: &str = "\
By default, the newest --limit matching events, oldest first (like tail -n). --order asc \
prints the oldest matching events (from --since on) oldest first; --order desc the newest, \
newest first. --since and --until bound the time the hub received the events.

Exit codes:
  0  success, even when nothing matched; also when stdout was closed (query | head)
  1  an error: the hub could not be reached, or answered with an error (400 names a bad \
filter)
  2  a usage error";

/// Flags of `tracetail query`.
#[derive(Args, Debug)]
#[command(after_long_help = LONG_HELP)]
pub(crate) struct QueryArgs {
    /// The hub to read from: a URL, or `host:port` alone for `http://host:port`.
    #[arg(
        env = "TRACETAIL_SERVER",
        default_value = "http://127.0.0.1:4318",
        value_parser = crate::server_url::parse_server
    )]
    server: String,
    #[command(flatten)]
    filters: FilterArgs,
    /// Only events received since then: 30s, 5m, 2h, 7d back from now, an RFC 3339 time, or
    /// Unix milliseconds.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only events received before then, in the same forms as --since.
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// Print at most this many events.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    limit: u64,
    /// asc: the oldest events, oldest first; desc: the newest, newest first [default: the
    /// newest events, oldest first].
    #[arg(long, value_enum)]
    order: Option<Order>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `--order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// One answer of `GET /v1/logs`, each event kept as the server wrote it for `--json`.
#[derive(Deserialize)]
struct Page {
    events: Vec<Box<RawValue>>,
    next: Option<String>,
}

/// One stored event: parsed for the human line, and as the server wrote it.
struct Event {
    record: LogRecord,
    raw: Box<RawValue>,
}

impl Event {
    fn parse(raw: Box<RawValue>) -> anyhow::Result<Event> {
        let record = serde_json::from_str(raw.get())
            .with_context(|| format!("reading a stored event: {}", raw.get()))?;
        Ok(Event { record, raw })
    }
}

/// Runs `tracetail query`.
pub(crate) fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let base = logs_url(&args.server)?;
    let mut printer = args.output.printer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let printed = runtime
        .block_on(walk(&args, &base, &mut printer))
        .and_then(|()| printer.flush().context("writing to stdout"));
    match printed {
        Err(error) if is_broken_pipe(&error) => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS),
    }
}

/// Fetches pages and prints their events, in the order `--order` asks for.
async fn walk<W: Write>(
    args: &QueryArgs,
    base: &Url,
    printer: &mut Printer<W>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let hold_for_reversal = args.order.is_none();
    let mut held = Vec::new();
    let mut printed = 0;
    let mut after = None;
    loop {
        let page_size = (args.limit - printed).min(PAGE_SIZE);
        let url = page_url(args, base, page_size, after.as_deref());
        let page = fetch(&client, &url).await?;
        printed += page.events.len() as u64;
        let events = page.events.into_iter().map(Event::parse);
        let events = events.collect::<anyhow::Result<Vec<Event>>>()?;
        if hold_for_reversal {
            held.extend(events);
        } else {
            print_all(printer, events.iter())?;
        }
        match page.next {
            Some(next) if printed < args.limit => after = Some(next),
            _ => break,
        }
    }
    print_all(printer, held.iter().rev())
}

fn print_all<'a, W: Write>(
    printer: &mut Printer<W>,
    events: impl Iterator<Item = &'a Event>,
) -> anyhow::Result<()> {
    for event in events {
        let printed = printer.print(&event.record, event.raw.get());
        printed.context("writing to stdout")?;
    }
    Ok(())
}

/// `{server}/v1/logs`, keeping any base path of the server URL.
fn logs_url(server: &str) -> anyhow::Result<Url> {
    let mut base = Url::parse(server).with_context(|| format!("invalid server url {server:?}"))?;
    if !matches!(base.scheme(), "http" | "https") {
        bail!(
            "invalid server url {server:?}: scheme {:?} is not http or https",
            base.scheme()
        );
    }
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join("v1/logs")
        .with_context(|| format!("invalid server url {server:?}"))
}

/// The URL of one page: filters, time bounds, order, size, and where to continue.
fn page_url(args: &QueryArgs, base: &Url, page_size: u64, after: Option<&str>) -> Url {
    let mut url = base.clone();
    let order = if args.order == Some(Order::Asc) {
        "asc"
    } else {
        "desc"
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in args.filters.query_pairs() {
            pairs.append_pair(name, &value);
        }
        let bounds = [
            ("since", args.since.as_deref()),
            ("until", args.until.as_deref()),
        ];
        for (name, value) in bounds {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        pairs.append_pair("order", order);
        pairs.append_pair("limit", &page_size.to_string());
        if let Some(after) = after {
            pairs.append_pair("after", after);
        }
    }
    url
}

/// One page; an error answer becomes an error quoting the server's message.
async fn fetch(client: &reqwest::Client, url: &Url) -> anyhow::Result<Page> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("querying {url}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("querying {url}: reading the answer"))?;
    if !status.is_success() {
        bail!(
            "querying {url}: server answered {status}: {}",
            error_message(&body)
        );
    }
    serde_json::from_slice(&body)
        .with_context(|| format!("querying {url}: unexpected answer: {}", snippet(&body)))
}

/// The `error` of a JSON error body (`{"error": "..."}`), else the start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.error,
        Err(_) => snippet(body),
    }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(BODY_SNIPPET_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        query: QueryArgs,
    }

    fn parse(args: &[&str]) -> QueryArgs {
        Flags::try_parse_from([&["query"], args].concat())
            .expect("valid flags")
            .query
    }

    #[test]
    fn page_urls_carry_filters_bounds_order_size_and_the_cursor() {
        let args = parse(&[
            "http://h:1/base",
            "-s",
            "api",
            "--since",
            "5m",
            "--order",
            "asc",
        ]);
        let base = logs_url(&args.server).expect("url");
        let url = page_url(&args, &base, 40, Some("e-9"));
        assert_eq!(
            url.as_str(),
            "http://h:1/base/v1/logs?service=api&since=5m&order=asc&limit=40&after=e-9"
        );
        let newest = parse(&["http://h:1"]);
        let base = logs_url(&newest.server).expect("url");
        assert_eq!(
            page_url(&newest, &base, 100, None).as_str(),
            "http://h:1/v1/logs?order=desc&limit=100"
        );
    }

    #[test]
    fn an_error_answer_is_reduced_to_the_servers_message() {
        let body = br#"{"error":"invalid since parameter \"soon\""}"#;
        assert_eq!(error_message(body), "invalid since parameter \"soon\"");
        assert_eq!(
            error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }

    #[test]
    fn a_limit_of_zero_and_a_bad_scheme_are_refused() {
        assert!(Flags::try_parse_from(["query", "--limit", "0"]).is_err());
        let error = logs_url("ftp://h").expect_err("scheme");
        assert!(error.to_string().contains("ftp://h"), "{error}");
    }
}
