//! The `tracetail` command: a thin shell over the library crates.
//!
//! - `serve` runs the hub ([`serve`], configured by [`config`], reporting on itself through
//!   [`telemetry`]).
//! - `tail` follows a live stream ([`tail`]); `query` reads stored events ([`query`]).
//! - `send` ships lines from stdin or a file ([`send`]).
//! - `demo` sends realistic traced traffic over OTLP ([`demo`]).
//! - All of them read the hub's address through [`server_url`].
//!
//! Exit codes: 0 success (also Ctrl-C and a closed output pipe), 1 an error, 2 a usage error
//! (from the argument parser); subcommands document any others they use.

mod config;
mod demo;
mod format;
mod query;
mod send;
mod serve;
mod server_url;
mod tail;
mod telemetry;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A live log hub built around trace context.
#[derive(Parser)]
#[command(name = "tracetail", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: take logs over OTLP/HTTP and JSON, store them, stream them over SSE.
    Serve(config::ServeArgs),
    /// Follow the hub's live stream in the terminal, resuming across drops and restarts.
    Tail(tail::TailArgs),
    /// Send log lines from stdin or a file to the hub.
    Send(send::SendArgs),
    /// Print stored events.
    Query(query::QueryArgs),
    /// Send realistic traced traffic from a few fictional services over OTLP.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).map(|()| ExitCode::SUCCESS),
        Command::Tail(args) => tail::run(args),
        Command::Send(args) => send::run(args),
        Command::Query(args) => query::run(args),
        Command::Demo(args) => demo::run(args),
    };
    result.unwrap_or_else(|error| {
        eprintln!("tracetail: {error:#}");
        ExitCode::FAILURE
    })
}
