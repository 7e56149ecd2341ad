//! Binding, serving and stopping.
//!
//! [`start`] opens the store, binds the listener and serves HTTP/1.1 and HTTP/2 (cleartext with
//! prior knowledge) on it. [`RunningServer::stop`] begins a graceful shutdown: stop accepting,
//! end every stream (their clients resume elsewhere or after restart), let ingest requests in
//! flight finish, flush the store, and return within [`SHUTDOWN_GRACE`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracetail_store::StoreError;
use tracetail_store::embedded::{EmbeddedLog, EmbeddedOptions};

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::state::AppState;
use crate::{health, ingest, query, stream};

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
    let hub = Hub::new();
    let publisher = hub.clone();
    let options = EmbeddedOptions {
        dir: config.data_dir.clone(),
        retention_age: config.retention_age,
        retention_size: config.retention_size,
    };
    let log = EmbeddedLog::open(options, Arc::new(move |batch| publisher.publish(batch)))?;

    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;

    let shutdown = CancellationToken::new();
    let state = Arc::new(AppState {
        log,
        hub,
        config,
        shutdown: shutdown.clone(),
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
    Router::new()
        .merge(ingest::routes())
        .merge(stream::routes())
        .merge(query::routes())
        .merge(health::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

// TODO(#6): an idle stream costs ~24 KiB, 16 KiB of it hyper's per-connection read and header
// buffers; long-lived streams need a leaner HTTP/1.1 path to reach the per-connection target.
async fn serve(listener: TcpListener, state: Arc<AppState>) -> Result<(), ServerError> {
    let listener = listener.tap_io(|tcp| {
        // SSE frames are small and latency matters more than packet count.
        let _ = tcp.set_nodelay(true);
    });
    let shutdown = state.shutdown.clone();
    let app = router(state.clone());
    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);

    let served = tokio::select! {
        result = &mut server => result.map_err(ServerError::Serve),
        () = shutdown.cancelled() => match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
            Ok(result) => result.map_err(ServerError::Serve),
            Err(_) => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open at shutdown; closing");
                Ok(())
            }
        },
    };
    state.log.close()?;
    served
}
