//! Resume is exact under concurrent ingest, wherever the client disconnects.
//!
//! A writer posts numbered events in random batch sizes while a reader disconnects after
//! random numbers of events and resumes with `Last-Event-ID`. Whatever the points, the reader
//! must see every number exactly once and in order.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::TestServer;
use proptest::prelude::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

static CASE: AtomicUsize = AtomicUsize::new(0);

async fn run_case(server: &TestServer, batches: Vec<usize>, disconnects: Vec<usize>) {
    let service = format!("case-{}", CASE.fetch_add(1, Ordering::Relaxed));
    let total: usize = batches.iter().sum();

    // Open the first stream before writing, so "live only" already includes event 0.
    let query = format!("?service={service}");
    let mut stream = server.stream(&query, None).await;
    stream.next_of("open", WAIT).await.expect("open");

    let writer = {
        let base = server.base.clone();
        let service = service.clone();
        tokio::spawn(async move { write_batches(&base, &service, &batches).await })
    };

    let mut seen: Vec<usize> = Vec::with_capacity(total);
    let mut last_id: Option<String> = None;
    for stop_after in disconnects.into_iter().chain(std::iter::once(usize::MAX)) {
        if let Some(id) = &last_id {
            stream = server.stream(&query, Some(id)).await;
        }
        let mut taken = 0;
        while taken < stop_after && seen.len() < total {
            let event = stream
                .next_of("log", WAIT)
                .await
                .expect("event before timeout");
            seen.push(event.message().parse().expect("numbered message"));
            last_id = event.id.clone();
            taken += 1;
        }
        if seen.len() == total {
            break;
        }
    }
    writer.await.expect("writer finished");
    let expected: Vec<usize> = (0..total).collect();
    assert_eq!(seen, expected, "every event exactly once, in order");
}

async fn write_batches(base: &str, service: &str, batches: &[usize]) {
    let client = common::client();
    let mut next = 0;
    for &size in batches {
        let events: Vec<Value> = (next..next + size)
            .map(|i| json!({"message": i.to_string(), "service": service}))
            .collect();
        next += size;
        let response = client
            .post(format!("{base}/v1/events"))
            .json(&events)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 200);
        tokio::task::yield_now().await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn resume_is_exact_under_concurrent_ingest(
        batches in prop::collection::vec(1usize..40, 1..25),
        disconnects in prop::collection::vec(0usize..60, 0..8),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let server = TestServer::start().await;
            run_case(&server, batches, disconnects).await;
        });
    }
}
