//! Connections come and go without leaving tasks, sockets or subscribers behind.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a stream with raw bytes and reads until its `open` event.
async fn open_raw_stream(addr: &str) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /v1/stream HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("request");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !seen.windows(11).any(|w| w == b"event: open") {
        let read = socket.read(&mut buffer).await.expect("read");
        assert!(read > 0, "stream closed before open");
        seen.extend_from_slice(&buffer[..read]);
    }
    socket
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("fd list").count()
}

async fn subscribers(server: &TestServer) -> u64 {
    let ready: serde_json::Value = common::client()
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    ready["subscribers"].as_u64().expect("subscriber count")
}

/// Polls until `done` or the deadline; returns whether it got there.
async fn eventually<F: AsyncFnMut() -> bool>(deadline: Duration, mut done: F) -> bool {
    let started = Instant::now();
    while started.elapsed() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_connect_disconnect_cycles_leave_tasks_and_files_at_baseline() {
    let server = TestServer::start_with(|c| c.heartbeat = Duration::from_millis(500)).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let metrics = tokio::runtime::Handle::current().metrics();
    // Warm up once so lazily created resources exist before the baseline.
    drop(open_raw_stream(&addr).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let baseline_tasks = metrics.num_alive_tasks();
    let baseline_files = open_files();

    for round in 0..100 {
        let mut sockets = Vec::new();
        for _ in 0..10 {
            sockets.push(open_raw_stream(&addr).await);
        }
        assert!(round > 0 || subscribers(&server).await >= 10);
        drop(sockets);
    }

    let settled = eventually(Duration::from_secs(2), async || {
        metrics.num_alive_tasks() <= baseline_tasks && open_files() <= baseline_files
    })
    .await;
    assert!(
        settled,
        "tasks {} (baseline {baseline_tasks}), files {} (baseline {baseline_files})",
        metrics.num_alive_tasks(),
        open_files()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_stream_is_freed_within_one_heartbeat_of_disconnect() {
    let heartbeat = Duration::from_millis(1000);
    let server = TestServer::start_with(|c| c.heartbeat = heartbeat).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sockets = Vec::new();
    for _ in 0..50 {
        sockets.push(open_raw_stream(&addr).await);
    }
    assert_eq!(subscribers(&server).await, 50);

    drop(sockets);
    let started = Instant::now();
    let freed = eventually(heartbeat * 3, async || subscribers(&server).await == 0).await;
    assert!(
        freed,
        "subscribers still open: {}",
        subscribers(&server).await
    );
    assert!(
        started.elapsed() <= heartbeat + Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_that_never_finishes_its_headers_is_closed() {
    let server =
        TestServer::start_with(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut socket = TcpStream::connect(&addr).await.expect("connect");
    socket
        .write_all(b"GET /v1/str")
        .await
        .expect("half a request line");

    let mut buffer = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a half-sent request held its connection for 5 s"
    );
}
