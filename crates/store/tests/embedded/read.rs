//! Pages, time windows, bisection and traces.

use std::time::Duration;

use tracetail_model::{Filter, Level, TraceId};
use tracetail_store::{EventLog, Order, ReadRequest};

use crate::support::{TestLog, event, infos, json, read_all, seqs};

/// A log of 20 records: even seqs from `api` at INFO, odd ones from `db` at ERROR.
async fn two_services(dir: &std::path::Path) -> TestLog {
    let test_log = TestLog::open(dir);
    let events = (1..=20)
        .map(|seq| match seq % 2 {
            0 => event("api", Level::Info, &format!("served {seq}"), None),
            _ => event("db", Level::Error, &format!("Query Timeout {seq}"), None),
        })
        .collect();
    test_log.log.append(events).await.expect("append");
    test_log
}

#[expect(
    clippy::field_reassign_with_default,
    reason = "Filter has a private field"
)]
fn only(service: &str) -> Filter {
    let mut filter = Filter::default();
    filter.services = vec![service.into()];
    filter
}

#[tokio::test]
async fn read_filters_orders_and_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = two_services(dir.path()).await;
    let log = &test_log.log;

    let request = ReadRequest {
        filter: only("db"),
        limit: 3,
        ..ReadRequest::default()
    };
    let page = log.read(request.clone()).await.expect("read");
    assert_eq!(seqs(&page.records), vec![1, 3, 5]);
    assert_eq!(page.scanned_to, Some(5));
    assert!(!page.exhausted);

    let newest = ReadRequest {
        order: Order::Desc,
        ..request.clone()
    };
    let page = log.read(newest).await.expect("read");
    assert_eq!(seqs(&page.records), vec![19, 17, 15]);
    assert_eq!(page.scanned_to, Some(15));

    let ranged = ReadRequest {
        seqs: Some(6..=12),
        limit: 0,
        ..request.clone()
    };
    assert_eq!(
        seqs(&log.read(ranged).await.expect("read").records),
        vec![7, 9, 11]
    );

    let mut filter = Filter::default().with_text(Some("timeout 1"));
    filter.min_level = Some(Level::Warn);
    let errors = ReadRequest {
        filter,
        ..ReadRequest::default()
    };
    let page = log.read(errors).await.expect("read");
    assert_eq!(seqs(&page.records), vec![1, 11, 13, 15, 17, 19]);
    assert!(page.exhausted);
    assert_eq!(json(&page.records[0])["service"], "db");
}

#[tokio::test]
async fn read_reports_scanned_to_past_non_matching_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = two_services(dir.path()).await;
    let log = &test_log.log;
    let nobody = ReadRequest {
        filter: only("nobody"),
        scan_limit: 8,
        ..ReadRequest::default()
    };

    let page = log.read(nobody.clone()).await.expect("read");
    assert!(page.records.is_empty());
    assert_eq!(page.scanned_to, Some(8));
    assert!(!page.exhausted);

    let rest = ReadRequest {
        seqs: Some(17..=u64::MAX),
        ..nobody.clone()
    };
    let page = log.read(rest).await.expect("read");
    assert_eq!(page.scanned_to, Some(20));
    assert!(page.exhausted, "the walk reached the end of the log");

    let backwards = ReadRequest {
        order: Order::Desc,
        seqs: Some(1..=4),
        ..nobody
    };
    let page = log.read(backwards).await.expect("read");
    assert_eq!(page.scanned_to, Some(1));
    assert!(page.exhausted);
}

#[tokio::test]
async fn a_page_that_ends_on_the_last_record_is_exhausted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = two_services(dir.path()).await;
    let last_two = ReadRequest {
        seqs: Some(19..=20),
        limit: 2,
        ..ReadRequest::default()
    };
    let page = test_log.log.read(last_two).await.expect("read");
    assert_eq!(seqs(&page.records), vec![19, 20]);
    assert!(page.exhausted);
}

#[tokio::test]
async fn reads_of_nothing_look_at_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    let page = test_log
        .log
        .read(ReadRequest::default())
        .await
        .expect("read");
    assert!(page.records.is_empty() && page.scanned_to.is_none() && page.exhausted);

    test_log.log.append(infos(0, 3)).await.expect("append");
    let beyond = ReadRequest {
        seqs: Some(4..=10),
        ..ReadRequest::default()
    };
    let page = test_log.log.read(beyond).await.expect("read");
    assert!(page.records.is_empty() && page.scanned_to.is_none() && page.exhausted);
}

/// Three appends with pauses between them, so each has its own receive time; returns the
/// receive time of each record, by seq (index 0 is seq 1).
async fn three_moments(test_log: &TestLog) -> Vec<u64> {
    for round in 0..3 {
        test_log
            .log
            .append(infos(round * 4, 4))
            .await
            .expect("append");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    read_all(&test_log.log)
        .await
        .iter()
        .map(|record| record.received_nanos)
        .collect()
}

#[tokio::test]
async fn read_keeps_to_the_received_window_in_both_orders() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    let received = three_moments(&test_log).await;
    let (second, third) = (received[4], received[8]);
    assert!(
        received[3] < second && received[7] < third,
        "appends have distinct times"
    );

    let window = ReadRequest {
        received_since: Some(second),
        received_until: Some(third),
        ..ReadRequest::default()
    };
    let page = test_log.log.read(window.clone()).await.expect("read");
    assert_eq!(seqs(&page.records), vec![5, 6, 7, 8]);
    assert!(page.exhausted);

    let page = test_log
        .log
        .read(ReadRequest {
            order: Order::Desc,
            ..window
        })
        .await
        .expect("read");
    assert_eq!(seqs(&page.records), vec![8, 7, 6, 5]);
    assert!(page.exhausted);

    let future = ReadRequest {
        received_since: Some(u64::MAX),
        ..ReadRequest::default()
    };
    let page = test_log.log.read(future).await.expect("read");
    assert!(page.records.is_empty() && page.exhausted);
}

#[tokio::test]
async fn first_received_since_bisects() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    assert_eq!(
        test_log.log.first_received_since(0).await.expect("bisect"),
        None
    );

    for round in 0..40 {
        test_log
            .log
            .append(infos(round, 1 + round % 3))
            .await
            .expect("append");
    }
    let received: Vec<u64> = read_all(&test_log.log)
        .await
        .iter()
        .map(|record| record.received_nanos)
        .collect();

    for probe in received
        .iter()
        .flat_map(|&nanos| [nanos - 1, nanos, nanos + 1])
    {
        let expected = received
            .iter()
            .position(|&nanos| nanos >= probe)
            .map(|i| i as u64 + 1);
        let found = test_log
            .log
            .first_received_since(probe)
            .await
            .expect("bisect");
        assert_eq!(found, expected, "probe {probe}");
    }
    assert_eq!(
        test_log.log.first_received_since(0).await.expect("bisect"),
        Some(1)
    );
    let after_all = received.last().expect("records") + 1;
    assert_eq!(
        test_log
            .log
            .first_received_since(after_all)
            .await
            .expect("bisect"),
        None
    );
}

#[tokio::test]
async fn trace_returns_only_that_trace_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let traced = |n: u64| match n % 3 {
        0 => event("api", Level::Info, &format!("a {n}"), Some(0xaa)),
        1 => event("db", Level::Info, &format!("b {n}"), Some(0xbb)),
        _ => event("app", Level::Info, &format!("none {n}"), None),
    };
    {
        let test_log = TestLog::open(dir.path());
        for chunk in 0..4 {
            let events = (chunk * 6 + 1..=chunk * 6 + 6).map(traced).collect();
            test_log.log.append(events).await.expect("append");
        }
        let trace_a = test_log
            .log
            .trace(TraceId([0xaa; 16]), 0, usize::MAX)
            .await
            .expect("trace")
            .records;
        assert_eq!(seqs(&trace_a), vec![3, 6, 9, 12, 15, 18, 21, 24]);
        assert!(
            trace_a
                .iter()
                .all(|record| json(record)["trace_id"] == "aa".repeat(16))
        );
    }

    let test_log = TestLog::open(dir.path());
    test_log
        .log
        .append((25..=27).map(traced).collect())
        .await
        .expect("append");
    let trace_b = test_log
        .log
        .trace(TraceId([0xbb; 16]), 10, usize::MAX)
        .await
        .expect("trace")
        .records;
    assert_eq!(seqs(&trace_b), vec![13, 16, 19, 22, 25]);
    let unknown = test_log
        .log
        .trace(TraceId([0xcc; 16]), 0, usize::MAX)
        .await
        .expect("trace")
        .records;
    assert!(unknown.is_empty());
    let none_after = test_log
        .log
        .trace(TraceId([0xaa; 16]), u64::MAX, usize::MAX)
        .await
        .expect("trace")
        .records;
    assert!(none_after.is_empty());
}

#[tokio::test]
async fn trace_pages_continue_where_the_last_one_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    // Trace 0xaa on odd numbers 1..=19 across several appends (and so index buckets).
    for chunk in 0..4 {
        let events = (chunk * 5 + 1..=chunk * 5 + 5)
            .map(|n| match n % 2 {
                1 => event("api", Level::Info, &format!("a {n}"), Some(0xaa)),
                _ => event("app", Level::Info, &format!("other {n}"), None),
            })
            .collect();
        test_log.log.append(events).await.expect("append");
    }

    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = test_log
            .log
            .trace(TraceId([0xaa; 16]), after, 3)
            .await
            .expect("trace");
        assert!(page.records.len() <= 3, "{page:?}");
        pages.push(seqs(&page.records));
        if page.exhausted {
            break;
        }
        after = page
            .scanned_to
            .expect("a page that is not the last looked at something");
    }
    assert_eq!(
        pages,
        vec![vec![1, 3, 5], vec![7, 9, 11], vec![13, 15, 17], vec![19]]
    );

    // Exactly a page's worth left: the page that takes it knows it is the last.
    let last = test_log
        .log
        .trace(TraceId([0xaa; 16]), 13, 3)
        .await
        .expect("trace");
    assert_eq!(seqs(&last.records), vec![15, 17, 19]);
    assert!(last.exhausted);
}
