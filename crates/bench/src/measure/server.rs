//! What the server under test spends: CPU seconds and resident memory, read from `/proc`.
//!
//! A [`ServerProbe`] is started when the measured window opens and stopped when it closes. CPU
//! is the difference of `utime + stime` in `/proc/PID/stat` across the window; memory is
//! `VmRSS` from `/proc/PID/status`, sampled every 100 ms for the peak. Both cover every thread
//! of the server process, so they include its runtime and store, as a user's machine would see.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tokio::task::JoinHandle;

/// How often resident memory is sampled for the peak.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Samples a server process while a measurement runs.
#[derive(Debug)]
pub(crate) struct ServerProbe {
    pid: u32,
    ticks_per_second: f64,
    start_ticks: u64,
    start_rss: u64,
    started: Instant,
    /// Highest RSS seen; written by the sampler task, which `stop` aborts.
    peak_rss: Arc<AtomicU64>,
    sampler: JoinHandle<()>,
}

/// The server's use of the machine during one window.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ServerUsage {
    /// The process measured.
    pub(crate) pid: u32,
    /// CPU seconds (user + system) used in the window.
    pub(crate) cpu_seconds: f64,
    /// The window's length in seconds.
    pub(crate) wall_seconds: f64,
    /// CPU seconds per wall second, as a percentage of one core.
    pub(crate) cpu_percent: f64,
    /// RSS at the window's start, in bytes.
    pub(crate) rss_start_bytes: u64,
    /// RSS at the window's end, in bytes.
    pub(crate) rss_end_bytes: u64,
    /// Highest RSS sampled in the window, in bytes.
    pub(crate) peak_rss_bytes: u64,
}

impl ServerProbe {
    /// Opens the window now, or fails if `pid` cannot be read.
    pub(crate) fn start(pid: u32) -> Result<Self> {
        let start_ticks = cpu_ticks(pid)?;
        let start_rss = rss_bytes(pid)?;
        let peak_rss = Arc::new(AtomicU64::new(start_rss));
        let sampler = tokio::spawn(sample_peak(pid, peak_rss.clone()));
        Ok(Self {
            pid,
            ticks_per_second: clock_ticks_per_second(),
            start_ticks,
            start_rss,
            started: Instant::now(),
            peak_rss,
            sampler,
        })
    }

    /// Closes the window.
    pub(crate) fn stop(self) -> Result<ServerUsage> {
        self.sampler.abort();
        let end_ticks = cpu_ticks(self.pid)?;
        let rss_end_bytes = rss_bytes(self.pid)?;
        let wall_seconds = self.started.elapsed().as_secs_f64();
        let cpu_seconds = end_ticks.saturating_sub(self.start_ticks) as f64 / self.ticks_per_second;
        Ok(ServerUsage {
            pid: self.pid,
            cpu_seconds,
            wall_seconds,
            cpu_percent: 100.0 * cpu_seconds / wall_seconds.max(1e-9),
            rss_start_bytes: self.start_rss,
            rss_end_bytes,
            peak_rss_bytes: self.peak_rss.load(Ordering::Relaxed).max(rss_end_bytes),
        })
    }
}

async fn sample_peak(pid: u32, peak: Arc<AtomicU64>) {
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    loop {
        ticker.tick().await;
        match rss_bytes(pid) {
            Ok(rss) => peak.fetch_max(rss, Ordering::Relaxed),
            Err(_) => return,
        };
    }
}

/// The server's resident set size in bytes (`VmRSS`).
pub(crate) fn rss_bytes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss(&status).with_context(|| format!("no VmRSS line in {path}"))
}

/// The process's user + system CPU time in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    match parse_cpu_ticks(&stat) {
        Some(ticks) => Ok(ticks),
        None => bail!("unexpected format of {path}"),
    }
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `utime + stime`: fields 14 and 15 of `stat`, counted after the parenthesized command name,
/// which may itself contain spaces and parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `CLK_TCK` from `getconf`, or 100, the value on every common Linux platform.
fn clock_ticks_per_second() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output();
    let ticks = output.ok().and_then(|o| String::from_utf8(o.stdout).ok());
    ticks
        .and_then(|t| t.trim().parse().ok())
        .filter(|&t: &f64| t > 0.0)
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_skip_a_command_name_with_spaces_and_parens() {
        let stat = "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 1593 0 0 0 \
                    250 75 0 0 20 0 9 0 12345 1000000 2000 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\ttracetail\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[tokio::test]
    async fn probe_reads_its_own_process() {
        let probe = ServerProbe::start(std::process::id()).expect("own /proc entry");
        let usage = probe.stop().expect("stop");
        assert!(usage.rss_end_bytes > 0 && usage.peak_rss_bytes >= usage.rss_end_bytes);
        assert!(usage.cpu_seconds >= 0.0);
    }
}
