//! Printing results: a human-readable summary, or one JSON object for scripts.
//!
//! Each command's report is a serializable struct that also renders itself as text; this module
//! holds the rendering pieces they share and the one place that writes to stdout.

use std::io::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::measure::latency::Summary;
use crate::measure::server::ServerUsage;

/// A command's result.
pub(crate) trait Report: Serialize {
    /// The summary for a person, lines ending in `\n`.
    fn human(&self) -> String;

    /// What made the run inexact (an acknowledged event lost or duplicated, a stream cut), for
    /// `--strict`; `None` for measurements that deliver nothing.
    fn inexact(&self) -> Option<String> {
        None
    }
}

/// Writes `report` to stdout as text or as one JSON line. A closed stdout is not an error.
pub(crate) fn print(report: &impl Report, json: bool) -> Result<()> {
    let text = if json {
        let mut line = serde_json::to_string(report).context("encoding the report")?;
        line.push('\n');
        line
    } else {
        report.human()
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the report"),
    }
}

/// `p50 1.23 ms  p99 …` for a latency summary.
pub(crate) fn latency_line(label: &str, latency: &Summary) -> String {
    format!(
        "{label:<18}p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)\n",
        latency.p50_ms, latency.p99_ms, latency.p999_ms, latency.max_ms, latency.count
    )
}

/// The server-usage lines, or nothing without `--server-pid`.
pub(crate) fn server_lines(usage: Option<&ServerUsage>) -> String {
    let Some(usage) = usage else {
        return String::new();
    };
    format!(
        "{:<18}{:.2} CPU s in {:.1} s ({:.0}% of a core)\n{:<18}peak {}  start {}  end {}\n",
        "server cpu",
        usage.cpu_seconds,
        usage.wall_seconds,
        usage.cpu_percent,
        "server rss",
        bytes(usage.peak_rss_bytes as f64),
        bytes(usage.rss_start_bytes as f64),
        bytes(usage.rss_end_bytes as f64),
    )
}

/// A byte count with a binary unit.
pub(crate) fn bytes(count: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = count;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A labelled line: `label             value`.
pub(crate) fn line(label: &str, value: impl std::fmt::Display) -> String {
    format!("{label:<18}{value}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(10.0 * 1024.0), "10.0 KiB");
        assert_eq!(bytes(3.5 * 1024.0 * 1024.0 * 1024.0), "3.5 GiB");
    }
}
