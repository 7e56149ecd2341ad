//! The bytes the generator speaks: HTTP/1.1 framing, SSE frames, OTLP and JSON bodies.
//!
//! Everything here is pure parsing and encoding, with no I/O, so it is tested on byte strings.

pub(crate) mod http1;
pub(crate) mod otlp;
pub(crate) mod payload;
pub(crate) mod sse;
