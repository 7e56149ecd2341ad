//! Eviction by size and age, and the bounds and trace index following it.

use std::time::Duration;

use tracetail_model::{EncodedEvent, Filter, Level, TraceId};
use tracetail_store::embedded::EmbeddedOptions;
use tracetail_store::{EventLog, ReadRequest};

use crate::support::{TestLog, event, eventually, info, seqs};

pub(crate) const KIB: u64 = 1024;
pub(crate) const MIB: u64 = 1024 * KIB;

/// How long eviction may take after the data that triggers it is written.
pub(crate) const EVICTION_WAIT: Duration = Duration::from_secs(10);

/// About 1 KiB of hard-to-compress event, in one of 16 traces.
fn bulky(n: u64) -> EncodedEvent {
    let mut state = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let noise: String = (0..64)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{:016x}", state)
        })
        .collect();
    event("bulk", Level::Info, &noise, Some(1 + (n % 16) as u8))
}

/// Appends about `bytes` of bulky events, 256 to an append; returns the last seq.
pub(crate) async fn fill(test_log: &TestLog, bytes: u64) -> u64 {
    let mut last = test_log.log.bounds().latest;
    let mut written = 0;
    while written < bytes {
        let events: Vec<EncodedEvent> = (last + 1..=last + 256).map(bulky).collect();
        written += events.iter().map(|event| event.len() as u64).sum::<u64>();
        last = *test_log.log.append(events).await.expect("append").end();
    }
    last
}

/// The oldest retained seq, or the next one to be assigned if retention left nothing (a tiny
/// retention may evict every flushed record).
pub(crate) fn oldest(test_log: &TestLog) -> u64 {
    let bounds = test_log.log.bounds();
    bounds.oldest.unwrap_or(bounds.latest + 1)
}

/// Seqs of the retained records of trace `[byte; 16]`, by a full scan of the log.
#[expect(
    clippy::field_reassign_with_default,
    reason = "Filter has a private field"
)]
async fn scanned_trace(test_log: &TestLog, byte: u8) -> Vec<u64> {
    let mut filter = Filter::default();
    filter.trace_id = Some(TraceId([byte; 16]));
    let request = ReadRequest {
        filter,
        ..ReadRequest::default()
    };
    seqs(&test_log.log.read(request).await.expect("read").records)
}

/// Checks that nothing below `oldest_seen` is readable, or found by time.
async fn assert_nothing_below(test_log: &TestLog, oldest_seen: u64) {
    let log = &test_log.log;
    let below = ReadRequest {
        seqs: Some(1..=oldest_seen - 1),
        ..ReadRequest::default()
    };
    assert!(log.read(below).await.expect("read").records.is_empty());

    let first_page = ReadRequest {
        limit: 1,
        ..ReadRequest::default()
    };
    let first = log.read(first_page).await.expect("read").records;
    assert!(
        first.iter().all(|record| record.seq >= oldest_seen),
        "{first:?}"
    );

    let since_ever = log.first_received_since(0).await.expect("bisect");
    assert!(
        since_ever.is_none_or(|seq| seq >= oldest_seen),
        "{since_ever:?} < {oldest_seen}"
    );
}

/// Appends now and then until no trace index bucket lies wholly behind the oldest record
/// (buckets are dropped after commits); whether that happened in time.
async fn nudge_until_buckets_dropped(test_log: &TestLog) -> bool {
    let behind = || {
        let buckets = test_log.log.trace_buckets();
        buckets.get(1).is_some_and(|&next| next <= oldest(test_log))
    };
    let deadline = std::time::Instant::now() + EVICTION_WAIT;
    while behind() && std::time::Instant::now() < deadline {
        test_log
            .log
            .append(vec![info("nudge")])
            .await
            .expect("append");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !behind()
}

/// Checks that the trace index finds exactly the retained records of trace `[byte; 16]`
/// (retried if eviction moves on while comparing).
async fn assert_index_matches_scan(test_log: &TestLog, byte: u8) {
    for _ in 0..10 {
        let before = test_log.log.bounds();
        let trace = test_log
            .log
            .trace(TraceId([byte; 16]), 0, usize::MAX)
            .await
            .expect("trace")
            .records;
        let scanned = scanned_trace(test_log, byte).await;
        if test_log.log.bounds() == before {
            assert_eq!(seqs(&trace), scanned);
            return;
        }
    }
    panic!("eviction never paused long enough to compare");
}

#[tokio::test]
async fn tiny_retention_evicts_oldest_and_bounds_follow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions {
        dir: dir.path().to_path_buf(),
        retention_age: Duration::ZERO,
        retention_size: 256 * KIB,
    };
    let test_log = TestLog::open_with(options).expect("open");
    let latest = fill(&test_log, 8 * MIB).await;
    let buckets = test_log.log.trace_buckets();
    assert!(
        buckets.last() > Some(&1),
        "buckets of about 1 MiB each: {buckets:?}"
    );

    let evicted = eventually(EVICTION_WAIT, || oldest(&test_log) > 1).await;
    assert!(evicted, "nothing evicted: {:?}", test_log.log.bounds());
    let oldest_seen = oldest(&test_log);
    assert_nothing_below(&test_log, oldest_seen).await;
    assert_eq!(test_log.log.bounds().latest, latest);
    let stats = test_log.log.stats();
    assert!(stats.events <= latest + 1 - oldest_seen, "{stats:?}");

    fill(&test_log, 64 * KIB).await;
    let dropped = nudge_until_buckets_dropped(&test_log).await;
    assert!(
        dropped,
        "buckets {:?} behind {}",
        test_log.log.trace_buckets(),
        oldest(&test_log)
    );
    assert_index_matches_scan(&test_log, 3).await;
}

#[tokio::test]
async fn numbering_continues_after_eviction_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions {
        dir: dir.path().to_path_buf(),
        retention_age: Duration::ZERO,
        retention_size: 256 * KIB,
    };
    let latest = {
        let test_log = TestLog::open_with(options.clone()).expect("open");
        let latest = fill(&test_log, 4 * MIB).await;
        assert!(
            eventually(EVICTION_WAIT, || oldest(&test_log) > 1).await,
            "nothing evicted"
        );
        test_log.log.close().expect("close");
        latest
    };

    let test_log = TestLog::open_with(options).expect("reopen");
    // The engine may replay evicted records from its journal; they stay evicted.
    let oldest_after = oldest(&test_log);
    assert!(oldest_after > 1, "eviction survives reopening");
    let below = ReadRequest {
        seqs: Some(1..=oldest_after - 1),
        ..ReadRequest::default()
    };
    assert!(
        test_log
            .log
            .read(below)
            .await
            .expect("read")
            .records
            .is_empty()
    );
    let since_ever = test_log.log.first_received_since(0).await.expect("bisect");
    assert_eq!(since_ever, test_log.log.bounds().oldest);
    assert_eq!(test_log.log.bounds().latest, latest);
    let next = test_log
        .log
        .append(vec![info("after")])
        .await
        .expect("append");
    assert_eq!(next, latest + 1..=latest + 1);
}

#[tokio::test]
async fn old_records_expire_after_retention_age() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = EmbeddedOptions {
        dir: dir.path().to_path_buf(),
        retention_age: Duration::from_secs(1),
        retention_size: 8 * MIB,
    };
    let test_log = TestLog::open_with(options).expect("open");
    let first_part = fill(&test_log, 2 * MIB).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        oldest(&test_log),
        1,
        "far below the size limit, so only age evicts"
    );

    // Writing again flushes a memtable, which runs compaction, which applies the age limit.
    fill(&test_log, 2 * MIB).await;
    let expired = eventually(EVICTION_WAIT, || oldest(&test_log) > 1).await;
    assert!(expired, "nothing expired: {:?}", test_log.log.bounds());
    assert!(
        oldest(&test_log) <= first_part + 1,
        "only the old part expired"
    );
}
