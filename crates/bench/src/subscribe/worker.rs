//! Subscribers in child processes, for more connections than one process has descriptors.
//!
//! The parent re-executes its own binary as `tracetail-bench worker --spec JSON` once per
//! process, each with a slice of the subscribers. Parent and worker talk in JSON lines:
//!
//! 1. the worker opens its pool and prints `{"ready": ReadyReport}`;
//! 2. after publishing, the parent writes `{"acked": [[start, end], ...], "drain_ms": n}`;
//! 3. the worker drains, prints `{"report": StreamReport}` and exits.
//!
//! Workers are killed when the parent drops them, and a worker whose stdin closes stops, so
//! neither side can outlive the other.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::pool::{Pool, PoolSpec, ReadyReport, StreamReport};
use crate::measure::seqset::SeqSet;

/// Time for a worker to start and answer, beyond the phase it is waiting on.
const WORKER_GRACE: Duration = Duration::from_secs(15);

/// A line a worker prints.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerLine {
    Ready(ReadyReport),
    Report(StreamReport),
}

/// The line the parent sends when publishing is over.
#[derive(Debug, Serialize, Deserialize)]
struct FinishLine {
    acked: SeqSet,
    drain_ms: u64,
}

/// One running worker process.
#[derive(Debug)]
struct Worker {
    spec: PoolSpec,
    /// Killed when dropped.
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// The worker processes of one run, owned by the parent until their reports are in.
#[derive(Debug)]
pub(crate) struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// Starts `procs` workers sharing `spec.count` subscribers, each allowed `timeout` in all.
    pub(crate) fn spawn(spec: &PoolSpec, procs: usize, timeout: Duration) -> Result<Self> {
        let exe = std::env::current_exe().context("finding this program to run workers")?;
        let mut workers = Vec::with_capacity(procs);
        for (first_index, count) in split(spec.count, procs) {
            let spec = PoolSpec {
                first_index: spec.first_index + first_index,
                count,
                ..spec.clone()
            };
            let mut child = Command::new(&exe)
                .arg("worker")
                .arg("--spec")
                .arg(serde_json::to_string(&spec).context("encoding the worker spec")?)
                .arg("--timeout")
                .arg(humantime::format_duration(timeout).to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting worker {}", exe.display()))?;
            let stdin = child.stdin.take().context("worker stdin is piped")?;
            let stdout = child.stdout.take().context("worker stdout is piped")?;
            workers.push(Worker {
                spec,
                child,
                stdin,
                stdout: BufReader::new(stdout).lines(),
            });
        }
        Ok(Self { workers })
    }

    /// Waits for every worker's connect phase.
    pub(crate) async fn ready(&mut self) -> ReadyReport {
        let mut total = ReadyReport::default();
        for worker in &mut self.workers {
            let wait = worker.spec.connect_timeout + WORKER_GRACE;
            let report = match worker.next_line(wait).await {
                Ok(WorkerLine::Ready(report)) => report,
                Ok(WorkerLine::Report(_)) => worker.lost("answered out of turn"),
                Err(error) => worker.lost(&format!("{error:#}")),
            };
            total.add(report);
        }
        total
    }

    /// Sends the finish line to every worker, then collects their reports.
    pub(crate) async fn finish(mut self, acked: SeqSet, drain: Duration) -> StreamReport {
        let line = FinishLine {
            acked,
            drain_ms: drain.as_millis() as u64,
        };
        let mut line = serde_json::to_vec(&line).expect("sets of numbers always serialize");
        line.push(b'\n');
        for worker in &mut self.workers {
            // A worker that cannot be written to has died; reading its report says so.
            let _ = worker.stdin.write_all(&line).await;
            let _ = worker.stdin.flush().await;
        }

        let mut total = StreamReport::default();
        for worker in &mut self.workers {
            match worker.next_line(drain + WORKER_GRACE).await {
                Ok(WorkerLine::Report(report)) => total.add(report),
                Ok(WorkerLine::Ready(_)) => {
                    total
                        .first_error
                        .get_or_insert("worker answered out of turn".into());
                }
                Err(error) => {
                    total.first_error.get_or_insert(format!("{error:#}"));
                }
            }
            let _ = tokio::time::timeout(WORKER_GRACE, worker.child.wait()).await;
        }
        total
    }
}

impl Worker {
    async fn next_line(&mut self, wait: Duration) -> Result<WorkerLine> {
        let first = self.spec.first_index;
        let line = tokio::time::timeout(wait, self.stdout.next_line())
            .await
            .with_context(|| format!("worker for subscribers from {first} did not answer"))?
            .with_context(|| format!("reading worker for subscribers from {first}"))?;
        let Some(line) = line else {
            bail!("worker for subscribers from {first} exited early");
        };
        serde_json::from_str(&line).with_context(|| format!("worker printed {line:?}"))
    }

    fn lost(&self, why: &str) -> ReadyReport {
        ReadyReport {
            connected: 0,
            failed: self.spec.count as u64,
            first_error: Some(format!(
                "worker for subscribers from {}: {why}",
                self.spec.first_index
            )),
        }
    }
}

/// Runs inside a worker process: one pool, driven by the parent over stdin and stdout.
pub(crate) async fn serve(spec: PoolSpec) -> Result<()> {
    let (pool, ready) = Pool::open(&spec).await;
    print_line(&WorkerLine::Ready(ready))?;

    let mut line = String::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    if stdin
        .read_line(&mut line)
        .await
        .context("reading from the parent")?
        == 0
    {
        bail!("the parent closed stdin before publishing ended");
    }
    let finish: FinishLine = serde_json::from_str(&line).context("parsing the finish line")?;

    let report = pool
        .finish(finish.acked, Duration::from_millis(finish.drain_ms))
        .await;
    print_line(&WorkerLine::Report(report))
}

fn print_line(line: &WorkerLine) -> Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, line).context("writing to the parent")?;
    stdout
        .write_all(b"\n")
        .and_then(|()| stdout.flush())
        .context("writing to the parent")
}

/// Splits `count` into `parts` nearly equal `(offset, count)` slices.
fn split(count: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, count.max(1));
    let (base, extra) = (count / parts, count % parts);
    let mut offset = 0;
    (0..parts)
        .map(|part| {
            let size = base + usize::from(part < extra);
            let slice = (offset, size);
            offset += size;
            slice
        })
        .collect()
}

/// How many file descriptors this process may open (the soft `RLIMIT_NOFILE`), if known.
pub(crate) fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_every_subscriber_once() {
        assert_eq!(split(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
        assert_eq!(split(2, 5), vec![(0, 1), (1, 1)]);
        assert_eq!(split(0, 2), vec![(0, 0)]);
    }

    #[test]
    fn worker_lines_are_tagged_json() {
        let line = WorkerLine::Ready(ReadyReport {
            connected: 3,
            failed: 0,
            first_error: None,
        });
        let json = serde_json::to_string(&line).expect("serialize");
        assert!(json.starts_with(r#"{"ready":{"connected":3"#), "{json}");
        let finish: FinishLine =
            serde_json::from_str(r#"{"acked":[[0,5]],"drain_ms":10}"#).expect("parse");
        assert_eq!(finish.acked.len(), 5);
    }

    #[test]
    fn open_files_limit_is_readable_here() {
        assert!(open_files_limit().is_some_and(|limit| limit > 0));
    }
}
