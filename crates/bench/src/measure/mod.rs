//! What a run measures: latency histograms, sequence sets for loss and duplicates, and the
//! server's CPU and memory.

pub(crate) mod latency;
pub(crate) mod seqset;
pub(crate) mod server;
