//! Every ingest answer over real HTTP: what is stored, and what each bad request is told.

mod common;

use std::io::Write;

use common::{TestServer, client, refusal_message};
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{Value, json};

fn otlp_request(trace_id: Vec<u8>, body: &str) -> ExportLogsServiceRequest {
    let service = KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("checkout".into())),
        }),
        ..Default::default()
    };
    let record = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_001,
        severity_number: 17,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        trace_id,
        span_id: vec![7; 8],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![service],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client()
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("post")
}

async fn latest_event(server: &TestServer) -> Value {
    let page: Value = client()
        .get(server.url("/v1/logs?limit=1"))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    page["events"][0].clone()
}

#[tokio::test]
async fn otlp_protobuf_is_stored_and_answered_in_protobuf() {
    let server = TestServer::start().await;
    let body = otlp_request(vec![0xab; 16], "card declined").encode_to_vec();
    let response = post(&server, "/v1/logs", "application/x-protobuf", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let answer = ExportLogsServiceResponse::decode(response.bytes().await.expect("body"))
        .expect("protobuf answer");
    assert!(answer.partial_success.is_none());

    let event = latest_event(&server).await;
    assert_eq!(event["message"], "card declined");
    assert_eq!(event["service"], "checkout");
    assert_eq!(event["level"], "ERROR");
    assert_eq!(event["trace_id"], "ab".repeat(16));
    assert_eq!(event["ts"], "2023-11-14T22:13:20.000000001Z");
}

#[tokio::test]
async fn otlp_record_with_short_trace_id_is_kept_unlinked_and_reported() {
    let server = TestServer::start().await;
    let body = otlp_request(vec![0xab; 8], "short id").encode_to_vec();
    let response = post(&server, "/v1/logs", "application/x-protobuf", body).await;
    assert_eq!(response.status(), 200);
    let answer = ExportLogsServiceResponse::decode(response.bytes().await.expect("body"))
        .expect("protobuf answer");
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_log_records, 0);
    assert!(
        partial.error_message.contains("trace_id"),
        "{}",
        partial.error_message
    );
    let event = latest_event(&server).await;
    assert_eq!(event["message"], "short id");
    assert!(event.get("trace_id").is_none());
}

#[tokio::test]
async fn otlp_json_with_snake_case_keys_is_refused_naming_the_camel_case_key() {
    let server = TestServer::start().await;
    let body = br#"{"resource_logs": [{"scope_logs": []}]}"#.to_vec();
    let response = post(&server, "/v1/logs", "application/json", body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("json error");
    assert!(
        error["error"]
            .as_str()
            .expect("message")
            .contains("resourceLogs"),
        "{error}"
    );
}

#[tokio::test]
async fn empty_otlp_requests_are_accepted() {
    let server = TestServer::start().await;
    let json = post(&server, "/v1/logs", "application/json", b"{}".to_vec()).await;
    assert_eq!(json.status(), 200);
    let protobuf = post(&server, "/v1/logs", "application/x-protobuf", Vec::new()).await;
    assert_eq!(protobuf.status(), 200);
}

#[tokio::test]
async fn otlp_json_int64_is_exact_as_string_or_number_and_ids_are_hex_in_any_case() {
    let server = TestServer::start().await;
    let body = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "timeUnixNano": "1700000000000000001",
        "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736",
        "spanId": "00F067AA0BA902B7",
        "body": {"stringValue": "ints"},
        "attributes": [
            {"key": "as_string", "value": {"intValue": "9223372036854775807"}},
            {"key": "as_number", "value": {"intValue": 9007199254740991_i64}},
        ]
    }]}]}]});
    let response = post(
        &server,
        "/v1/logs",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let event = latest_event(&server).await;
    assert_eq!(event["attributes"]["as_string"], "9223372036854775807");
    assert_eq!(event["attributes"]["as_number"], 9_007_199_254_740_991_i64);
    assert_eq!(event["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(event["ts"], "2023-11-14T22:13:20.000000001Z");
}

#[tokio::test]
async fn unsupported_media_and_encodings_get_415() {
    let server = TestServer::start().await;
    let text = post(&server, "/v1/logs", "text/plain", b"hello".to_vec()).await;
    assert_eq!(text.status(), 415);
    let brotli = client()
        .post(server.url("/v1/events"))
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(brotli.status(), 415);
    let error: Value = brotli.json().await.expect("json error");
    assert!(
        error["error"].as_str().expect("message").contains("br"),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_with_a_message() {
    let server = TestServer::start().await;
    for (path, content_type, body) in [
        ("/v1/logs", "application/x-protobuf", vec![0xff, 0xff, 0xff]),
        ("/v1/logs", "application/json", b"{not json".to_vec()),
        ("/v1/events", "application/json", b"[1, 2".to_vec()),
    ] {
        let response = post(&server, path, content_type, body).await;
        assert_eq!(response.status(), 400, "{path} {content_type}");
        assert!(!refusal_message(response).await.is_empty());
    }
}

#[tokio::test]
async fn gzip_bomb_is_refused_with_413_after_decompression() {
    let server = TestServer::start_with(|c| c.max_body = 1 << 20).await;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).expect("compress");
    }
    let bomb = encoder.finish().expect("gzip");
    assert!(bomb.len() < 128 * 1024, "a small body: {}", bomb.len());
    let response = client()
        .post(server.url("/v1/events"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.expect("json error");
    assert!(
        error["error"]
            .as_str()
            .expect("message")
            .contains("decompression"),
        "{error}"
    );
}

#[tokio::test]
async fn gzip_json_events_are_accepted() {
    let server = TestServer::start().await;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(br#"{"msg": "zipped", "level": 50}"#)
        .expect("compress");
    let response = client()
        .post(server.url("/v1/events"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(encoder.finish().expect("gzip"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let event = latest_event(&server).await;
    assert_eq!(event["message"], "zipped");
    assert_eq!(event["level"], "ERROR");
}

#[tokio::test]
async fn ndjson_partial_rejection_reports_each_bad_line() {
    let server = TestServer::start().await;
    let body = b"{\"msg\":\"ok\"}\r\n\r\n{\"msg\":\"bad\",\"level\":\"loud\"}\nnot json\n{\"msg\":\"last\"}".to_vec();
    let response = post(&server, "/v1/events", "application/x-ndjson", body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["accepted"], 2);
    let rejected: Vec<u64> = answer["rejected"]
        .as_array()
        .expect("rejected list")
        .iter()
        .map(|item| item["index"].as_u64().expect("index"))
        .collect();
    assert_eq!(rejected, [2, 3]);

    let all_bad = post(
        &server,
        "/v1/events",
        "application/x-ndjson",
        b"1\n2\n".to_vec(),
    )
    .await;
    assert_eq!(all_bad.status(), 400);
}

#[tokio::test]
async fn json_event_without_ids_takes_them_from_traceparent() {
    let server = TestServer::start().await;
    let response = client()
        .post(server.url("/v1/events"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&json!({"msg": "linked"}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let event = latest_event(&server).await;
    assert_eq!(event["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(event["span_id"], "00f067aa0ba902b7");
}

#[tokio::test]
async fn history_pages_with_next_cursor_in_both_orders() {
    let server = TestServer::start().await;
    server.send_numbered("h", 0..25).await;
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let after = next
            .as_ref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let url = server.url(&format!("/v1/logs?order=asc&limit=10{after}"));
        let page: Value = client()
            .get(url)
            .send()
            .await
            .expect("q")
            .json()
            .await
            .expect("json");
        for event in page["events"].as_array().expect("events") {
            seen.push(event["message"].as_str().expect("message").to_string());
        }
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("h{i}")).collect();
    assert_eq!(seen, expected);

    let newest: Value = client()
        .get(server.url("/v1/logs?limit=2"))
        .send()
        .await
        .expect("q")
        .json()
        .await
        .expect("json");
    assert_eq!(newest["events"][0]["message"], "h24");
    assert_eq!(newest["events"][1]["message"], "h23");

    for bad in [
        "limit=0",
        "limit=10001",
        "order=up",
        "after=zzz-1",
        "since=later",
        "level=x",
    ] {
        let response = client()
            .get(server.url(&format!("/v1/logs?{bad}")))
            .send()
            .await
            .expect("q");
        assert_eq!(response.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_with_a_json_error() {
    let server = TestServer::start().await;

    let response = client()
        .get(server.url("/v1/nope"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 404);
    let answer: Value = response.json().await.expect("JSON body");
    assert_eq!(answer["error"], "no such route: /v1/nope");

    let response = client()
        .delete(server.url("/v1/logs"))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 405);
    let allow = response.headers()["allow"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");
    let answer: Value = response.json().await.expect("JSON body");
    assert_eq!(answer["error"], "/v1/logs does not take DELETE");
}
