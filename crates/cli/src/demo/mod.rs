//! `tracetail demo`.

use std::process::ExitCode;

use clap::Args;

/// Flags of `tracetail demo`.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// The hub [env: TRACETAIL_SERVER] [default: http://127.0.0.1:4318].
    #[arg(env = "TRACETAIL_SERVER", default_value = "http://127.0.0.1:4318")]
    server: String,
}

/// Runs `tracetail demo`.
pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tracetail demo is not built yet (server {})", args.server)
}
