//! `POST /v1/traces` and `GET /v1/traces/{trace_id}` over real HTTP: what is stored, what each
//! bad request is told, spans on `trace_id` streams, and spans across a restart.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{TestServer, client, refusal_message};
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// A span of `TRACE` with span id `[id; 8]`, started `start_ms` after a fixed time.
fn span(id: u8, parent: Option<u8>, name: &str, start_ms: u64) -> Span {
    let start = 1_700_000_000_000_000_000 + start_ms * 1_000_000;
    Span {
        trace_id: hex::decode(TRACE).expect("hex"),
        span_id: vec![id; 8],
        parent_span_id: parent.map_or_else(Vec::new, |parent| vec![parent; 8]),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 5_000_000,
        status: Some(Status {
            code: 2,
            message: "declined".into(),
        }),
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> Vec<u8> {
    let service = KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("checkout".into())),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![service],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

async fn post_traces(
    server: &TestServer,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut post = client().post(server.url("/v1/traces")).body(body);
    for (name, value) in headers {
        post = post.header(*name, *value);
    }
    post.send().await.expect("post traces")
}

/// Headers, body, expected status, and a part of the expected message.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static [u8],
    u16,
    &'static str,
);

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

async fn get_trace(server: &TestServer, id: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(&format!("/v1/traces/{id}")))
        .send()
        .await
        .expect("get trace");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

fn names(trace: &Value) -> Vec<&str> {
    let spans = trace["spans"].as_array().expect("spans");
    spans
        .iter()
        .map(|span| span["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn protobuf_spans_and_logs_of_a_trace_come_back_together_spans_by_start() {
    let server = TestServer::start().await;
    let spans = vec![
        span(2, Some(1), "charge", 3),
        span(1, None, "POST /checkout", 0),
    ];
    let response = post_traces(&server, &[PROTOBUF], request(spans)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let answer = response.bytes().await.expect("body");
    let answer = ExportTraceServiceResponse::decode(&answer[..]).expect("protobuf answer");
    assert_eq!(answer.partial_success, None);
    server
        .send(&json!({"message": "card declined", "service": "checkout", "trace_id": TRACE}))
        .await;

    let (status, trace) = get_trace(&server, &TRACE.to_uppercase()).await;
    assert_eq!(status, 200, "{trace}");
    assert_eq!(trace["trace_id"], TRACE);
    assert_eq!(names(&trace), ["POST /checkout", "charge"]);
    let child = &trace["spans"][1];
    assert_eq!(child["parent_span_id"], "0101010101010101");
    assert_eq!(child["kind"], "SERVER");
    assert_eq!(child["service"], "checkout");
    assert_eq!(child["start"], "2023-11-14T22:13:20.003000000Z");
    assert_eq!(child["duration_ms"], 5.0);
    assert_eq!(
        child["status"],
        json!({"code": "ERROR", "message": "declined"})
    );
    assert!(
        trace["spans"][0].get("parent_span_id").is_none(),
        "a root has no parent"
    );
    assert_eq!(trace["logs"][0]["message"], "card declined");

    let history: Value = client()
        .get(server.url("/v1/logs"))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(
        history["events"].as_array().map(Vec::len),
        Some(1),
        "spans are not logs"
    );
}

#[tokio::test]
async fn spans_with_bad_ids_are_rejected_by_count_and_the_rest_stored() {
    let server = TestServer::start().await;
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": TRACE, "spanId": "00f067aa0ba902b7", "name": "good"},
        {"traceId": "00000000000000000000000000000000", "spanId": "00f067aa0ba902b7"},
        {"traceId": TRACE, "spanId": "abc"},
    ]}]}]});
    let response = post_traces(&server, &[JSON], body.to_string().into_bytes()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "2");
    let message = answer["partialSuccess"]["errorMessage"]
        .as_str()
        .expect("message");
    assert!(
        message.starts_with("2 spans rejected for invalid ids: trace_id is all zeros"),
        "{message}"
    );

    let (_, trace) = get_trace(&server, TRACE).await;
    assert_eq!(names(&trace), ["good"]);
    assert_eq!(trace["spans"][0]["service"], "unknown_service");
}

#[tokio::test]
async fn protobuf_spans_with_bad_ids_are_reported_in_a_protobuf_partial_success() {
    let server = TestServer::start().await;
    let mut short_id = span(2, None, "short", 1);
    short_id.span_id = vec![2; 4];
    let body = request(vec![span(1, None, "kept", 0), short_id]);
    let response = post_traces(&server, &[PROTOBUF], body).await;
    assert_eq!(response.status(), 200);
    let answer = response.bytes().await.expect("body");
    let answer = ExportTraceServiceResponse::decode(&answer[..]).expect("protobuf answer");
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert_eq!(
        partial.error_message,
        "1 span rejected for invalid ids: span_id must be 8 bytes, got 4"
    );
    assert_eq!(names(&get_trace(&server, TRACE).await.1), ["kept"]);
}

#[tokio::test]
async fn gzip_protobuf_is_accepted_and_a_gzip_bomb_refused_with_413() {
    let server = TestServer::start_with(|config| config.max_body = 1 << 20).await;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder
        .write_all(&request(vec![span(1, None, "zipped", 0)]))
        .expect("gzip");
    let gzip = ("content-encoding", "gzip");
    let response = post_traces(&server, &[PROTOBUF, gzip], encoder.finish().expect("gzip")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(names(&get_trace(&server, TRACE).await.1), ["zipped"]);

    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    for _ in 0..4 {
        encoder.write_all(&vec![b' '; 1 << 20]).expect("gzip");
    }
    let response = post_traces(&server, &[JSON, gzip], encoder.finish().expect("gzip")).await;
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.expect("json");
    assert!(
        error["error"]
            .as_str()
            .expect("error")
            .contains("after decompression"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_trace_requests_get_the_same_errors_as_logs() {
    let server = TestServer::start().await;
    let cases: [Case; 6] = [
        (&[], b"{}", 415, "missing Content-Type"),
        (
            &[("content-type", "text/plain")],
            b"{}",
            415,
            "\"text/plain\"",
        ),
        (
            &[JSON, ("content-encoding", "br")],
            b"{}",
            415,
            "Content-Encoding \"br\"",
        ),
        (
            &[JSON],
            br#"{"resource_spans": []}"#,
            400,
            "expected \"resourceSpans\"",
        ),
        (
            &[JSON],
            b"[]",
            400,
            "ExportTraceServiceRequest object, got an array",
        ),
        (
            &[PROTOBUF],
            b"\x0a\xff\xff",
            400,
            "not a valid OTLP/protobuf ExportTraceServiceRequest",
        ),
    ];
    for (headers, body, status, message) in cases {
        let response = post_traces(&server, headers, body.to_vec()).await;
        assert_eq!(response.status(), status, "{headers:?}");
        let text = refusal_message(response).await;
        assert!(text.contains(message), "{headers:?}: {text}");
    }

    let (status, error) = get_trace(&server, "xyz").await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .expect("error")
            .contains("32 hexadecimal"),
        "{error}"
    );
    let (status, error) = get_trace(&server, TRACE).await;
    assert_eq!(status, 404);
    assert!(
        error["error"].as_str().expect("error").contains(TRACE),
        "{error}"
    );
}

#[tokio::test]
async fn a_trace_stream_replays_stored_spans_then_sends_new_ones_live() {
    let server = TestServer::start().await;
    post_traces(
        &server,
        &[PROTOBUF],
        request(vec![span(1, None, "stored", 0)]),
    )
    .await;
    let mut trace_stream = server.stream(&format!("?trace_id={TRACE}"), None).await;
    let mut everything = server.stream("", None).await;
    let replayed = trace_stream
        .next_of("span", WAIT)
        .await
        .expect("stored span");
    assert_eq!(replayed.json()["name"], "stored");
    assert_eq!(replayed.id, None, "spans carry no id");

    post_traces(
        &server,
        &[PROTOBUF],
        request(vec![span(2, Some(1), "live", 1)]),
    )
    .await;
    server
        .send(&json!({"message": "marker", "trace_id": TRACE}))
        .await;
    let live = trace_stream.next_of("span", WAIT).await.expect("live span");
    assert_eq!(live.json()["name"], "live");
    assert_eq!(
        trace_stream
            .next_of("log", WAIT)
            .await
            .expect("log")
            .message(),
        "marker"
    );

    // A stream without a trace filter gets the log, never the spans.
    loop {
        let event = everything.next_event().await.expect("stream open");
        assert_ne!(event.event, "span");
        if event.event == "log" {
            assert_eq!(event.message(), "marker");
            break;
        }
    }
}

#[tokio::test]
async fn stored_spans_survive_a_restart() {
    let server = TestServer::start().await;
    post_traces(
        &server,
        &[PROTOBUF],
        request(vec![span(1, None, "durable", 0)]),
    )
    .await;
    let server = server.restart().await;
    let (status, trace) = get_trace(&server, TRACE).await;
    assert_eq!(status, 200);
    assert_eq!(names(&trace), ["durable"]);
}

#[tokio::test]
async fn a_large_trace_is_answered_in_pages_and_replayed_whole_on_a_stream() {
    let server = TestServer::start().await;
    // 600 spans and 300 logs of one trace, interleaved: more than one page of either reader.
    for round in 0..3u64 {
        let spans = (0..200)
            .map(|n| {
                let mut span = span(1, None, &format!("span {round}-{n}"), round * 200 + n);
                span.span_id = (round * 200 + n + 1).to_be_bytes().to_vec();
                span
            })
            .collect();
        post_traces(&server, &[PROTOBUF], request(spans)).await;
        let logs: Vec<Value> = (0..100)
            .map(|n| json!({"message": format!("log {round}-{n}"), "trace_id": TRACE}))
            .collect();
        server.send(&Value::Array(logs)).await;
    }

    let mut spans = Vec::new();
    let mut logs = Vec::new();
    let mut pages = 0;
    let mut query = "?limit=250".to_string();
    loop {
        let (status, page) = get_trace(&server, &format!("{TRACE}{query}")).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let records = page["spans"].as_array().expect("spans").len()
            + page["logs"].as_array().expect("logs").len();
        assert!(records <= 250, "page {pages} holds {records} records");
        spans.extend(names(&page).into_iter().map(str::to_string));
        for log in page["logs"].as_array().expect("logs") {
            logs.push(log["message"].as_str().expect("message").to_string());
        }
        match page["next"].as_str() {
            Some(next) => query = format!("?limit=250&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let expected_spans: Vec<String> = (0..3)
        .flat_map(|round| (0..200).map(move |n| format!("span {round}-{n}")))
        .collect();
    let expected_logs: Vec<String> = (0..3)
        .flat_map(|round| (0..100).map(move |n| format!("log {round}-{n}")))
        .collect();
    assert_eq!(spans, expected_spans, "every span once, in order");
    assert_eq!(logs, expected_logs, "every log once, in order");

    let (status, error) = get_trace(&server, &format!("{TRACE}?limit=10001")).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().expect("error").contains("limit"));

    // A stream of the trace replays all 900 records, then goes live.
    let mut stream = server.stream(&format!("?trace_id={TRACE}"), None).await;
    server
        .send(&json!({"message": "marker", "trace_id": TRACE}))
        .await;
    let (mut replayed_spans, mut replayed_logs) = (Vec::new(), Vec::new());
    loop {
        let event = tokio::time::timeout(WAIT, stream.next_event())
            .await
            .expect("the replay goes on")
            .expect("stream open");
        match event.event.as_str() {
            "span" => replayed_spans.push(event.json()["name"].as_str().expect("name").to_string()),
            "log" if event.message() == "marker" => break,
            "log" => replayed_logs.push(event.message()),
            _ => {}
        }
    }
    assert_eq!(replayed_spans, expected_spans);
    assert_eq!(replayed_logs, expected_logs);
}
