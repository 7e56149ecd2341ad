//! `tracetail tail`.

use std::process::ExitCode;

use clap::Args;

/// Flags of `tracetail tail`.
#[derive(Args, Debug)]
pub(crate) struct TailArgs {
    /// The hub [env: TRACETAIL_SERVER] [default: http://127.0.0.1:4318].
    #[arg(env = "TRACETAIL_SERVER", default_value = "http://127.0.0.1:4318")]
    server: String,
}

/// Runs `tracetail tail`.
pub(crate) fn run(args: TailArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tracetail tail is not built yet (server {})", args.server)
}
