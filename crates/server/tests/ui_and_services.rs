//! The embedded web UI and `GET /v1/services` against a real server.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, client};
use serde_json::{Value, json};

async fn services(server: &TestServer) -> Value {
    let response = client()
        .get(server.url("/v1/services"))
        .send()
        .await
        .expect("get services");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Waits until the start-up rebuild of the counts is done.
async fn complete_services(server: &TestServer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = services(server).await;
        if answer["complete"] == json!(true) {
            return answer;
        }
        assert!(Instant::now() < deadline, "service counts never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn counts(answer: &Value) -> Vec<(String, u64)> {
    answer["services"]
        .as_array()
        .expect("services array")
        .iter()
        .map(|item| {
            let name = item["name"].as_str().expect("name").to_owned();
            (name, item["count"].as_u64().expect("count"))
        })
        .collect()
}

#[tokio::test]
async fn services_are_listed_by_name_with_counts_and_last_seen() {
    let server = TestServer::start().await;
    assert_eq!(complete_services(&server).await["services"], json!([]));

    server
        .send(&json!([
            {"service": "payments", "message": "a"},
            {"service": "checkout", "message": "b"},
            {"service": "payments", "message": "c"},
            {"message": "no service"},
        ]))
        .await;
    let answer = complete_services(&server).await;
    assert_eq!(
        counts(&answer),
        [
            ("checkout".to_owned(), 1),
            ("payments".to_owned(), 2),
            ("unknown_service".to_owned(), 1)
        ]
    );
    let last_seen = answer["services"][1]["last_seen"].as_str().expect("time");
    let parsed = chrono::DateTime::parse_from_rfc3339(last_seen).expect("RFC 3339");
    let age = chrono::Utc::now().signed_duration_since(parsed);
    assert!(age.num_seconds().abs() < 60, "last_seen {last_seen} is now");
}

#[tokio::test]
async fn service_counts_are_rebuilt_from_the_store_after_a_restart() {
    let server = TestServer::start().await;
    // More than one page of the rebuild's reads.
    server.send_numbered("before-", 0..9_000).await;
    server.send_numbered("more-", 0..25).await;
    server
        .send(&json!([{"service": "payments", "message": "x"}]))
        .await;
    let before = complete_services(&server).await;

    let server = server.restart().await;
    let after = complete_services(&server).await;
    assert_eq!(counts(&after), counts(&before));
    assert_eq!(after["services"], before["services"], "last_seen kept too");

    // New events add to the rebuilt counts.
    server.send_numbered("after-", 0..5).await;
    let more = complete_services(&server).await;
    assert_eq!(
        counts(&more),
        [("payments".to_owned(), 1), ("test".to_owned(), 9_030)]
    );
}

#[tokio::test]
async fn the_page_is_served_at_root_and_trace_paths_with_caching_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/trace/4bf92f3577b34da6a3ce929d0e0e4736"] {
        let response = client().get(server.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-cache");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .expect("ascii")
                .starts_with("default-src 'self'")
        );
        let body = response.text().await.expect("body");
        assert!(body.contains(r#"<script type="module" src="/ui/app/main.js">"#));
    }
}

#[tokio::test]
async fn assets_have_their_content_types_and_answer_304_to_a_matching_etag() {
    let server = TestServer::start().await;
    let cases = [
        (
            "/tracetail.js",
            "text/javascript; charset=utf-8",
            "export class TracetailStream",
        ),
        (
            "/ui/app/main.js",
            "text/javascript; charset=utf-8",
            "import",
        ),
        (
            "/ui/style.css",
            "text/css; charset=utf-8",
            "prefers-color-scheme: dark",
        ),
        ("/favicon.ico", "image/svg+xml", "<svg"),
    ];
    for (path, content_type, snippet) in cases {
        let response = client().get(server.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let etag = response.headers()["etag"].clone();
        assert!(response.text().await.expect("body").contains(snippet));

        let again = client()
            .get(server.url(path))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .expect("get again");
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag);
        assert!(again.bytes().await.expect("body").is_empty());
    }
}

#[tokio::test]
async fn an_unknown_ui_file_is_a_json_404() {
    let server = TestServer::start().await;
    let response = client()
        .get(server.url("/ui/app/nope.js"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "no UI file named app/nope.js");
}

#[tokio::test]
async fn spans_are_not_counted_as_events_of_their_service_live_or_after_a_restart() {
    let server = TestServer::start().await;
    server
        .send(&json!([{"service": "payments", "message": "a"}]))
        .await;
    let spans = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "payments"}}
        ]},
        "scopeSpans": [{"spans": [{
            "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
            "spanId": "00f067aa0ba902b7",
            "name": "charge",
        }]}],
    }]});
    let response = client()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(spans.to_string())
        .send()
        .await
        .expect("post spans");
    assert_eq!(response.status(), 200);

    let expected = [("payments".to_owned(), 1)];
    assert_eq!(counts(&complete_services(&server).await), expected);
    let server = server.restart().await;
    assert_eq!(counts(&complete_services(&server).await), expected);
}
