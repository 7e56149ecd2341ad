//! What the `tail` and `query` tests share: a real `tracetail serve` on a fixed port that can
//! be stopped and started again on the same data, the built `tracetail` binary as a child
//! whose output is collected line by line, and senders.
// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The built binary.
pub(crate) const TRACETAIL: &str = env!("CARGO_BIN_EXE_tracetail");

/// A `tracetail serve` child process.
pub(crate) struct Hub {
    child: Child,
    pub(crate) base: String,
    port: u16,
    dir: PathBuf,
    retry: String,
}

impl Hub {
    /// A hub on any free port, with 1 s heartbeats and a 100 ms reconnect delay.
    pub(crate) fn start(dir: &Path) -> Hub {
        Hub::start_with_retry(dir, "100ms")
    }

    /// A hub on a free port announcing `retry` as its reconnect delay.
    pub(crate) fn start_with_retry(dir: &Path, retry: &str) -> Hub {
        Hub::spawn(dir, 0, retry)
    }

    fn spawn(dir: &Path, port: u16, retry: &str) -> Hub {
        let extra = ["--heartbeat", "1s", "--retry", retry];
        let (child, port) = crate::hub::serve(port, dir, &extra);
        Hub {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            dir: dir.to_path_buf(),
            retry: retry.to_string(),
        }
    }

    /// Stops the hub with SIGTERM (`graceful`) or SIGKILL, waits for it, and starts a new one
    /// on the same port and data.
    pub(crate) fn restart(mut self, graceful: bool) -> Hub {
        if graceful {
            crate::hub::signal(self.child.id(), "TERM");
        } else {
            self.child.kill().expect("kill -9");
        }
        self.child.wait().expect("hub exit");
        Hub::spawn(&self.dir.clone(), self.port, &self.retry.clone())
    }

    /// Waits until `count` streams are open.
    pub(crate) async fn wait_subscribers(&self, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready: Value = reqwest::get(format!("{}/readyz", self.base))
                .await
                .expect("readyz")
                .json()
                .await
                .expect("json");
            if ready["subscribers"] == count {
                // The stream is registered; give it a moment to send `open`.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return;
            }
            assert!(Instant::now() < deadline, "subscribers: {ready}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Posts events with messages `{prefix}0`…, and asserts they were acknowledged.
pub(crate) async fn send(base: &str, prefix: &str, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| json!({"msg": format!("{prefix}{i}")}))
        .collect();
    send_json(base, &Value::Array(events)).await;
}

/// Posts one JSON body to `/v1/events` and asserts it was acknowledged.
pub(crate) async fn send_json(base: &str, body: &Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .json(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200, "acknowledged");
}

/// Posts one event every few milliseconds until stopped, retrying through outages. Whatever
/// the hub stored, acknowledged or not, is what a follower must print.
pub(crate) fn trickle(base: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) {
            let event = json!({"msg": format!("trickle{sent}")});
            let posted = client
                .post(format!("{base}/v1/events"))
                .json(&event)
                .send()
                .await;
            if posted.is_ok_and(|response| response.status().is_success()) {
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sent
    })
}

/// Every stored event, oldest first, as JSON.
pub(crate) async fn stored(base: &str) -> Vec<Value> {
    let page: Value = reqwest::get(format!("{base}/v1/logs?order=asc&limit=10000"))
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert!(page["next"].is_null(), "more than one page");
    page["events"].as_array().expect("events").clone()
}

/// A `tracetail` command running as a child, its stdout collected line by line.
pub(crate) struct Running {
    pub(crate) child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `tracetail` with `args` and the environment `env`, TZ set to UTC.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(TRACETAIL)
            .args(args)
            .env("TZ", "UTC")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tracetail");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout_reader = std::thread::spawn(move || collect_lines(stdout, &sink));
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running {
            child,
            lines,
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
        }
    }

    /// The lines so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits until at least `count` lines arrived, and returns them all.
    pub(crate) async fn wait_lines(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.lines();
            if lines.len() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} lines",
                lines.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a signal by name to the command.
    pub(crate) fn signal(&self, name: &str) {
        crate::hub::signal(self.child.id(), name);
    }

    /// Waits for the command to exit; its status, stdout lines and stderr.
    pub(crate) async fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "still running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let stdout = self.stdout_reader.take().expect("reader");
        stdout.join().expect("stdout reader");
        let stderr = self.stderr_reader.take().expect("reader");
        let stderr = stderr.join().expect("stderr reader");
        (status, self.lines(), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect_lines(stdout: ChildStdout, sink: &Mutex<Vec<String>>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        sink.lock().expect("lines").push(line);
    }
}

/// Runs `tracetail` to the end: status, stdout, stderr.
pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let output = Command::new(TRACETAIL)
        .args(args)
        .env("TZ", "UTC")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("run tracetail");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status, stdout, stderr)
}

/// Parses JSON lines.
pub(crate) fn parse_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

/// The `id`s of events.
pub(crate) fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["id"].as_str().expect("id").to_string())
        .collect()
}
