//! A real server on `127.0.0.1:0` and a plain SSE reader, for the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tracetail_server::{RunningServer, ServerConfig};

/// A server on a free port with its own data directory.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub config: ServerConfig,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::with_data_dir(dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        adjust(&mut config);
        Self::start_in(dir, config).await
    }

    /// Starts on an existing directory and configuration (a restart).
    pub async fn start_in(dir: tempfile::TempDir, config: ServerConfig) -> TestServer {
        let server = tracetail_server::start(config.clone())
            .await
            .expect("server starts");
        let base = format!("http://{}", server.local_addr());
        TestServer {
            server: Some(server),
            base,
            dir,
            config,
        }
    }

    /// Stops gracefully and starts again on the same data directory and port.
    pub async fn restart(mut self) -> TestServer {
        let server = self.server.take().expect("running");
        let addr = server.local_addr();
        server.stop().await.expect("clean stop");
        let mut config = self.config.clone();
        config.listen = addr;
        Self::start_in(self.dir, config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Posts JSON events and checks that all were accepted.
    pub async fn send(&self, events: &Value) {
        let response = client()
            .post(self.url("/v1/events"))
            .json(events)
            .send()
            .await
            .expect("post events");
        let status = response.status();
        let body: Value = response.json().await.expect("json answer");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["rejected"], serde_json::json!([]), "{body}");
    }

    /// Sends `count` messages named `{prefix}{i}`.
    pub async fn send_numbered(&self, prefix: &str, range: std::ops::Range<usize>) {
        let events: Vec<Value> = range
            .map(|i| serde_json::json!({"message": format!("{prefix}{i}"), "service": "test"}))
            .collect();
        self.send(&Value::Array(events)).await;
    }

    pub async fn stream(&self, query: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = client().get(self.url(&format!("/v1/stream{query}")));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("stream opens");
        assert_eq!(response.status(), 200);
        SseReader::new(response)
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// One parsed SSE event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }

    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .expect("message")
            .to_string()
    }
}

/// Reads SSE frames as the server writes them (LF line ends).
pub struct SseReader {
    pub headers: reqwest::header::HeaderMap,
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    pub retry: Option<u64>,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        let headers = response.headers().clone();
        SseReader {
            headers,
            body: response.bytes_stream().boxed(),
            buffer: Vec::new(),
            retry: None,
        }
    }

    /// The next event (of any type), or `None` when the stream ends.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                if let Some(event) = self.parse(&frame[..end]) {
                    return Some(event);
                }
                continue;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    fn parse(&mut self, frame: &[u8]) -> Option<SseEvent> {
        let text = std::str::from_utf8(frame).expect("utf-8 frame");
        let mut event = SseEvent {
            id: None,
            event: "message".into(),
            data: String::new(),
        };
        let mut has_data = false;
        for line in text.split('\n') {
            let (field, value) = line.split_once(": ").unwrap_or((line, ""));
            match field {
                "id" => event.id = Some(value.to_string()),
                "event" => event.event = value.to_string(),
                "data" => {
                    assert!(!has_data, "one data line per event: {text:?}");
                    has_data = true;
                    event.data = value.to_string();
                }
                "retry" => self.retry = value.parse().ok(),
                _ => panic!("unexpected line {line:?}"),
            }
        }
        has_data.then_some(event)
    }

    /// The next event of type `kind`, skipping others (heartbeats), within `timeout`.
    pub async fn next_of(&mut self, kind: &str, timeout: Duration) -> Option<SseEvent> {
        tokio::time::timeout(timeout, async {
            loop {
                let event = self.next_event().await?;
                if event.event == kind {
                    return Some(event);
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Collects `count` log events, failing after `timeout`.
    pub async fn logs(&mut self, count: usize, timeout: Duration) -> Vec<SseEvent> {
        let mut logs = Vec::with_capacity(count);
        while logs.len() < count {
            match self.next_of("log", timeout).await {
                Some(event) => logs.push(event),
                None => panic!("got {} of {count} log events", logs.len()),
            }
        }
        logs
    }
}

/// `google.rpc.Status`, as OTLP/HTTP refusals carry it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// What went wrong.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The message of a refusal: the `error` of a JSON answer, or the `message` of the protobuf
/// `Status` an OTLP route answers a protobuf request with (whose code must then be set).
pub async fn refusal_message(response: reqwest::Response) -> String {
    let protobuf = response.headers().get("content-type")
        == Some(&reqwest::header::HeaderValue::from_static(
            "application/x-protobuf",
        ));
    let bytes = response.bytes().await.expect("refusal body");
    if protobuf {
        let status = <RpcStatus as prost::Message>::decode(&bytes[..]).expect("a Status");
        assert_ne!(status.code, 0, "a refusal is not OK");
        return status.message;
    }
    let answer: Value = serde_json::from_slice(&bytes).expect("JSON refusal");
    answer["error"].as_str().expect("error text").to_owned()
}
