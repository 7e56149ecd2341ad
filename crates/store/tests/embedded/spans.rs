//! Spans share the log with log events: found by trace, skipped by filtered reads, durable
//! across reopening, and evicted by the same retention.

use std::time::Duration;

use serde_json::Map;
use tracetail_model::span::span_json;
use tracetail_model::{EncodedEvent, Level, RecordKind, SpanEvent, SpanId, TraceId};
use tracetail_store::embedded::EmbeddedOptions;
use tracetail_store::{EventLog, ReadRequest};

use crate::retention::{EVICTION_WAIT, KIB, MIB, fill, oldest};
use crate::support::{TestLog, event, eventually, info};

/// A span of trace `[trace; 16]` named `name`.
fn span(trace: u8, name: &str) -> EncodedEvent {
    SpanEvent {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([7; 8]),
        parent_span_id: None,
        name: name.into(),
        kind: "SERVER",
        service: "web".into(),
        start_nanos: 1_700_000_000_000_000_000,
        end_nanos: 1_700_000_000_001_000_000,
        status_code: "UNSET",
        status_message: String::new(),
        attributes: Map::new(),
        resource: Map::new(),
        events: Vec::new(),
    }
    .encode()
}

fn span_name(json: &[u8]) -> String {
    let span: serde_json::Value =
        serde_json::from_slice(span_json(json).expect("a span record")).expect("span JSON");
    span["name"].as_str().expect("name").to_string()
}

#[tokio::test]
async fn spans_are_found_by_trace_skipped_by_filtered_reads_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let test_log = TestLog::open(dir.path());
        let batch = vec![
            event("web", Level::Info, "before", Some(9)),
            span(9, "GET /cart"),
            info("no trace"),
        ];
        test_log.log.append(batch).await.expect("append");
        let heard = test_log.heard.lock().expect("lock")[0].clone();
        assert_eq!(
            heard[1].kind(),
            RecordKind::Span,
            "the listener hears the kind"
        );
        test_log.log.close().expect("close");
    }

    let test_log = TestLog::open(dir.path());
    let trace = test_log
        .log
        .trace(TraceId([9; 16]), 0, usize::MAX)
        .await
        .expect("trace")
        .records;
    let kinds: Vec<RecordKind> = trace.iter().map(|record| record.kind()).collect();
    assert_eq!(kinds, [RecordKind::Log, RecordKind::Span]);
    assert_eq!(span_name(&trace[1].json), "GET /cart");

    let page = test_log
        .log
        .read(ReadRequest::default())
        .await
        .expect("read");
    let messages: Vec<String> = page
        .records
        .iter()
        .map(|record| record.view().expect("a log event").message.into_owned())
        .collect();
    assert_eq!(
        messages,
        ["before", "no trace"],
        "reads return log events only"
    );
    assert_eq!(page.scanned_to, Some(3), "the span was looked at");
}

#[tokio::test]
async fn spans_are_evicted_by_the_same_retention_as_log_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions {
        dir: dir.path().to_path_buf(),
        retention_age: Duration::ZERO,
        retention_size: 256 * KIB,
    };
    let test_log = TestLog::open_with(options).expect("open");
    let first = test_log
        .log
        .append(vec![span(0x77, "old")])
        .await
        .expect("append");
    assert_eq!(
        test_log
            .log
            .trace(TraceId([0x77; 16]), 0, usize::MAX)
            .await
            .expect("trace")
            .records
            .len(),
        1
    );

    fill(&test_log, 4 * MIB).await;
    let evicted = eventually(EVICTION_WAIT, || oldest(&test_log) > *first.end()).await;
    assert!(evicted, "nothing evicted: {:?}", test_log.log.bounds());
    let trace = test_log
        .log
        .trace(TraceId([0x77; 16]), 0, usize::MAX)
        .await
        .expect("trace")
        .records;
    assert!(trace.is_empty(), "the evicted span is gone: {trace:?}");
}
