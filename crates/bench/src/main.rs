//! `tracetail-bench`: the load generator for tracetail and, for comparison, nginx + Nchan.
//!
//! ```text
//! tracetail-bench ingest --url http://127.0.0.1:4318 --batch 512 --concurrency 8 --duration 10s
//! tracetail-bench fanout --subscribers 1000 --rate 1000 --duration 20s --json
//! tracetail-bench idle --connections 10000 --hold 20s --server-pid 4242
//! tracetail-bench resume --subscribers 1000 --events 1000 --strict
//! ```
//!
//! Map of the crate:
//! - [`cli`]: the command line.
//! - [`commands`]: one module per subcommand, each a sequence of bounded phases.
//! - [`publish`]: the HTTP client and the rate-paced publisher.
//! - [`subscribe`]: raw-socket SSE subscribers, pooled here or in worker processes.
//! - [`wire`]: HTTP/1.1 framing, the SSE parser, OTLP and JSON bodies (pure, tested on bytes).
//! - [`measure`]: latency histograms, sequence sets for loss, server CPU and memory.
//! - [`target`]: tracetail or Nchan, and the loopback-only guard.
//! - [`report`]: text or JSON output.

mod cli;
mod commands;
mod measure;
mod publish;
mod report;
mod subscribe;
mod target;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use cli::{Cli, Command};

/// Added to a run's own bounds for its default overall timeout.
const TIMEOUT_SLACK: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tracetail-bench: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Subscriber tasks may still be reading; they die with the process.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tracetail-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Ingest(args) => {
            let limit = args.run.timeout.unwrap_or(args.duration + TIMEOUT_SLACK);
            let report = bounded(limit, commands::ingest::run(&args)).await?;
            report::print(&report, json)
        }
        Command::Fanout(args) => {
            let own = args.connect.connect_timeout + args.settle + args.duration + args.drain;
            let limit = args.run.timeout.unwrap_or(own + TIMEOUT_SLACK);
            let stepping = !args.rates.is_empty();
            let rates = if stepping {
                args.rates.clone()
            } else {
                vec![args.rate]
            };
            for rate in rates {
                let report = bounded(limit, commands::fanout::run(&args, rate, limit)).await?;
                report::print(&report, json)?;
                check(&report, args.run.strict)?;
                if let Some(why) = report.step_limit(args.stop_p99).filter(|_| stepping) {
                    if !json {
                        println!("stopped at {rate} events/s: {why}\n");
                    }
                    break;
                }
            }
            Ok(())
        }
        Command::Idle(args) => {
            let own = args.connect.connect_timeout + args.hold;
            let limit = args.run.timeout.unwrap_or(own + TIMEOUT_SLACK);
            let report = bounded(limit, commands::idle::run(&args, limit)).await?;
            report::print(&report, json)
        }
        Command::Resume(args) => {
            let own = 2 * args.connect.connect_timeout + args.settle + args.drain;
            let limit = args.run.timeout.unwrap_or(own + TIMEOUT_SLACK);
            let report = bounded(limit, commands::resume::run(&args, limit)).await?;
            report::print(&report, json)?;
            check(&report, args.run.strict)
        }
        Command::Worker(args) => {
            let spec = serde_json::from_str(&args.spec).context("parsing --spec")?;
            bounded(args.timeout, subscribe::worker::serve(spec)).await
        }
    }
}

/// With `--strict`, fails when the report says the run lost or duplicated events.
fn check(report: &impl report::Report, strict: bool) -> Result<()> {
    match report.inexact() {
        Some(problem) if strict => anyhow::bail!("inexact delivery: {problem}"),
        _ => Ok(()),
    }
}

/// Runs `work`, failing if it takes longer than `limit`.
async fn bounded<T>(limit: Duration, work: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!(
            "the run did not finish within {} (see --timeout)",
            humantime::format_duration(limit)
        ),
    }
}
