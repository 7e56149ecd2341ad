//! Integration tests of the embedded event log, one binary in several files:
//!
//! - [`append`]: numbering, durability, cursors, the directory lock, group commit;
//! - [`read`]: pages, time windows, bisection, traces;
//! - [`retention`]: eviction by size and age, and the bounds and trace index following it;
//! - [`spans`]: spans sharing the log with log events;
//! - [`support`]: events to store and a log that records what its listener hears.
//!
//! Some tests run this same binary as a child process (see [`support::child`]), to crash it or
//! to hold a lock from another process.

mod append;
mod read;
mod retention;
mod spans;
mod support;
