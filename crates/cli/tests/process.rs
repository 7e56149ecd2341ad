//! The real `tracetail serve` process: start-up, `kill -9`, SIGTERM, one process per directory.

mod hub;

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

struct Hub {
    child: Child,
    port: u16,
    base: String,
}

impl Hub {
    /// A hub on `port` (0: any free port) over `dir`, with 1 s heartbeats.
    fn start(dir: &std::path::Path, port: u16) -> Hub {
        let (child, port) = hub::serve(port, dir, &["--heartbeat", "1s"]);
        Hub {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn signal(&self, name: &str) {
        hub::signal(self.child.id(), name);
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn send(base: &str, prefix: &str, count: usize) {
    let events: Vec<Value> = (0..count)
        .map(|i| json!({"msg": format!("{prefix}{i}")}))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .json(&events)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200, "acknowledged");
}

/// The messages a stream resuming after `cursor` delivers, until `count` arrived.
async fn resume(base: &str, cursor: &str, count: usize) -> Vec<String> {
    let response = reqwest::Client::new()
        .get(format!("{base}/v1/stream"))
        .header("Last-Event-ID", cursor)
        .send()
        .await
        .expect("stream");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while messages.len() < count && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next()).await;
        let Ok(Some(Ok(chunk))) = chunk else { break };
        text.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            if frame.contains("event: log\n") {
                let data = frame.split("data: ").nth(1).expect("data").trim_end();
                let event: Value = serde_json::from_str(data).expect("json");
                messages.push(event["message"].as_str().expect("message").to_string());
            }
        }
    }
    messages
}

async fn latest_cursor(base: &str) -> String {
    let page: Value = reqwest::get(format!("{base}/v1/logs?limit=1"))
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    page["events"][0]["id"]
        .as_str()
        .expect("cursor")
        .to_string()
}

#[tokio::test]
async fn acknowledged_events_survive_kill_9_and_resume_exactly() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path(), 0);
    let port = hub.port;
    send(&hub.base, "before", 5).await;
    let cursor = latest_cursor(&hub.base).await;
    send(&hub.base, "acked", 200).await;
    drop(hub); // SIGKILL: no flush, no goodbye.

    let hub = Hub::start(dir.path(), port);
    send(&hub.base, "restarted", 3).await;
    let messages = resume(&hub.base, &cursor, 203).await;
    let expected: Vec<String> = (0..200)
        .map(|i| format!("acked{i}"))
        .chain((0..3).map(|i| format!("restarted{i}")))
        .collect();
    assert_eq!(messages, expected);
}

#[tokio::test]
async fn sigterm_ends_streams_and_exits_within_five_seconds() {
    let dir = tempfile::tempdir().expect("dir");
    let mut hub = Hub::start(dir.path(), 0);
    let stream = reqwest::get(format!("{}/v1/stream", hub.base))
        .await
        .expect("stream");
    let mut body = stream.bytes_stream();
    body.next().await.expect("opening frames").expect("bytes");

    let started = Instant::now();
    hub.signal("TERM");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "stream still open 5 s after SIGTERM");
    loop {
        if let Some(status) = hub.child.try_wait().expect("wait") {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn second_serve_on_the_same_directory_fails_at_once_saying_so() {
    let dir = tempfile::tempdir().expect("dir");
    let _first = Hub::start(dir.path(), 0);
    let started = Instant::now();
    let second = Command::new(env!("CARGO_BIN_EXE_tracetail"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run second");
    assert!(!second.status.success());
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another tracetail"), "{stderr}");
}

#[test]
fn invalid_flag_value_fails_naming_the_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_tracetail"))
        .args(["serve", "--retention-size", "lots"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--retention-size"));
}
