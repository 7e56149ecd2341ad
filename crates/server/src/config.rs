//! The server's typed configuration, validated before it gets here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::own_logs::OwnLogReceiver;

/// The request header by which a tracetail hub's own OTLP exporter marks its requests. A hub
/// makes no spans of requests that carry it, whichever hub sent them: a hub exporting to
/// itself, or two hubs exporting to each other, would otherwise report on their exports
/// without end.
pub const OWN_EXPORT_HEADER: &str = "x-tracetail-export";

/// Everything `tracetail serve` can be told. The binary fills it from flags, environment and
/// a TOML file; tests fill it directly.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:4318`, the OTLP/HTTP port.
    pub listen: SocketAddr,
    /// Where the embedded store keeps its files. Default `./tracetail-data`.
    pub data_dir: PathBuf,
    /// Idle time after which a stream sends `event: heartbeat`. Default 15 s.
    pub heartbeat: Duration,
    /// Reconnect delay announced to clients with `retry:`. Default 3 s.
    pub retry: Duration,
    /// Records older than this are dropped, a whole file at a time. Default 7 days.
    pub retention_age: Duration,
    /// The store is kept under roughly this many bytes on disk. Default 1 GiB.
    pub retention_size: u64,
    /// Largest request body accepted, measured after decompression. Default 8 MiB.
    pub max_body: usize,
    /// How long a client may take to send a request's headers before its connection is
    /// closed, so that half-sent requests cannot hold connections open. Default 10 s.
    pub header_read_timeout: Duration,
    /// Committed batches the live ring holds; a stream more than this many behind reads the
    /// store instead. Default 4096.
    pub live_ring_batches: usize,
    /// Where the server's own spans go (one per request, see `GET /v1/stream` for streams).
    /// Default `None`: spans still get real ids, for the trace headers of every answer and the
    /// `event: open` of streams, but are not exported.
    pub tracer_provider: Option<SdkTracerProvider>,
    /// The hub's own logs to store as service `tracetail` (see [`crate::own_logs`]).
    /// Default `None`: they are not stored.
    pub own_logs: Option<OwnLogReceiver>,
    /// Web origins (`https://app.example.com`, or `*` for any) whose pages may call the hub
    /// from a browser: import `tracetail.js`, stream, query, send (see [`crate::cors`]).
    /// Default empty: only pages the hub serves itself.
    pub cors_origins: Vec<String>,
}

impl ServerConfig {
    /// The defaults, with the data directory given.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 4318)),
            data_dir: data_dir.into(),
            heartbeat: Duration::from_secs(15),
            retry: Duration::from_secs(3),
            retention_age: Duration::from_secs(7 * 24 * 3600),
            retention_size: 1 << 30,
            max_body: 8 << 20,
            header_read_timeout: Duration::from_secs(10),
            live_ring_batches: crate::hub::RING_BATCHES,
            tracer_provider: None,
            own_logs: None,
            cors_origins: Vec::new(),
        }
    }
}
