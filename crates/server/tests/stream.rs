//! `GET /v1/stream` against a real server: framing, cursors, resume, slow subscribers.

mod common;

use std::time::Duration;

use common::{TestServer, client};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn stream_opens_with_retry_and_open_then_delivers_live_events() {
    let server = TestServer::start().await;
    let mut stream = server.stream("", None).await;
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    assert_eq!(stream.headers["cache-control"], "no-cache");
    assert_eq!(stream.headers["x-accel-buffering"], "no");

    let open = stream.next_of("open", WAIT).await.expect("open event");
    assert_eq!(stream.retry, Some(3000));
    let open = open.json();
    assert_eq!(open["heartbeat_ms"], 15000);
    assert_eq!(open["trace_id"].as_str().expect("trace id").len(), 32);

    server.send_numbered("live-", 0..3).await;
    let logs = stream.logs(3, WAIT).await;
    let messages: Vec<String> = logs.iter().map(|event| event.message()).collect();
    assert_eq!(messages, ["live-0", "live-1", "live-2"]);
    assert_eq!(logs[0].id.as_deref(), logs[0].json()["id"].as_str());
}

#[tokio::test]
async fn message_with_line_breaks_and_field_names_arrives_as_one_event_byte_for_byte() {
    let server = TestServer::start().await;
    let mut stream = server.stream("", None).await;
    stream.next_of("open", WAIT).await.expect("open");

    let tricky = "a\rb\nc\r\nid: 999\nevent: gap\ndata: {}\nretry: 1\n\n: comment\r\rend";
    server
        .send(&json!({"message": tricky, "service": "s"}))
        .await;
    let event = stream.next_of("log", WAIT).await.expect("one log event");
    assert_eq!(event.message(), tricky);
    assert_ne!(event.id.as_deref(), Some("999"));
    assert_eq!(stream.retry, Some(3000), "no forged retry");
}

#[tokio::test]
async fn resume_with_last_event_id_is_exclusive_and_in_order() {
    let server = TestServer::start().await;
    server.send_numbered("m", 0..10).await;
    let mut first = server.stream("?since=1h", None).await;
    let logs = first.logs(10, WAIT).await;
    let cursor = logs[4].id.clone().expect("id");
    drop(first);

    let mut resumed = server.stream("?since=1h", Some(&cursor)).await;
    let rest: Vec<String> = resumed
        .logs(5, WAIT)
        .await
        .iter()
        .map(|e| e.message())
        .collect();
    assert_eq!(rest, ["m5", "m6", "m7", "m8", "m9"]);

    // The query parameter works too, and the header wins over it.
    let query = format!("?lastEventId={}", logs[7].id.as_deref().expect("id"));
    let mut by_param = server.stream(&query, None).await;
    assert_eq!(by_param.logs(2, WAIT).await[0].message(), "m8");
    let mut both = server.stream(&query, Some(&cursor)).await;
    assert_eq!(both.logs(1, WAIT).await[0].message(), "m5");

    // So does `after`, the parameter `GET /v1/logs` pages with; `lastEventId` wins over it.
    let after = format!("?after={}", logs[6].id.as_deref().expect("id"));
    let mut by_after = server.stream(&after, None).await;
    assert_eq!(by_after.logs(1, WAIT).await[0].message(), "m7");
    let mut after_and_param = server
        .stream(&format!("{query}&{}", &after[1..]), None)
        .await;
    assert_eq!(after_and_param.logs(1, WAIT).await[0].message(), "m8");
}

#[tokio::test]
async fn each_bad_cursor_gets_its_gap_reason() {
    let server = TestServer::start().await;
    server.send_numbered("m", 0..3).await;
    let latest = {
        let mut stream = server.stream("?since=1h", None).await;
        stream.logs(3, WAIT).await[2].id.clone().expect("id")
    };
    let epoch = latest.split('-').next().expect("epoch").to_string();

    let cases = [
        ("not a cursor!".to_string(), "malformed"),
        // Cursor characters only, but not shaped like a cursor: not taken for another store's.
        ("garbage".to_string(), "malformed"),
        ("null".to_string(), "malformed"),
        (format!("{epoch}-abc"), "malformed"),
        ("ffffffff-1".to_string(), "unknown"),
        (format!("{epoch}-99999"), "future"),
    ];
    for (cursor, reason) in cases {
        let query = format!("?lastEventId={}", urlencode(&cursor));
        let mut stream = server.stream(&query, None).await;
        let gap = stream.next_of("gap", WAIT).await.expect("gap event").json();
        assert_eq!(gap["reason"], reason, "cursor {cursor:?}");
        assert_eq!(gap["requested"], cursor.as_str());
        assert!(gap["resumed_from"].is_string());
    }

    // An unknown cursor (wiped store, another deployment) replays what this store has.
    let mut stream = server.stream("?lastEventId=ffffffff-1", None).await;
    stream.next_of("gap", WAIT).await.expect("gap");
    assert_eq!(stream.logs(3, WAIT).await[0].message(), "m0");

    // A future cursor goes live: the next event is the next one sent.
    let mut stream = server
        .stream(&format!("?lastEventId={epoch}-99999"), None)
        .await;
    stream.next_of("gap", WAIT).await.expect("gap");
    server.send_numbered("after", 0..1).await;
    assert_eq!(stream.logs(1, WAIT).await[0].message(), "after0");
}

#[tokio::test]
async fn filters_narrow_by_service_level_text_and_trace() {
    let server = TestServer::start().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let query = format!("?service=api,db&level=warn&q=TIMEOUT&trace_id={trace}");
    let mut stream = server.stream(&query, None).await;
    stream.next_of("open", WAIT).await.expect("open");
    server
        .send(&json!([
            {"service": "web", "level": "error", "message": "timeout", "trace_id": trace},
            {"service": "api", "level": "info", "message": "timeout", "trace_id": trace},
            {"service": "api", "level": "error", "message": "ok", "trace_id": trace},
            {"service": "api", "level": "error", "message": "timeout", "trace_id": "00f067aa0ba902b700f067aa0ba902b7"},
            {"service": "db", "level": "error", "message": "query Timeout", "trace_id": trace},
        ]))
        .await;
    let event = stream.next_of("log", WAIT).await.expect("the one match");
    assert_eq!(event.message(), "query Timeout");
}

#[tokio::test]
async fn trace_stream_replays_the_stored_trace_first() {
    let server = TestServer::start().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    server
        .send(&json!([
            {"message": "one", "trace_id": trace},
            {"message": "other"},
            {"message": "two", "trace_id": trace},
        ]))
        .await;
    let mut stream = server.stream(&format!("?trace_id={trace}"), None).await;
    let logs: Vec<String> = stream
        .logs(2, WAIT)
        .await
        .iter()
        .map(|e| e.message())
        .collect();
    assert_eq!(logs, ["one", "two"]);
    server
        .send(&json!({"message": "three", "trace_id": trace}))
        .await;
    assert_eq!(stream.logs(1, WAIT).await[0].message(), "three");
}

#[tokio::test]
async fn heartbeat_arrives_after_an_idle_interval() {
    let server = TestServer::start_with(|c| c.heartbeat = Duration::from_millis(200)).await;
    let mut stream = server.stream("", None).await;
    let beat = stream.next_of("heartbeat", WAIT).await.expect("heartbeat");
    assert!(beat.json()["ts"].as_u64().expect("ts") > 1_600_000_000_000);
    assert!(beat.id.is_none(), "heartbeats must not move the cursor");
}

#[tokio::test]
async fn stalled_subscriber_does_not_delay_others() {
    let server = TestServer::start().await;
    // A subscriber that never reads: its socket buffers fill and its queue falls behind.
    let stalled = client()
        .get(server.url("/v1/stream"))
        .send()
        .await
        .expect("stalled opens");
    let mut healthy = server.stream("", None).await;
    healthy.next_of("open", WAIT).await.expect("open");

    let big = "x".repeat(4000);
    for round in 0..20 {
        let events: Vec<_> = (0..100)
            .map(|i| json!({"message": format!("{round}-{i} {big}")}))
            .collect();
        server.send(&serde_json::Value::Array(events)).await;
    }
    let started = std::time::Instant::now();
    let logs = healthy.logs(2000, WAIT).await;
    assert_eq!(
        logs.last().expect("last").message().split(' ').next(),
        Some("19-99")
    );
    assert!(started.elapsed() < WAIT);
    drop(stalled);
}

#[tokio::test]
async fn streams_work_over_http2_prior_knowledge_without_connection_headers() {
    let server = TestServer::start().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("h2 client");
    let response = h2
        .get(server.url("/v1/stream"))
        .send()
        .await
        .expect("h2 stream");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    for name in ["connection", "keep-alive", "transfer-encoding", "upgrade"] {
        assert!(
            response.headers().get(name).is_none(),
            "{name} must not be sent on h2"
        );
    }
    let mut stream = common::SseReader::new(response);
    stream.next_of("open", WAIT).await.expect("open");
    server.send_numbered("h2-", 0..2).await;
    assert_eq!(stream.logs(2, WAIT).await[1].message(), "h2-1");
}

#[tokio::test]
async fn resume_after_restart_replays_missed_events() {
    let server = TestServer::start().await;
    server.send_numbered("before", 0..3).await;
    let cursor = {
        let mut stream = server.stream("?since=1h", None).await;
        stream.logs(3, WAIT).await[2].id.clone().expect("id")
    };
    let server = server.restart().await;
    server.send_numbered("after", 0..2).await;
    let mut stream = server.stream("", Some(&cursor)).await;
    let logs: Vec<String> = stream
        .logs(2, WAIT)
        .await
        .iter()
        .map(|e| e.message())
        .collect();
    assert_eq!(logs, ["after0", "after1"]);
}

#[tokio::test]
async fn graceful_shutdown_ends_open_streams_promptly() {
    let mut server = TestServer::start().await;
    let mut stream = server.stream("", None).await;
    stream.next_of("open", WAIT).await.expect("open");
    let started = std::time::Instant::now();
    server
        .server
        .take()
        .expect("running")
        .stop()
        .await
        .expect("stops");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stream.next_event().await.is_none(), "stream ended");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
