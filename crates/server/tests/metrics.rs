//! `GET /metrics` moves as a scripted load says it should, and each operational event (records
//! rejected, a subscriber fell behind, a gap sent, a request refused) writes its log line.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{TestServer, client};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

/// Everything the server logged in this test binary (all tests share one subscriber).
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        tracing_subscriber::fmt()
            .with_env_filter("tracetail_server=debug")
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&sink)))
            .init();
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether a captured log line contains every one of `parts`.
fn logged(parts: &[&str]) -> bool {
    let logs = captured_logs().lock().expect("log lock");
    String::from_utf8_lossy(&logs)
        .lines()
        .any(|line| parts.iter().all(|part| line.contains(part)))
}

async fn start(adjust: impl FnOnce(&mut tracetail_server::ServerConfig)) -> TestServer {
    captured_logs();
    TestServer::start_with(adjust).await
}

/// The value of one sample of the scrape, e.g. `tracetail_gaps_total{reason="future"}`; 0 when
/// the sample is absent (a label set not seen yet).
async fn sample(server: &TestServer, name: &str) -> f64 {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `name` reads `expected`.
async fn settles_at(server: &TestServer, name: &str, expected: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = sample(server, name).await;
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed at {value}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post(server: &TestServer, path: &str, content_type: &str, body: Vec<u8>) -> u16 {
    let response = client()
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("post");
    response.status().as_u16()
}

#[tokio::test]
async fn the_scrape_is_prometheus_text_with_conventional_names() {
    let server = start(|_| {}).await;
    let response = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.expect("text");
    for name in [
        "tracetail_subscribers",
        "tracetail_delivered_events_total",
        "tracetail_sent_bytes_total",
        "tracetail_catch_ups_total",
        "tracetail_stream_duration_seconds_count",
        "tracetail_store_size_bytes",
        "tracetail_store_records",
        // Labelled series of known label values are there from the start, at 0.
        "tracetail_ingested_records_total{protocol=\"otlp_logs\"} 0",
        "tracetail_ingest_write_seconds_count{protocol=\"events\"} 0",
        "tracetail_rejected_records_total{protocol=\"events\",reason=\"bad_level\"} 0",
        "tracetail_gaps_total{reason=\"evicted\"} 0",
        "tracetail_refused_requests_total{reason=\"header_timeout\"} 0",
    ] {
        assert!(
            text.lines().any(|line| line.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn the_subscriber_gauge_follows_real_streams_and_returns_to_zero() {
    let server = start(|_| {}).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = server.stream("", None).await;
        stream.next_of("open", WAIT).await.expect("open");
        streams.push(stream);
    }
    settles_at(&server, "tracetail_subscribers", 3.0).await;

    drop(streams.pop());
    settles_at(&server, "tracetail_subscribers", 2.0).await;
    streams.clear();
    settles_at(&server, "tracetail_subscribers", 0.0).await;
    let durations = sample(&server, "tracetail_stream_duration_seconds_count").await;
    assert_eq!(durations, 3.0, "each closed stream is timed once");
}

#[tokio::test]
async fn ingest_counters_match_what_was_sent_and_rejected_by_reason() {
    let server = start(|_| {}).await;
    let events = json!([
        {"message": "a"}, {"message": "b"}, {"message": "c", "level": "loud"},
        {"message": "d", "trace_id": "xyz"},
    ]);
    let status = post(
        &server,
        "/v1/events",
        "application/json",
        events.to_string().into(),
    )
    .await;
    assert_eq!(status, 200);
    let logs = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{}, {}, {}]}]}]});
    assert_eq!(
        post(
            &server,
            "/v1/logs",
            "application/json",
            logs.to_string().into()
        )
        .await,
        200
    );
    let spans = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7"},
        {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00"},
    ]}]}]});
    assert_eq!(
        post(
            &server,
            "/v1/traces",
            "application/json",
            spans.to_string().into()
        )
        .await,
        200
    );

    let ingested =
        |protocol: &str| format!("tracetail_ingested_records_total{{protocol=\"{protocol}\"}}");
    assert_eq!(sample(&server, &ingested("events")).await, 2.0);
    assert_eq!(sample(&server, &ingested("otlp_logs")).await, 3.0);
    assert_eq!(sample(&server, &ingested("otlp_traces")).await, 1.0);
    let rejected = |protocol: &str, reason: &str| {
        format!("tracetail_rejected_records_total{{protocol=\"{protocol}\",reason=\"{reason}\"}}")
    };
    assert_eq!(sample(&server, &rejected("events", "bad_level")).await, 1.0);
    assert_eq!(sample(&server, &rejected("events", "bad_id")).await, 1.0);
    assert_eq!(
        sample(&server, &rejected("otlp_traces", "bad_id")).await,
        1.0
    );
    let writes = "tracetail_ingest_write_seconds_count{protocol=\"events\"}";
    assert_eq!(
        sample(&server, writes).await,
        1.0,
        "one durable write per request"
    );
    assert!(sample(&server, "tracetail_store_records").await >= 6.0);
    assert!(sample(&server, "tracetail_store_size_bytes").await > 0.0);
    // Both reasons came in one request: the second line is held back by the rate limit.
    assert!(logged(&[
        "records rejected",
        "protocol=\"events\"",
        "reason=\"bad_id\""
    ]));
}

#[tokio::test]
async fn refused_requests_are_counted_by_reason_including_header_timeouts() {
    let server = start(|config| {
        config.max_body = 1024;
        config.header_read_timeout = Duration::from_millis(200);
    })
    .await;
    assert_eq!(
        post(&server, "/v1/logs", "text/plain", b"{}".to_vec()).await,
        415
    );
    assert_eq!(
        post(&server, "/v1/events", "application/json", vec![b' '; 4096]).await,
        413
    );
    assert_eq!(
        post(&server, "/v1/events", "application/json", b"{".to_vec()).await,
        400
    );

    // A keep-alive connection that served a request and then sat idle is closed by the same
    // timeout, but refused nothing.
    let address = server.server.as_ref().expect("up").local_addr();
    let mut idle = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(WAIT, idle.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the idle connection stayed open");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");

    let mut half_sent =
        tokio::net::TcpStream::connect(server.server.as_ref().expect("up").local_addr())
            .await
            .expect("connect");
    half_sent
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let refused = |reason: &str| format!("tracetail_refused_requests_total{{reason=\"{reason}\"}}");
    settles_at(&server, &refused("header_timeout"), 1.0).await;
    // Long enough for a miscount of the idle connection to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sample(&server, &refused("header_timeout")).await, 1.0);
    assert_eq!(
        sample(&server, &refused("unsupported_media_type")).await,
        1.0
    );
    assert_eq!(sample(&server, &refused("too_large")).await, 1.0);
    assert_eq!(sample(&server, &refused("bad_request")).await, 1.0);
    assert!(logged(&[
        "request refused",
        "reason=\"unsupported_media_type\""
    ]));
}

#[tokio::test]
async fn gaps_are_counted_and_logged_by_reason() {
    let server = start(|_| {}).await;
    server.send_numbered("m", 0..2).await;
    let latest = server.stream("?since=1h", None).await.logs(2, WAIT).await[1]
        .id
        .clone();
    let latest = latest.expect("cursor");
    let (epoch, _) = latest.rsplit_once('-').expect("epoch-seq");
    let cases = [
        ("not a cursor!", "malformed"),
        ("ffffffff-1", "unknown"),
        (&format!("{epoch}-999") as &str, "future"),
    ];
    for (cursor, reason) in cases {
        let mut stream = server.stream("", Some(cursor)).await;
        let gap = stream.next_of("gap", WAIT).await.expect("gap event");
        assert_eq!(gap.json()["reason"], reason);
        let gaps = format!("tracetail_gaps_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&server, &gaps).await, 1.0, "{reason}");
    }
    assert!(logged(&["gap sent", "reason=\"malformed\""]));
}

#[tokio::test]
async fn a_stream_that_falls_behind_catches_up_from_the_store_and_bytes_sent_grow() {
    let server = start(|config| config.live_ring_batches = 4).await;
    let mut stream = server.stream("", None).await;
    stream.next_of("open", WAIT).await.expect("open");
    server.send_numbered("first-", 0..3).await;
    stream.logs(3, WAIT).await;
    settles_at(&server, "tracetail_delivered_events_total", 3.0).await;
    let bytes_before = sample(&server, "tracetail_sent_bytes_total").await;
    assert!(bytes_before > 0.0);

    // The client stops reading; about 24 MiB fill the socket buffers, then more batches than
    // the ring holds pass the stream by.
    let filler = "x".repeat(64 * 1024);
    for batch in 0..24 {
        let events: Vec<Value> = (0..16)
            .map(|i| json!({"message": format!("big-{batch}-{i} {filler}")}))
            .collect();
        server.send(&Value::Array(events)).await;
    }
    for n in 0..8 {
        server.send(&json!({"message": format!("late-{n}")})).await;
    }

    let received = stream.logs(24 * 16 + 8, WAIT * 3).await;
    let last = received.last().expect("events").message();
    assert_eq!(last, "late-7", "nothing lost while behind");
    assert!(sample(&server, "tracetail_catch_ups_total").await >= 1.0);
    assert!(logged(&["subscriber fell behind"]));
    settles_at(
        &server,
        "tracetail_delivered_events_total",
        3.0 + 24.0 * 16.0 + 8.0,
    )
    .await;
    assert!(sample(&server, "tracetail_sent_bytes_total").await > bytes_before + 24e6);
}

#[tokio::test]
async fn bytes_sent_are_every_byte_a_stream_wrote_its_opening_included() {
    let server = start(|_| {}).await;
    let mut response = client()
        .get(server.url("/v1/stream"))
        .send()
        .await
        .expect("stream");
    server.send(&json!({"message": "counted"})).await;
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("counted") {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("the stream goes on")
            .expect("read")
            .expect("not ended");
        received.extend_from_slice(&chunk);
    }
    assert!(received.starts_with(b"retry:"), "the opening is part of it");
    drop(response);
    settles_at(&server, "tracetail_subscribers", 0.0).await;
    assert_eq!(
        sample(&server, "tracetail_sent_bytes_total").await,
        received.len() as f64
    );
}
