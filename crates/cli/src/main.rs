//! The `tracetail` command: a thin shell over the library crates.
//!
//! - `serve` runs the hub ([`serve`], configured by [`config`]).

mod config;
mod serve;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tracetail: {error:#}");
            ExitCode::FAILURE
        }
    }
}
