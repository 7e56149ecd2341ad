//! What every request handler shares.

use std::sync::Arc;

use opentelemetry_sdk::trace::SdkTracer;
use tokio_util::sync::CancellationToken;
use tracetail_store::EventLog;

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::services::ServiceDirectory;

/// Shared by all handlers as `State<Arc<AppState>>`; lives as long as the server.
pub(crate) struct AppState {
    /// The durable log. Ingest appends to it; streams and queries read it.
    pub(crate) log: Arc<dyn EventLog>,
    /// Live fan-out of committed records to subscribers.
    pub(crate) hub: Hub,
    /// Per-service counts for `GET /v1/services`, fed by the store's commit listener.
    pub(crate) services: Arc<ServiceDirectory>,
    /// The validated configuration.
    pub(crate) config: ServerConfig,
    /// The hub's own metrics, served at `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// Cancelled when the server begins to shut down; every stream holds a child token.
    pub(crate) shutdown: CancellationToken,
    /// Starts the server's own spans: one per request, a stream's lasting as long as it does.
    pub(crate) tracer: SdkTracer,
}
