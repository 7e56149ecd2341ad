//! A tiny HTTP/1.1 server that plays one script per connection, for the reconnect tests.
//!
//! It runs in the test's own runtime, so with tokio's paused clock its pauses are virtual
//! time too, and the clock only jumps when both the client and the server wait. Each
//! connection takes the next script, or the fallback once the scripts run out; every request
//! is recorded with the (virtual) time it arrived.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A trace id and span id for `open` events.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const SPAN_ID: &str = "00f067aa0ba902b7";

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
    cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";

/// One thing the server does on a connection.
#[derive(Debug, Clone)]
enum Step {
    Write(Vec<u8>),
    Pause(Duration),
    /// Drops the connection, wherever the answer is.
    Close,
    /// Keeps the connection open, silent, until the client closes it.
    Stall,
}

/// What the server does on one connection.
#[derive(Debug, Clone, Default)]
pub struct Script(Vec<Step>);

impl Script {
    /// A 200 event-stream answer, body to follow.
    pub fn sse() -> Script {
        Script(vec![Step::Write(SSE_HEAD.as_bytes().to_vec())])
    }

    /// A complete answer with this status and body, then the connection closes.
    pub fn status(status: u16, headers: &[(&str, &str)], body: &str) -> Script {
        let mut head = format!("HTTP/1.1 {status} Scripted\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        Script(vec![
            Step::Write(format!("{head}{body}").into_bytes()),
            Step::Close,
        ])
    }

    /// Closes the connection without answering.
    pub fn hang_up() -> Script {
        Script(vec![Step::Close])
    }

    /// Sends body text as one chunk.
    pub fn send(mut self, text: &str) -> Script {
        let chunk = format!("{:x}\r\n{text}\r\n", text.len());
        self.0.push(Step::Write(chunk.into_bytes()));
        self
    }

    /// Waits, in (virtual) time.
    pub fn pause(mut self, duration: Duration) -> Script {
        self.0.push(Step::Pause(duration));
        self
    }

    /// Ends the body properly and closes.
    pub fn end(mut self) -> Script {
        self.0.push(Step::Write(b"0\r\n\r\n".to_vec()));
        self.0.push(Step::Close);
        self
    }

    /// Drops the connection in the middle of the body.
    pub fn cut(mut self) -> Script {
        self.0.push(Step::Close);
        self
    }

    /// Goes silent, holding the connection open.
    pub fn stall(mut self) -> Script {
        self.0.push(Step::Stall);
        self
    }
}

/// The frames a tracetail server opens with, stating `heartbeat_ms`.
pub fn opening(heartbeat_ms: u64) -> String {
    format!(
        "event: open\ndata: {{\"trace_id\":\"{TRACE_ID}\",\"span_id\":\"{SPAN_ID}\",\
         \"cursor\":\"c0\",\"heartbeat_ms\":{heartbeat_ms},\"retry_ms\":3000}}\n\n"
    )
}

/// One `event: log` frame with this cursor and message.
pub fn log(id: &str, message: &str) -> String {
    format!(
        "id: {id}\nevent: log\ndata: {{\"id\":\"{id}\",\"ts\":\"2026-01-01T00:00:00.000000000Z\",\
         \"level\":\"INFO\",\"severity\":9,\"message\":\"{message}\",\"service\":\"api\",\
         \"attributes\":{{}},\"resource\":{{}}}}\n\n"
    )
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request target: path and query.
    pub target: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// When the request arrived.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct Shared {
    scripts: VecDeque<Script>,
    fallback: Script,
    requests: Vec<Request>,
    closed_by_client: usize,
}

/// The server, listening on `127.0.0.1:0` until dropped.
pub struct ScriptedServer {
    pub base: String,
    shared: Arc<Mutex<Shared>>,
    accept: JoinHandle<()>,
}

impl ScriptedServer {
    /// Plays `scripts` in order, then stalls every further connection.
    pub async fn start(scripts: Vec<Script>) -> ScriptedServer {
        Self::with_fallback(scripts, Script::sse().stall()).await
    }

    /// Plays `scripts` in order, then `fallback` on every further connection.
    pub async fn with_fallback(scripts: Vec<Script>, fallback: Script) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Mutex::new(Shared {
            scripts: scripts.into(),
            fallback,
            ..Shared::default()
        }));
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, accepting.clone()));
            }
        });
        ScriptedServer {
            base,
            shared,
            accept,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().expect("lock").requests.clone()
    }

    /// Stalled connections the client has closed.
    pub fn closed_by_client(&self) -> usize {
        self.shared.lock().expect("lock").closed_by_client
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Mutex<Shared>>) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let script = {
        let mut shared = shared.lock().expect("lock");
        shared.requests.push(request);
        let next = shared.scripts.pop_front();
        next.unwrap_or_else(|| shared.fallback.clone())
    };
    for step in script.0 {
        match step {
            Step::Write(bytes) => {
                if socket.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Step::Pause(duration) => tokio::time::sleep(duration).await,
            Step::Close => return,
            Step::Stall => {
                let mut buffer = [0; 256];
                while let Ok(1..) = socket.read(&mut buffer).await {}
                shared.lock().expect("lock").closed_by_client += 1;
                return;
            }
        }
    }
}

/// Reads a request head; `None` if the client went away first.
async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let read = socket
            .read(&mut buffer)
            .await
            .ok()
            .filter(|&read| read > 0)?;
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8(head).expect("ascii head");
    let mut lines = text.split("\r\n");
    let request_line = lines.next().expect("request line");
    let target = request_line.split(' ').nth(1).expect("target").to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Some(Request {
        target,
        headers,
        at: Instant::now(),
    })
}

/// The longest a test waits for one item, in virtual time.
const ITEM_WAIT: Duration = Duration::from_secs(600);

/// The next item, which must come and must not be an error.
pub async fn next_event(
    events: &mut tracetail_client::EventStream,
) -> tracetail_client::ClientEvent {
    use futures_util::StreamExt;
    let item = tokio::time::timeout(ITEM_WAIT, events.next()).await;
    let item = item.expect("an item within ten virtual minutes");
    item.expect("the stream goes on")
        .expect("an event, not an error")
}

/// Items up to and including the first that `last` accepts.
pub async fn events_until(
    events: &mut tracetail_client::EventStream,
    last: impl Fn(&tracetail_client::ClientEvent) -> bool,
) -> Vec<tracetail_client::ClientEvent> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(events).await;
        let done = last(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// The delays of the `Reconnecting` notes among `events`.
pub fn delays(events: &[tracetail_client::ClientEvent]) -> Vec<Duration> {
    let delays = events.iter().filter_map(|event| match event {
        tracetail_client::ClientEvent::Reconnecting { delay, .. } => Some(*delay),
        _ => None,
    });
    delays.collect()
}
