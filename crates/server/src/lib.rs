//! tracetail's HTTP server.
//!
//! - [`config`]: the typed configuration.
//! - `ingest`: `POST /v1/logs` (OTLP/HTTP) and `POST /v1/events` (JSON, NDJSON), durable
//!   before they answer.
//! - [`hub`]: live fan-out of committed records, each encoded once as an SSE frame.
//! - `stream`: `GET /v1/stream`, one subscriber per connection: replay from the store by
//!   cursor, then live from the hub, exactly once and in order.
//! - `query`: `GET /v1/logs`, stored events by filter, paged.
//! - `services`: `GET /v1/services`, per-service counts kept as records commit.
//! - `ui`: the web UI and the browser client library, embedded in the binary.
//! - `params`: the filter and time parameters streams and queries share.
//! - [`error`]: the one mapping from errors to HTTP answers.
//! - [`server`]: binding, serving HTTP/1.1 and HTTP/2, and graceful shutdown.
#![warn(missing_docs)]

pub mod config;
pub mod error;
mod health;
pub mod hub;
mod ingest;
mod params;
mod query;
pub mod server;
mod services;
mod state;
mod stream;
mod ui;

pub use config::ServerConfig;
pub use server::{RunningServer, ServerError, start};
