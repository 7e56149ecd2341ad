//! The ingest pipeline end to end, against an in-memory [`EventLog`]: what is stored, and what
//! is answered.

use std::io::Write;
use std::ops::RangeInclusive;
use std::sync::Mutex;

use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::future::BoxFuture;
use opentelemetry::trace::TracerProvider;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracetail_model::TraceId;
use tracetail_store::{Bounds, EventLog, Located, ReadPage, ReadRequest, StoreError, StoreStats};

use super::*;
use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::metrics::Metrics;

const MAX_BODY: usize = 8 << 20;

/// Keeps appended events in memory, or fails every append like a store shutting down.
#[derive(Default, Clone)]
struct MemoryLog {
    stored: Arc<Mutex<Vec<Value>>>,
    closed: bool,
}

impl MemoryLog {
    fn stored(&self) -> Vec<Value> {
        self.stored.lock().expect("not poisoned").clone()
    }
}

impl EventLog for MemoryLog {
    fn append(
        &self,
        events: Vec<EncodedEvent>,
    ) -> BoxFuture<'_, Result<RangeInclusive<u64>, StoreError>> {
        Box::pin(async move {
            if self.closed {
                return Err(StoreError::Closed);
            }
            let mut stored = self.stored.lock().expect("not poisoned");
            let first = stored.len() as u64 + 1;
            for event in &events {
                let json = event.json_with_id("c-1");
                stored.push(serde_json::from_slice(&json).expect("event JSON"));
            }
            Ok(first..=stored.len() as u64)
        })
    }

    fn bounds(&self) -> Bounds {
        unimplemented!("ingest only appends")
    }

    fn cursor(&self, _: u64) -> String {
        unimplemented!("ingest only appends")
    }

    fn locate(&self, _: &str) -> Located {
        unimplemented!("ingest only appends")
    }

    fn read(&self, _: ReadRequest) -> BoxFuture<'_, Result<ReadPage, StoreError>> {
        unimplemented!("ingest only appends")
    }

    fn trace(&self, _: TraceId, _: u64, _: usize) -> BoxFuture<'_, Result<ReadPage, StoreError>> {
        unimplemented!("ingest only appends")
    }

    fn first_received_since(&self, _: u64) -> BoxFuture<'_, Result<Option<u64>, StoreError>> {
        unimplemented!("ingest only appends")
    }

    fn stats(&self) -> StoreStats {
        unimplemented!("ingest only appends")
    }

    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            name.clone(),
            HeaderValue::from_str(value).expect("valid header"),
        );
    }
    map
}

fn gzip(plain: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(plain).expect("writing to a vec");
    encoder.finish().expect("writing to a vec")
}

/// Server state around `log`, with `--max-body` at [`MAX_BODY`].
fn state(log: &MemoryLog) -> AppState {
    let mut config = ServerConfig::with_data_dir("unused");
    config.max_body = MAX_BODY;
    AppState {
        log: Arc::new(log.clone()),
        hub: Hub::default(),
        services: Default::default(),
        config,
        metrics: Arc::new(Metrics::new()),
        shutdown: CancellationToken::new(),
        tracer: opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .build()
            .tracer("test"),
    }
}

async fn answer_of(result: Result<Response, ApiError>) -> (StatusCode, Value) {
    let response = result.unwrap_or_else(IntoResponse::into_response);
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    let bytes = bytes.expect("in-memory body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON")
    };
    (status, value)
}

async fn post_otlp_json(log: &MemoryLog, body: &str) -> (StatusCode, Value) {
    let map = headers(&[(CONTENT_TYPE, "application/json")]);
    answer_of(ingest_otlp(&state(log), map, Body::from(body.to_string())).await).await
}

async fn post_events_with(log: &MemoryLog, map: HeaderMap, body: Vec<u8>) -> (StatusCode, Value) {
    answer_of(ingest_events(&state(log), map, Body::from(body)).await).await
}

const OTLP_JSON: &str = r#"{"resourceLogs": [{"scopeLogs": [{"logRecords": [
    {"body": {"stringValue": "one"}, "traceId": "0102"},
    {"body": {"stringValue": "two"}}
]}]}]}"#;

#[tokio::test]
async fn otlp_json_records_are_stored_before_the_answer() {
    let log = MemoryLog::default();
    let (status, answer) = post_otlp_json(&log, OTLP_JSON).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["partialSuccess"]["rejectedLogRecords"], "0");
    assert_eq!(
        answer["partialSuccess"]["errorMessage"],
        "1 log record kept with invalid ids removed: trace_id \"0102\" must be 32 hexadecimal digits, got 4"
    );
    let stored = log.stored();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["message"], "one");
    assert_eq!(stored[0]["service"], "unknown_service");
    assert!(stored[0].get("trace_id").is_none());
}

#[tokio::test]
async fn empty_otlp_json_object_answers_200_and_stores_nothing() {
    let log = MemoryLog::default();
    assert_eq!(
        post_otlp_json(&log, "{}").await,
        (StatusCode::OK, json!({}))
    );
    assert!(log.stored().is_empty());
}

#[tokio::test]
async fn snake_case_otlp_json_answers_400_and_stores_nothing() {
    let log = MemoryLog::default();
    let (status, answer) =
        post_otlp_json(&log, &OTLP_JSON.replace("logRecords", "log_records")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"],
        "unknown field \"log_records\": OTLP/JSON uses camelCase, expected \"logRecords\""
    );
    assert!(log.stored().is_empty());
}

#[tokio::test]
async fn empty_protobuf_body_answers_200_with_an_empty_response() {
    let log = MemoryLog::default();
    let map = headers(&[(CONTENT_TYPE, "application/x-protobuf")]);
    let (status, answer) = answer_of(ingest_otlp(&state(&log), map, Body::empty()).await).await;
    assert_eq!((status, answer), (StatusCode::OK, Value::Null));
}

#[tokio::test]
async fn events_store_the_valid_records_and_list_the_rest() {
    let log = MemoryLog::default();
    let body = br#"[{"msg": "ok", "user": 1}, {"msg": "bad", "ts": "yesterday"}]"#.to_vec();
    let (status, answer) = post_events_with(&log, HeaderMap::new(), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["accepted"], 1);
    assert_eq!(
        answer["rejected"],
        json!([{"index": 1, "error":
            "ts \"yesterday\" is not an RFC 3339 time or a Unix time after 1970"}])
    );
    assert_eq!(log.stored()[0]["attributes"], json!({"user": 1}));
}

#[tokio::test]
async fn events_all_rejected_answer_400_and_store_nothing() {
    let log = MemoryLog::default();
    let body = br#"[{"level": "loud"}]"#.to_vec();
    let (status, answer) = post_events_with(&log, HeaderMap::new(), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["accepted"], 0);
    assert!(log.stored().is_empty());
}

#[tokio::test]
async fn gzip_ndjson_with_a_traceparent_is_stored_linked() {
    let log = MemoryLog::default();
    let map = headers(&[
        (CONTENT_TYPE, "application/x-ndjson"),
        (CONTENT_ENCODING, "gzip"),
        (
            HeaderName::from_static("traceparent"),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
    ]);
    let (status, answer) =
        post_events_with(&log, map, gzip(b"{\"msg\":\"a\"}\n{\"msg\":\"b\"}\n")).await;
    assert_eq!(
        (status, answer["accepted"].clone()),
        (StatusCode::OK, json!(2))
    );
    let stored = log.stored();
    assert_eq!(stored[1]["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(stored[1]["span_id"], "b7ad6b7169203331");
}

#[tokio::test]
async fn unsupported_encodings_and_types_answer_415() {
    let log = MemoryLog::default();
    let brotli = headers(&[(CONTENT_TYPE, "application/json"), (CONTENT_ENCODING, "br")]);
    let (status, answer) = post_events_with(&log, brotli, b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        answer["error"]
            .as_str()
            .expect("message")
            .contains("\"br\"")
    );

    let map = headers(&[(CONTENT_TYPE, "text/plain")]);
    let result = ingest_otlp(&state(&log), map, Body::from("x")).await;
    assert_eq!(
        answer_of(result).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn gzip_bomb_answers_413_and_stores_nothing() {
    let log = MemoryLog::default();
    let bomb = body::tests::gzip_bomb();
    let map = headers(&[
        (CONTENT_TYPE, "application/x-ndjson"),
        (CONTENT_ENCODING, "gzip"),
    ]);
    let (status, answer) = post_events_with(&log, map, bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer["error"],
        "request body exceeds --max-body (8388608 bytes) after decompression"
    );
    assert!(log.stored().is_empty());
}

#[tokio::test]
async fn a_closing_store_answers_503_and_acknowledges_nothing() {
    let log = MemoryLog {
        closed: true,
        ..MemoryLog::default()
    };
    let (status, answer) =
        post_events_with(&log, HeaderMap::new(), br#"{"msg": "x"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer["error"], "the server is shutting down");
}

#[tokio::test]
async fn bodies_past_axums_default_limit_are_accepted_over_http() {
    let log = Arc::new(MemoryLog::default());
    let state = Arc::new(AppState {
        log: log.clone(),
        hub: Hub::default(),
        services: Default::default(),
        config: ServerConfig::with_data_dir("unused"),
        metrics: Arc::new(Metrics::new()),
        shutdown: CancellationToken::new(),
        tracer: opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .build()
            .tracer("test"),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound address");
    let app = routes().with_state(state);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // 3 MiB of NDJSON: past axum's 2 MiB default, within --max-body.
    let line = format!("{{\"msg\": \"{}\"}}\n", "x".repeat(1000));
    let body = line.repeat(3 << 10);
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/events"))
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("JSON answer");
    assert_eq!(answer["accepted"], 3 << 10);
    assert_eq!(log.stored().len(), 3 << 10);
    server.abort();
}
