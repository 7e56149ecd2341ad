//! What the `tracetail send` tests share: a real hub process on its own port and data
//! directory, running `tracetail send` against it, and reading back what the hub stored.
// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// A `tracetail serve` child process, killed when dropped.
pub(crate) struct Hub {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    _dir: tempfile::TempDir,
}

impl Hub {
    /// Starts a hub on any free port with an empty data directory.
    pub(crate) fn start() -> Hub {
        Hub::start_on(0)
    }

    /// Starts a hub on `port` (0: any free port) and waits until it takes connections.
    pub(crate) fn start_on(port: u16) -> Hub {
        let dir = tempfile::tempdir().expect("data directory");
        let (child, port) = crate::hub::serve(port, dir.path(), &[]);
        Hub {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// `tracetail send` with these arguments, ready to spawn; no `TRACEPARENT` of the caller.
pub(crate) fn send_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracetail"));
    command
        .arg("send")
        .args(args)
        .env_remove("TRACEPARENT")
        .env_remove("TRACETAIL_SERVER");
    command
}

/// Runs `command` with `stdin` as its input, to its end. A `send` that exits before reading
/// all of it (a usage error) is no failure of the writing.
pub(crate) fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tracetail send");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("wait for tracetail send");
    let written = writer.join().expect("writer");
    if let Err(error) = written {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::BrokenPipe,
            "write stdin: {error}"
        );
    }
    output
}

/// The exit code and stderr of a finished `send`.
pub(crate) fn outcome(output: &Output) -> (Option<i32>, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status.code(), stderr)
}

/// Sends SIGINT to a child, as Ctrl-C would.
pub(crate) fn interrupt(child: &Child) {
    crate::hub::signal(child.id(), "INT");
}

#[derive(Deserialize)]
struct Page<T> {
    events: Vec<T>,
    next: Option<String>,
}

/// Every stored event of `service`, oldest first, as `T`.
pub(crate) async fn stored<T: for<'de> Deserialize<'de>>(base: &str, service: &str) -> Vec<T> {
    let client = reqwest::Client::new();
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/logs?order=asc&limit=10000&service={service}");
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={cursor}"));
        }
        let response = client.get(url).send().await.expect("query");
        assert_eq!(response.status(), 200);
        let page: Page<T> = response.json().await.expect("a page of events");
        events.extend(page.events);
        match page.next {
            Some(next) => after = Some(next),
            None => return events,
        }
    }
}

/// Every stored event of `service`, oldest first.
pub(crate) async fn events(base: &str, service: &str) -> Vec<Value> {
    stored(base, service).await
}

/// The messages of `service`'s events, oldest first.
pub(crate) async fn messages(base: &str, service: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    let events: Vec<Message> = stored(base, service).await;
    events.into_iter().map(|event| event.message).collect()
}

/// The messages of `service` once there are at least `count`, or after 20 s.
pub(crate) async fn messages_when(base: &str, service: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = messages(base, service).await;
        if messages.len() >= count || Instant::now() > deadline {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
