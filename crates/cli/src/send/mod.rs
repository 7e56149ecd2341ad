//! `tracetail send`.

use std::process::ExitCode;

use clap::Args;

/// Flags of `tracetail send`.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// The hub [env: TRACETAIL_SERVER] [default: http://127.0.0.1:4318].
    #[arg(env = "TRACETAIL_SERVER", default_value = "http://127.0.0.1:4318")]
    server: String,
}

/// Runs `tracetail send`.
pub(crate) fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tracetail send is not built yet (server {})", args.server)
}
