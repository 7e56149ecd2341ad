//! `tracetail serve`: telemetry set-up, the start-up banner, and signal handling.

use anyhow::Context;
use tracetail_server::ServerConfig;

use crate::config::ServeArgs;
use crate::telemetry;

/// Runs the hub until SIGINT or SIGTERM, then shuts down gracefully.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let telemetry = telemetry::init(&config.logs)?;
    let mut server_config = config.server;
    server_config.tracer_provider = Some(telemetry.tracer_provider.clone());
    server_config.own_logs = telemetry.own_logs.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve(server_config));
    // Spans and logs still queued are exported before the process ends.
    telemetry.shutdown();
    result
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let server = tracetail_server::start(config).await?;
    print_banner(server.local_addr(), &data_dir);

    let shutdown = server.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        // Cancel before logging: nothing may stand between a signal and the shutdown.
        shutdown.cancel();
        tracing::info!("shutting down: ending streams and flushing the store");
        // A second signal means: stop now.
        wait_for_signal().await;
        std::process::exit(130);
    });
    server.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_banner(addr: std::net::SocketAddr, data_dir: &std::path::Path) {
    let url = format!("http://{addr}");
    let banner = format!(
        "tracetail listening on {url}, data in {}\n  \
         send logs:  OTEL_EXPORTER_OTLP_ENDPOINT={url} (OTLP/HTTP), or POST JSON to \
         {url}/v1/events\n  \
         watch them: curl -N {url}/v1/stream  (or: tracetail tail {url})\n",
        data_dir.display()
    );
    // A closed stdout must not stop the hub: the banner is a courtesy.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
}

async fn wait_for_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
