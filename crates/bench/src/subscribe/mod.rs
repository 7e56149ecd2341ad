//! Subscribers: many raw SSE connections, in this process or spread over worker processes.
//!
//! [`Subscribers`] is what the commands use. It opens a [`pool::Pool`] here when one process
//! can hold every connection, and otherwise starts [`worker`] processes that each run a pool;
//! either way the caller sees one connect phase and one summed report.

pub(crate) mod connection;
pub(crate) mod pool;
pub(crate) mod tally;
pub(crate) mod worker;

use std::time::Duration;

use anyhow::{Result, bail};

use crate::measure::seqset::SeqSet;
use pool::{Pool, PoolSpec, ReadyReport, StreamReport};
use worker::Workers;

/// File descriptors each process keeps for itself beyond its subscribers' sockets.
const RESERVED_FDS: usize = 256;

/// The subscribers of one run.
#[derive(Debug)]
pub(crate) enum Subscribers {
    /// All in this process.
    Local(Pool),
    /// In worker processes.
    Workers(Workers),
}

impl Subscribers {
    /// Opens `spec.count` subscribers over `procs` processes (0: as many as descriptors need),
    /// returning once every one has connected or failed; an error if none connected.
    /// `timeout` bounds each worker's life.
    pub(crate) async fn open(
        spec: &PoolSpec,
        procs: usize,
        timeout: Duration,
    ) -> Result<(Self, ReadyReport)> {
        let procs = if procs == 0 {
            auto_procs(spec.count)
        } else {
            procs
        };
        let (subscribers, ready) = if procs <= 1 {
            let (pool, ready) = Pool::open(spec).await;
            (Subscribers::Local(pool), ready)
        } else {
            let mut workers = Workers::spawn(spec, procs, timeout)?;
            let ready = workers.ready().await;
            (Subscribers::Workers(workers), ready)
        };
        if ready.connected == 0 && spec.count > 0 {
            let why = ready.first_error.as_deref().unwrap_or("no reason given");
            let server = &spec.endpoint;
            bail!(
                "no subscriber connected to {}{}: {why}",
                server.addr,
                server.path
            );
        }
        Ok((subscribers, ready))
    }

    /// Ends the run: every subscriber waits up to `drain` for the acknowledged events it lacks.
    pub(crate) async fn finish(self, acked: SeqSet, drain: Duration) -> StreamReport {
        match self {
            Subscribers::Local(pool) => pool.finish(acked, drain).await,
            Subscribers::Workers(workers) => workers.finish(acked, drain).await,
        }
    }
}

/// How many processes `count` connections need under this process's descriptor limit.
pub(crate) fn auto_procs(count: usize) -> usize {
    let limit = worker::open_files_limit().unwrap_or(1024);
    let per_process = limit.saturating_sub(RESERVED_FDS).max(1);
    count.div_ceil(per_process).max(1)
}
