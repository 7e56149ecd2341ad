//! A reconnecting consumer of tracetail's live streams (`GET /v1/stream`), for the
//! `tracetail tail` command, tests, and programs that follow logs.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use tracetail_client::{ClientEvent, Level, Subscription};
//!
//! # async fn tail() -> Result<(), tracetail_client::ClientError> {
//! let subscription = Subscription::builder("http://127.0.0.1:4318")
//!     .service("checkout")
//!     .level(Level::Warn)
//!     .header("Authorization", "Bearer s3cret")
//!     .build()?;
//!
//! let mut events = subscription.stream();
//! while let Some(item) = events.next().await {
//!     match item {
//!         Ok(ClientEvent::Log { record, .. }) => {
//!             println!("{} {} {}: {}", record.ts, record.level, record.service, record.message)
//!         }
//!         Ok(ClientEvent::Reconnecting { delay, reason, .. }) => {
//!             eprintln!("{reason}; reconnecting in {delay:?}")
//!         }
//!         Ok(_) => {}
//!         // The stream ends after a terminal error: no retry can fix a 401.
//!         Err(error) if error.is_terminal() => return Err(error),
//!         // One bad event; the stream goes on.
//!         Err(error) => eprintln!("{error}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The stream never gives up on network trouble: it reconnects with exponential backoff and
//! resumes exactly after the last event it delivered, so no event is lost or repeated across
//! a reconnect (unless the server says otherwise with a `gap`).
//!
//! - [`subscription`]: [`Subscription`] and its builder: server, filters, headers, limits.
//! - [`stream`]: [`EventStream`], the reconnect loop: cursor, watchdog, status notes.
//! - `connection` (private): one request, what its answer means, reading
//!   its body.
//! - [`backoff`]: how long to wait before reconnecting, and when that count starts over.
//! - [`event`]: [`ClientEvent`], the items of a stream, and [`LogRecord`].
//! - [`parser`]: an incremental `text/event-stream` parser per the WHATWG standard, usable on
//!   its own.
//! - [`error`]: [`ClientError`], terminal or about one event.
#![warn(missing_docs)]

pub mod backoff;
mod connection;
pub mod error;
pub mod event;
pub mod parser;
pub mod stream;
pub mod subscription;

pub use backoff::{BackoffPolicy, Jitter};
pub use error::ClientError;
pub use event::{ClientEvent, GapReason, LogRecord, ReconnectReason};
pub use parser::{EventTooLarge, Parser, SseEvent};
pub use stream::EventStream;
pub use subscription::{Subscription, SubscriptionBuilder};
pub use tracetail_model::{Level, SpanId, TraceId};
