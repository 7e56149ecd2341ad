//! `tracetail query`.

use std::process::ExitCode;

use clap::Args;

/// Flags of `tracetail query`.
#[derive(Args, Debug)]
pub(crate) struct QueryArgs {
    /// The hub [env: TRACETAIL_SERVER] [default: http://127.0.0.1:4318].
    #[arg(env = "TRACETAIL_SERVER", default_value = "http://127.0.0.1:4318")]
    server: String,
}

/// Runs `tracetail query`.
pub(crate) fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tracetail query is not built yet (server {})", args.server)
}
