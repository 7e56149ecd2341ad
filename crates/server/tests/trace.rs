//! Trace context on a real server: a span per request continuing the caller's trace, trace
//! headers on every answer, and stream spans that last as long as the connection. Spans are
//! read back from the OpenTelemetry SDK's in-memory exporter.

mod common;

use std::time::{Duration, Instant};

use common::{SseReader, TestServer, client};
use opentelemetry::Value as OtelValue;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use tracetail_server::ServerConfig;

const WAIT: Duration = Duration::from_secs(10);
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A server whose spans go to an in-memory exporter.
async fn traced_server(heartbeat: Duration) -> (TestServer, InMemorySpanExporter) {
    traced_server_with(|config| config.heartbeat = heartbeat).await
}

async fn traced_server_with(
    adjust: impl FnOnce(&mut ServerConfig),
) -> (TestServer, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let server = TestServer::start_with(|config| {
        config.tracer_provider = Some(provider);
        adjust(config);
    })
    .await;
    (server, exporter)
}

/// The first finished span that `matches`, waiting for it up to [`WAIT`].
async fn finished_span(
    exporter: &InMemorySpanExporter,
    matches: impl Fn(&SpanData) -> bool,
) -> SpanData {
    let deadline = Instant::now() + WAIT;
    loop {
        let spans = exporter.get_finished_spans().expect("exporter works");
        if let Some(span) = spans.into_iter().find(|span| matches(span)) {
            return span;
        }
        assert!(Instant::now() < deadline, "no such span finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<OtelValue> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| attribute.value.clone())
}

fn int(span: &SpanData, key: &str) -> i64 {
    match attribute(span, key) {
        Some(OtelValue::I64(value)) => value,
        other => panic!("{key} is {other:?}"),
    }
}

fn text(span: &SpanData, key: &str) -> String {
    match attribute(span, key) {
        Some(value) => value.to_string(),
        None => panic!("{key} missing"),
    }
}

/// Every route, as `(method, path, body)`, including errors and the fallback.
fn every_route() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    vec![
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
        ("GET", "/v1/logs", None),
        ("GET", "/v1/logs?limit=lots", None),
        ("GET", "/v1/stream", None),
        ("GET", "/v1/stream?level=loud", None),
        ("POST", "/v1/events", Some(r#"{"message": "hello"}"#)),
        ("POST", "/v1/events", Some("not json")),
        ("POST", "/v1/logs", Some("{}")),
        ("GET", "/no/such/route", None),
        ("DELETE", "/v1/events", None),
    ]
}

async fn call(
    server: &TestServer,
    (method, path, body): (&str, &str, Option<&str>),
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client().request(method, server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    request.send().await.expect("request answered")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    Some(value.to_str().expect("ascii header").to_string())
}

#[tokio::test]
async fn every_route_continues_a_valid_traceparent_and_answers_with_trace_headers() {
    let server = TestServer::start().await;
    let incoming = [
        ("traceparent", TRACEPARENT),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ];
    for route in every_route() {
        let response = call(&server, route, &incoming).await;
        let traceparent = header(&response, "traceparent").expect("traceparent");
        let fields: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(fields.len(), 4, "{route:?}: {traceparent}");
        assert_eq!(fields[..2], ["00", TRACE], "{route:?}: {traceparent}");
        assert_ne!(fields[2], PARENT, "{route:?}: the server's own span");
        assert_eq!(fields[3], "01", "{route:?}");
        assert_eq!(
            header(&response, "x-trace-id").as_deref(),
            Some(TRACE),
            "{route:?}"
        );
        assert_eq!(
            header(&response, "tracestate").as_deref(),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            "{route:?}"
        );
    }
}

#[tokio::test]
async fn without_a_valid_traceparent_every_route_starts_a_new_trace_and_drops_tracestate() {
    let server = TestServer::start().await;
    let upper_case = TRACEPARENT.to_uppercase();
    let cases: [&[(&str, &str)]; 3] = [
        &[],
        &[
            ("traceparent", &upper_case),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
        &[("traceparent", TRACEPARENT), ("traceparent", TRACEPARENT)],
    ];
    for headers in cases {
        for route in every_route() {
            let response = call(&server, route, headers).await;
            let traceparent = header(&response, "traceparent").expect("traceparent");
            let trace_id = header(&response, "x-trace-id").expect("x-trace-id");
            assert_ne!(trace_id, TRACE, "{route:?} {headers:?}");
            assert_eq!(trace_id.len(), 32);
            assert!(
                traceparent.starts_with(&format!("00-{trace_id}-")),
                "{traceparent}"
            );
            assert_eq!(
                header(&response, "tracestate"),
                None,
                "{route:?} {headers:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_higher_traceparent_version_is_continued_and_answered_as_version_00() {
    let server = TestServer::start().await;
    let future = format!("cc-{TRACE}-{PARENT}-01-more-fields");
    let response = call(
        &server,
        ("GET", "/healthz", None),
        &[("traceparent", &future)],
    )
    .await;
    let traceparent = header(&response, "traceparent").expect("traceparent");
    assert!(
        traceparent.starts_with(&format!("00-{TRACE}-")),
        "{traceparent}"
    );
}

#[tokio::test]
async fn each_request_is_a_server_span_child_of_the_callers_span() {
    let (server, exporter) = traced_server(Duration::from_secs(15)).await;
    let response = call(
        &server,
        ("POST", "/v1/events", Some(r#"{"message": "hello"}"#)),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let answered = header(&response, "traceparent").expect("traceparent");

    let span = finished_span(&exporter, |span| span.name == "POST /v1/events").await;
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.span_context.trace_id().to_string(), TRACE);
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    assert!(answered.contains(&span.span_context.span_id().to_string()));
    assert_eq!(int(&span, "http.response.status_code"), 200);
    assert_eq!(text(&span, "http.route"), "/v1/events");

    // Errors and unknown routes are spans too.
    let response = call(&server, ("GET", "/no/such/route", None), &[]).await;
    assert_eq!(response.status(), 404);
    let span = finished_span(&exporter, |span| {
        text_of(span, "url.path") == "/no/such/route"
    })
    .await;
    assert_eq!(span.name, "GET");
    assert_eq!(int(&span, "http.response.status_code"), 404);
    assert_eq!(span.status, Status::Unset);
}

fn text_of(span: &SpanData, key: &str) -> String {
    attribute(span, key)
        .map(|value| value.to_string())
        .unwrap_or_default()
}

fn is_stream_span(span: &SpanData) -> bool {
    span.name == "GET /v1/stream"
}

#[tokio::test]
async fn a_stream_span_lasts_the_connection_and_records_what_it_sent() {
    let (server, exporter) = traced_server(Duration::from_millis(100)).await;
    server.send_numbered("stored-", 0..3).await;
    let first = client()
        .get(server.url("/v1/logs?order=asc&limit=1"))
        .send()
        .await
        .expect("query")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let cursor = first["events"][0]["id"]
        .as_str()
        .expect("cursor")
        .to_string();

    let response = client()
        .get(server.url("/v1/stream"))
        .header("traceparent", TRACEPARENT)
        .header("last-event-id", &cursor)
        .send()
        .await
        .expect("stream opens");
    let answered = header(&response, "traceparent").expect("traceparent");
    let mut stream = SseReader::new(response);
    let open = stream.next_of("open", WAIT).await.expect("open").json();
    assert_eq!(open["trace_id"], TRACE);
    assert!(answered.contains(open["span_id"].as_str().expect("span id")));
    stream.logs(2, WAIT).await;
    server.send_numbered("live-", 0..2).await;
    stream.logs(2, WAIT).await;

    // The span is still open while the client listens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans = exporter.get_finished_spans().expect("spans");
    assert!(
        !spans.iter().any(is_stream_span),
        "ended while the stream was open"
    );

    drop(stream);
    let span = finished_span(&exporter, is_stream_span).await;
    assert_eq!(
        span.span_context.span_id().to_string(),
        open["span_id"].as_str().expect("id")
    );
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(text(&span, "stream.close_reason"), "client_gone");
    assert_eq!(int(&span, "stream.events_sent"), 4);
    assert_eq!(int(&span, "stream.events_replayed"), 2);
    assert_eq!(int(&span, "stream.gaps"), 0);
    assert!(
        int(&span, "stream.bytes_sent") > 400,
        "{:?}",
        span.attributes
    );
    assert_eq!(text(&span, "stream.cursor.requested"), cursor);
    assert_eq!(text(&span, "stream.cursor.effective"), cursor);
    let first_event: Vec<_> = span
        .events
        .iter()
        .filter(|e| e.name == "first_event")
        .collect();
    assert_eq!(first_event.len(), 1, "{:?}", span.events);
    assert!(first_event[0].timestamp >= span.start_time);
}

#[tokio::test]
async fn a_stream_span_records_gaps_and_a_shutdown() {
    let (mut server, exporter) = traced_server(Duration::from_secs(15)).await;
    let mut stream = server.stream("", Some("not a cursor")).await;
    stream.next_of("gap", WAIT).await.expect("gap");

    let running = server.server.take().expect("running");
    running.stop().await.expect("clean stop");
    let span = finished_span(&exporter, is_stream_span).await;
    assert_eq!(text(&span, "stream.close_reason"), "shutdown");
    assert_eq!(int(&span, "stream.gaps"), 1);
    assert_eq!(int(&span, "stream.events_sent"), 0);
    assert_eq!(text(&span, "stream.cursor.requested"), "not a cursor");
    assert!(span.events.iter().all(|event| event.name != "first_event"));
}

#[tokio::test]
async fn a_request_sent_with_the_streams_trace_id_joins_the_streams_trace() {
    let (server, exporter) = traced_server(Duration::from_secs(15)).await;
    let mut stream = server.stream("", None).await;
    let open = stream.next_of("open", WAIT).await.expect("open").json();
    let (trace_id, span_id) = (
        open["trace_id"].as_str().expect("trace id"),
        open["span_id"].as_str().expect("span id"),
    );

    let traceparent = format!("00-{trace_id}-{span_id}-01");
    let body = json!({"message": "follow-up"}).to_string();
    let response = call(
        &server,
        ("POST", "/v1/events", Some(&body)),
        &[("traceparent", &traceparent)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let span = finished_span(&exporter, |span| span.name == "POST /v1/events").await;
    assert_eq!(span.span_context.trace_id().to_string(), trace_id);
    assert_eq!(span.parent_span_id.to_string(), span_id);
}

#[tokio::test]
async fn requests_of_a_hubs_own_exporter_make_no_span() {
    let (server, exporter) = traced_server(Duration::from_secs(15)).await;
    // This hub's exporter or another hub's: both mark their requests the same way.
    let marked = [(tracetail_server::OWN_EXPORT_HEADER, "1")];
    let response = call(&server, ("POST", "/v1/logs", Some("{}")), &marked).await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "traceparent").is_some());
    let response = call(&server, ("POST", "/v1/traces", Some("{}")), &marked).await;
    assert_eq!(response.status(), 200);

    // An unmarked request is an ordinary one, whose span shows that spans are exported.
    call(&server, ("POST", "/v1/logs", Some("{}")), &[]).await;
    finished_span(&exporter, |span| span.name == "POST /v1/logs").await;
    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(spans.len(), 1, "{spans:?}");
}

#[tokio::test]
async fn an_unsampled_caller_gets_an_unsampled_span_that_is_not_exported() {
    let (server, exporter) = traced_server(Duration::from_secs(15)).await;
    let unsampled = format!("00-{TRACE}-{PARENT}-00");
    let response = call(
        &server,
        ("GET", "/healthz", None),
        &[("traceparent", &unsampled)],
    )
    .await;
    let traceparent = header(&response, "traceparent").expect("traceparent");
    assert!(
        traceparent.starts_with(&format!("00-{TRACE}-")),
        "{traceparent}"
    );
    assert!(traceparent.ends_with("-00"), "{traceparent}");

    // A sampled request afterwards is exported, and is the only span.
    call(
        &server,
        ("GET", "/readyz", None),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    finished_span(&exporter, |span| span.name == "GET /readyz").await;
    let names: Vec<_> = exporter
        .get_finished_spans()
        .expect("spans")
        .into_iter()
        .map(|span| span.name)
        .collect();
    assert_eq!(names, ["GET /readyz"]);
}
