//! tracetail's HTTP server.
//!
//! - [`config`]: the typed configuration.
//! - `ingest`: `POST /v1/logs` and `POST /v1/traces` (OTLP/HTTP) and `POST /v1/events` (JSON,
//!   NDJSON), durable before they answer.
//! - [`hub`]: live fan-out of committed records, each encoded once as an SSE frame.
//! - `stream`: `GET /v1/stream`, one subscriber per connection: replay from the store by
//!   cursor, then live from the hub, exactly once and in order.
//! - `query`: `GET /v1/logs`, stored events by filter, paged.
//! - `traces`: `GET /v1/traces/{trace_id}`, one trace's spans and logs.
//! - `metrics`: `GET /metrics`, and the operational events that move them.
//! - `services`: `GET /v1/services`, per-service counts kept as records commit.
//! - `ui`: the web UI and the browser client library, embedded in the binary.
//! - `params`: the filter and time parameters streams and queries share.
//! - `trace`: a server span per request and W3C trace context on every answer.
//! - [`own_logs`]: the hub's own logs into its own store (`--self-telemetry`).
//! - [`error`]: the one mapping from errors to HTTP answers.
//! - [`server`]: binding, serving HTTP/1.1 and HTTP/2, and graceful shutdown.
#![warn(missing_docs)]

pub mod config;
pub mod cors;
pub mod error;
mod health;
pub mod hub;
mod ingest;
mod metrics;
pub mod own_logs;
mod params;
mod query;
pub mod server;
mod services;
mod state;
mod stream;
mod trace;
mod traces;
mod ui;

pub use config::{OWN_EXPORT_HEADER, ServerConfig};
pub use server::{RunningServer, ServerError, start};
