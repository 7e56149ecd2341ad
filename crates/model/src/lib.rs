//! The vocabulary every part of tracetail speaks.
//!
//! - [`level`]: log levels and their OTLP severity ranges.
//! - [`ids`]: W3C trace and span ids.
//! - [`trace_context`]: the W3C `traceparent` and `tracestate` headers.
//! - [`event`]: [`LogEvent`], the normalized record, and its wire JSON.
//! - [`span`]: [`SpanEvent`], the normalized span, and how spans share the log with events.
//! - [`value`]: JSON numbers that no JavaScript client can corrupt.
//! - [`filter`]: what a subscriber or a query asks for.
//! - [`cursor`]: the grammar of stream cursors (the `id:` of each SSE event).
//! - [`sse`]: SSE frames, encoded once and shared by every subscriber.
#![warn(missing_docs)]

pub mod cursor;
pub mod event;
pub mod filter;
pub mod ids;
pub mod level;
pub mod span;
pub mod sse;
pub mod trace_context;
pub mod value;

pub use cursor::{CursorError, check_cursor};
pub use event::{EncodedEvent, EventKeys, EventView, LogEvent};
pub use filter::Filter;
pub use ids::{IdError, SpanId, TraceId};
pub use level::Level;
pub use span::{RecordKind, SpanEvent, SpanEventItem};
pub use trace_context::{TraceContext, TraceParent, TraceState};
