//! `tracetail demo`: realistic traced traffic from four fictional services, sent over real OTLP.
//!
//! A request enters `frontend`, which calls `checkout`, which calls `inventory` and `payments`.
//! Each service logs a few lines in its own span, and all spans of a request share one trace, so
//! the demo shows what tracetail is for: following one request across services, live.
//!
//! - [`request`] writes one request down as a [`story::Story`] on a simulated clock, its
//!   failures with stack traces from [`stacktraces`];
//! - [`fleet`] sends stories through each service's OpenTelemetry SDK pipeline and the official
//!   OTLP/HTTP exporter, counting what the hub accepted with [`counting`];
//! - this module paces the requests, stops on Ctrl-C or a limit, and prints the summary.
//!
//! Exit codes: 0 when every log record was accepted (also after Ctrl-C), 1 when the hub cannot
//! be reached or did not accept every record.

mod counting;
mod fleet;
mod request;
mod stacktraces;
mod story;

use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use fleet::Fleet;
use request::Outcome;

/// Sends realistic traced traffic from four fictional services over OTLP/HTTP.
///
/// A request enters `frontend`, which calls `checkout`, which calls `inventory` and `payments`.
/// Each service logs a few lines in its own span of the request's trace; some requests fail with
/// WARN and ERROR lines and stack traces. Watch them with `tracetail tail` or
/// `curl -N SERVER/v1/stream`. Ctrl-C sends what is queued and stops.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// The hub's URL; `host:port` alone means `http://host:port`.
    #[arg(
        env = "TRACETAIL_SERVER",
        default_value = "http://127.0.0.1:4318",
        value_parser = crate::server_url::parse_server
    )]
    server: String,
    /// Requests per second.
    #[arg(long, default_value = "5", value_parser = parse_rate)]
    rate: f64,
    /// Stop after this long, such as `30s` or `5m` [default: until Ctrl-C].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many requests [default: until Ctrl-C].
    #[arg(long)]
    count: Option<u64>,
    /// Share of requests that fail, as a fraction (`0.1`) or a percentage (`10%`).
    #[arg(long, default_value = "10%", value_parser = parse_error_rate)]
    error_rate: f64,
    /// Seed of the random choices, to repeat a run exactly [default: a new seed each run].
    #[arg(long)]
    seed: Option<u64>,
}

/// Runs `tracetail demo`.
pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let server = args.server.trim_end_matches('/').to_string();
    check_reachable(&server)?;
    let stop = watch_signals();
    let fleet = Fleet::start(&server)?;
    print_start(&args, &server, fleet.spans_refused.as_deref());

    let tally = drive(&args, &fleet, &stop);
    fleet.shutdown();

    print_summary(&server, &tally, &fleet);
    let lost = tally.records.saturating_sub(fleet.logs.accepted());
    if lost > 0 {
        let cause = (fleet.logs.first_error()).unwrap_or_else(|| "dropped before export".into());
        anyhow::bail!(
            "{lost} of {} log records did not reach {server}/v1/logs: {cause}",
            tally.records
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What the demo sent.
struct Tally {
    started: Instant,
    requests: u64,
    failed: u64,
    /// Log records emitted, accepted or not.
    records: u64,
}

/// Sends requests at the configured rate until a limit or a signal stops it.
fn drive(args: &DemoArgs, fleet: &Fleet, stop: &Receiver<()>) -> Tally {
    let mut rng = match args.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let started = Instant::now();
    let mut tally = Tally {
        started,
        requests: 0,
        failed: 0,
        records: 0,
    };
    let mut warned = false;
    while args.count.is_none_or(|count| tally.requests < count) {
        // Requests are due on a fixed schedule, so slow steps do not lower the rate.
        let due = started + interval.mul_f64(tally.requests as f64);
        if args
            .duration
            .is_some_and(|duration| due >= started + duration)
        {
            break;
        }
        if wait_until(due, stop) {
            break;
        }
        let outcome = Outcome::draw(&mut rng, args.error_rate);
        tally.records += fleet.emit(&request::tell(&mut rng, outcome));
        tally.requests += 1;
        tally.failed += u64::from(outcome != Outcome::Completed);
        warned = warned || warn_on_export_failure(fleet);
    }
    tally
}

/// Sleeps until `due`; true when a signal asked to stop first.
fn wait_until(due: Instant, stop: &Receiver<()>) -> bool {
    let timeout = due.saturating_duration_since(Instant::now());
    match stop.recv_timeout(timeout) {
        Ok(()) => true,
        Err(RecvTimeoutError::Timeout) => false,
        // Nobody watches for signals: Ctrl-C ends the process the default way.
        Err(RecvTimeoutError::Disconnected) => {
            std::thread::sleep(timeout);
            false
        }
    }
}

/// Tells once, while the demo goes on, that the hub refused or missed log records.
fn warn_on_export_failure(fleet: &Fleet) -> bool {
    let Some(error) = fleet.logs.first_error() else {
        return false;
    };
    eprintln!("tracetail demo: exporting log records failed: {error}; still sending");
    true
}

/// Fails early, with a hint, when nothing listens at `server`.
fn check_reachable(server: &str) -> anyhow::Result<()> {
    let rest = server
        .strip_prefix("http://")
        .with_context(|| format!("the server {server} must be an http:// URL"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let address = match authority.rsplit_once(':') {
        Some((_, port)) if !port.ends_with(']') => authority.to_string(),
        _ => format!("{authority}:80"),
    };
    let candidates = address
        .to_socket_addrs()
        .with_context(|| format!("resolving {address}"))?;
    let mut last_error = None;
    for candidate in candidates {
        match TcpStream::connect_timeout(&candidate, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(error) => last_error = Some(error),
        }
    }
    let cause = last_error.map_or_else(|| "no address".to_string(), |error| error.to_string());
    anyhow::bail!("cannot reach the hub at {server}: {cause} (is `tracetail serve` running?)")
}

/// Reports SIGINT (Ctrl-C) and SIGTERM on the returned channel; a second signal exits at once.
fn watch_signals() -> Receiver<()> {
    let (sender, receiver) = mpsc::channel();
    let watcher = move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the signal watcher")?;
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut terminate = signal(SignalKind::terminate()).context("watching SIGTERM")?;
            let mut signals = 0;
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                signals += 1;
                if signals > 1 || sender.send(()).is_err() {
                    std::process::exit(130);
                }
            }
        })
    };
    let spawned = std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            if let Err(error) = watcher() {
                eprintln!("tracetail demo: {error:#}; Ctrl-C stops without flushing");
            }
        });
    if let Err(error) = spawned {
        eprintln!("tracetail demo: watching signals: {error}; Ctrl-C stops without flushing");
    }
    receiver
}

fn print_start(args: &DemoArgs, server: &str, spans_refused: Option<&str>) {
    let until = match (args.count, args.duration) {
        (Some(count), _) => format!("{count} requests"),
        (None, Some(duration)) => format!("for {}", humantime::format_duration(duration)),
        (None, None) => "until Ctrl-C".to_string(),
    };
    println!(
        "tracetail demo: frontend, checkout, payments and inventory sending OTLP to \
         {server}/v1/logs, {} requests/s, {}% failing, {until}",
        args.rate,
        // Rounded to a tenth of a percent, so 0.07 shows as 7, not 7.000000000000001.
        (args.error_rate * 1000.0).round() / 10.0
    );
    if let Some(reason) = spans_refused {
        println!("  sending no spans: {server}/v1/traces {reason}");
    }
}

fn print_summary(server: &str, tally: &Tally, fleet: &Fleet) {
    println!(
        "tracetail demo: {} requests ({} failing) in {:.1}s, {} log records sent to \
         {server}/v1/logs, {} accepted",
        tally.requests,
        tally.failed,
        tally.started.elapsed().as_secs_f64(),
        tally.records,
        fleet.logs.accepted(),
    );
    if fleet.spans_refused.is_some() {
        return;
    }
    let failed = match fleet.spans.first_error() {
        Some(error) => format!(", {} not taken: {error}", fleet.spans.failed()),
        None => String::new(),
    };
    println!(
        "  and {} spans to {server}/v1/traces{failed}",
        fleet.spans.accepted()
    );
}

fn parse_rate(text: &str) -> anyhow::Result<f64> {
    let rate: f64 = text
        .parse()
        .context("expected a number of requests per second")?;
    anyhow::ensure!(
        rate > 0.0 && rate <= 10_000.0,
        "expected more than 0 and at most 10000 requests per second"
    );
    Ok(rate)
}

fn parse_error_rate(text: &str) -> anyhow::Result<f64> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(percent) => (percent, 100.0),
        None => (text, 1.0),
    };
    let rate = number
        .trim()
        .parse::<f64>()
        .context("expected a fraction or a percentage")?
        / scale;
    anyhow::ensure!(
        (0.0..=1.0).contains(&rate),
        "expected a fraction from 0 to 1, or a percentage from 0% to 100%"
    );
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rate_takes_a_fraction_or_a_percentage() {
        assert_eq!(parse_error_rate("0.25").expect("fraction"), 0.25);
        assert_eq!(parse_error_rate("10%").expect("percentage"), 0.1);
        assert_eq!(parse_error_rate("0").expect("none"), 0.0);
        assert!(parse_error_rate("1.5").is_err());
        assert!(parse_error_rate("-1%").is_err());
        assert!(parse_error_rate("many").is_err());
    }

    #[test]
    fn rate_must_be_positive() {
        assert_eq!(parse_rate("2.5").expect("rate"), 2.5);
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("NaN").is_err());
    }
}
