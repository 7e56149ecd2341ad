//! Binding, serving and stopping.
//!
//! [`start`] opens the store, binds the listener and serves HTTP/1.1 and HTTP/2 (cleartext with
//! prior knowledge) on it. [`RunningServer::stop`] begins a graceful shutdown: stop accepting,
//! end every stream (their clients resume elsewhere or after restart), let ingest requests in
//! flight finish, flush the store, and return within [`SHUTDOWN_GRACE`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::{Router, middleware};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracetail_store::embedded::{EmbeddedLog, EmbeddedOptions};
use tracetail_store::{EventLog, StoreError};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::metrics::{self, Metrics};
use crate::services::ServiceDirectory;
use crate::state::AppState;
use crate::{cors, health, ingest, own_logs, query, services, stream, trace, traces, ui};

/// How long connections get to finish after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened or closed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("binding --listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// A server accepting connections.
pub struct RunningServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
}

/// Opens the store, binds, and starts serving in the background.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    let hub = Hub::new(config.live_ring_batches);
    let publisher = hub.clone();
    let services = Arc::new(ServiceDirectory::default());
    let counter = services.clone();
    let options = EmbeddedOptions {
        dir: config.data_dir.clone(),
        retention_age: config.retention_age,
        retention_size: config.retention_size,
    };
    let log = EmbeddedLog::open(
        options,
        Arc::new(move |batch| {
            publisher.publish(batch);
            counter.record(batch);
        }),
    )?;
    // Nothing is appended before the listener is bound, so the listener counts every record
    // after `latest` and the rebuild every record up to it.
    rebuild_services(&services, &log, log.bounds().latest);

    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;

    if let Some(own_logs) = &config.own_logs {
        own_logs::spawn_drain(own_logs, log.clone());
    }
    let shutdown = CancellationToken::new();
    let tracer = config
        .tracer_provider
        .clone()
        .unwrap_or_else(|| SdkTracerProvider::builder().build())
        .tracer(trace::SCOPE);
    let state = Arc::new(AppState {
        log,
        hub,
        services,
        config,
        metrics: Arc::new(Metrics::new()),
        shutdown: shutdown.clone(),
        tracer,
    });
    let task = tokio::spawn(serve(listener, state));
    Ok(RunningServer {
        local_addr,
        shutdown,
        task,
    })
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A token whose cancellation begins a graceful shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Begins a graceful shutdown and waits for it to finish.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server has stopped (after its shutdown token is cancelled).
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(result) => result,
            Err(join_error) => Err(ServerError::Serve(std::io::Error::other(join_error))),
        }
    }
}

/// All routes, with the state they share.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let cors = cors::layer(&state.config.cors_origins);
    Router::new()
        .merge(ingest::routes())
        .merge(stream::routes())
        .merge(query::routes())
        .merge(traces::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(services::routes())
        .merge(ui::routes())
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count_refusals,
        ))
        .layer(tower::util::option_layer(cors))
        .layer(middleware::from_fn_with_state(state.clone(), trace::layer))
        .with_state(state)
}

/// 404 for a path no route serves, naming it.
async fn no_such_route(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such route: {}", uri.path()),
    )
}

/// 405 for a route asked with a method it does not take; the `Allow` header lists those it does.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}

/// Counts the records stored before start into `services`, in the background.
fn rebuild_services(services: &Arc<ServiceDirectory>, log: &Arc<EmbeddedLog>, through: u64) {
    let services = services.clone();
    let log: Arc<dyn EventLog> = log.clone();
    tokio::spawn(async move {
        match services.rebuild(log.as_ref(), through).await {
            Ok(()) => tracing::debug!(through, "service counts rebuilt"),
            // Closed: the server stopped before the rebuild finished.
            Err(StoreError::Closed) => {}
            Err(error) => tracing::warn!(%error, "rebuilding service counts failed"),
        }
    });
}

// TODO(#6): an idle stream costs ~24 KiB, 16 KiB of it hyper's per-connection read and header
// buffers; long-lived streams need a leaner HTTP/1.1 path to reach the per-connection target.
async fn serve(listener: TcpListener, state: Arc<AppState>) -> Result<(), ServerError> {
    let shutdown = state.shutdown.clone();
    let app = router(state.clone());
    let mut builder = Builder::new(TokioExecutor::new());
    let header_timeout = state.config.header_read_timeout;
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = GracefulShutdown::new();

    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, most likely: back off rather than spin.
                tracing::warn!(%error, "accepting a connection failed; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // SSE frames are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        // The header timeout also closes a keep-alive connection left idle after a request:
        // only a connection that never got a whole request in is a refusal.
        let served = Arc::new(AtomicBool::new(false));
        let served_flag = Arc::clone(&served);
        let app = app
            .clone()
            .map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                served_flag.store(true, Ordering::Relaxed);
                request
            });
        let service = TowerToHyperService::new(app);
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = connections.watch(connection);
        let metrics = Arc::clone(&state.metrics);
        tokio::spawn(async move {
            let Err(error) = connection.await else {
                return;
            };
            if !is_header_timeout(&*error) {
                tracing::trace!(%error, "connection ended with an error");
            } else if !served.load(Ordering::Relaxed) {
                metrics.request_refused("header_timeout");
            }
            // Otherwise a keep-alive connection sat idle and was closed: nothing to report.
        });
    }

    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open at shutdown; closing");
    }
    state.log.close()?;
    Ok(())
}

/// Whether a connection ended because its client did not finish sending headers in time.
fn is_header_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout)
}
