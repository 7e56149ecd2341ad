//! Numbering, durability, cursors, the directory lock and group commit.

use std::sync::{Arc, OnceLock, Weak};

use proptest::prelude::*;
use tracetail_store::embedded::EmbeddedLog;
use tracetail_store::{Bounds, CommitListener, EventLog, Located, StoreError};

use crate::support::child::{self, Mode};
use crate::support::{TestLog, info, infos, json, options, read_all, seqs};

#[tokio::test]
async fn append_is_durable_and_numbered_from_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    let log = &test_log.log;
    assert_eq!(
        log.bounds(),
        Bounds {
            oldest: None,
            latest: 0
        }
    );

    assert_eq!(log.append(infos(0, 3)).await.expect("append"), 1..=3);
    assert_eq!(log.append(infos(3, 2)).await.expect("append"), 4..=5);
    assert_eq!(
        log.bounds(),
        Bounds {
            oldest: Some(1),
            latest: 5
        }
    );
    assert_eq!(test_log.heard_seqs(), vec![vec![1, 2, 3], vec![4, 5]]);

    let records = read_all(log).await;
    assert_eq!(seqs(&records), vec![1, 2, 3, 4, 5]);
    for record in &records {
        let value = json(record);
        assert_eq!(value["id"], log.cursor(record.seq));
        assert_eq!(value["message"], format!("event {}", record.seq - 1));
        assert!(record.json.starts_with(br#"{"id":""#));
    }
    assert_eq!(log.stats().events, 5);
    assert!(log.stats().disk_bytes > 0);
}

#[tokio::test]
async fn empty_append_answers_an_empty_range_and_commits_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    let range = test_log.log.append(Vec::new()).await.expect("empty append");
    assert!(range.is_empty());
    assert_eq!(test_log.log.commits(), 0);
    assert!(test_log.heard_seqs().is_empty());
    assert_eq!(test_log.log.bounds().latest, 0);
}

#[tokio::test]
async fn reopen_continues_numbering_and_keeps_epoch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cursor, first_received) = {
        let test_log = TestLog::open(dir.path());
        test_log.log.append(infos(0, 3)).await.expect("append");
        test_log.log.close().expect("close");
        let received = read_all(&test_log.log).await[2].received_nanos;
        (test_log.log.cursor(3), received)
    };

    let test_log = TestLog::open(dir.path());
    assert_eq!(test_log.log.locate(&cursor), Located::Seq(3));
    assert_eq!(test_log.log.cursor(3), cursor);
    assert_eq!(
        test_log.log.append(infos(3, 2)).await.expect("append"),
        4..=5
    );
    let records = read_all(&test_log.log).await;
    assert_eq!(seqs(&records), vec![1, 2, 3, 4, 5]);
    assert!(records[3].received_nanos >= first_received);
}

#[tokio::test]
async fn wiped_directory_makes_old_cursors_foreign() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let cursor = {
        let test_log = TestLog::open(&data);
        test_log.log.append(infos(0, 3)).await.expect("append");
        test_log.log.close().expect("close");
        test_log.log.cursor(2)
    };
    std::fs::remove_dir_all(&data).expect("wipe");

    let test_log = TestLog::open(&data);
    assert_eq!(test_log.log.locate(&cursor), Located::Foreign);
    assert_eq!(
        test_log.log.append(infos(0, 1)).await.expect("append"),
        1..=1
    );
    assert_ne!(test_log.log.cursor(2), cursor);
}

#[tokio::test]
async fn second_open_of_a_directory_fails_with_in_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());

    let second = TestLog::open_with(options(dir.path()));
    let Err(error) = second else {
        panic!("second open succeeded")
    };
    assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    assert!(error.to_string().contains("tracetail.lock"), "{error}");

    test_log.log.close().expect("close");
    drop(test_log);
    TestLog::open_with(options(dir.path())).expect("open after the first is gone");
}

#[test]
fn another_process_cannot_open_a_directory_in_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    let (stdout, _) = child::run(Mode::TryOpen, dir.path());
    assert!(stdout.contains("child: in use"), "child said: {stdout}");

    drop(test_log);
    let (stdout, _) = child::run(Mode::TryOpen, dir.path());
    assert!(stdout.contains("child: opened"), "child said: {stdout}");
}

#[tokio::test]
async fn appends_after_close_fail_with_closed_and_close_is_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    test_log.log.append(infos(0, 2)).await.expect("append");
    test_log.log.close().expect("close");
    test_log.log.close().expect("close again");

    let after = test_log.log.append(infos(2, 1)).await;
    assert!(matches!(after, Err(StoreError::Closed)), "{after:?}");
    assert!(matches!(
        test_log.log.append(Vec::new()).await,
        Err(StoreError::Closed)
    ));
    assert_eq!(
        seqs(&read_all(&test_log.log).await),
        vec![1, 2],
        "reads still work"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_commits_and_stay_contiguous() {
    let dir = tempfile::tempdir().expect("temp dir");
    let test_log = TestLog::open(dir.path());
    let tasks: Vec<_> = (0..64)
        .map(|task| {
            let log = Arc::clone(&test_log.log);
            tokio::spawn(async move {
                let mut ranges = Vec::new();
                for round in 0..10 {
                    let count = 1 + (task * 7 + round * 3) % 8;
                    ranges.push(log.append(infos(0, count)).await.expect("append"));
                }
                ranges
            })
        })
        .collect();
    let mut ranges = Vec::new();
    for task in tasks {
        ranges.extend(task.await.expect("task"));
    }

    ranges.sort_by_key(|range| *range.start());
    let total = *ranges.last().expect("ranges").end();
    let mut next = 1;
    for range in &ranges {
        assert_eq!(*range.start(), next, "ranges are contiguous and disjoint");
        next = range.end() + 1;
    }
    let heard: Vec<u64> = test_log.heard_seqs().concat();
    assert_eq!(
        heard,
        (1..=total).collect::<Vec<_>>(),
        "listener heard every record in order"
    );
    assert_eq!(
        test_log.heard_seqs().len(),
        ranges.len(),
        "one batch per append"
    );
    assert!(
        test_log.log.commits() < ranges.len() as u64,
        "appends shared commits"
    );

    let records = read_all(&test_log.log).await;
    assert_eq!(seqs(&records), (1..=total).collect::<Vec<_>>());
    assert!(
        records
            .windows(2)
            .all(|pair| pair[0].received_nanos <= pair[1].received_nanos)
    );
}

#[tokio::test]
async fn latest_is_published_before_the_listener_hears() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle: Arc<OnceLock<Weak<EmbeddedLog>>> = Arc::new(OnceLock::new());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (handle_in, seen_in) = (Arc::clone(&handle), Arc::clone(&seen));
    let listener: CommitListener = Arc::new(move |batch| {
        let log = handle_in.get().and_then(Weak::upgrade).expect("log handle");
        let last = batch.last().expect("non-empty batch").seq;
        seen_in
            .lock()
            .expect("lock")
            .push((last, log.bounds().latest));
    });
    let log = EmbeddedLog::open(options(dir.path()), listener).expect("open");
    handle.set(Arc::downgrade(&log)).expect("set once");

    for round in 0..5 {
        log.append(infos(round, 2)).await.expect("append");
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|(last, latest)| latest >= last), "{seen:?}");
}

#[tokio::test]
async fn records_survive_drop_without_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let test_log = TestLog::open(dir.path());
        test_log.log.append(infos(0, 4)).await.expect("append");
    }
    let test_log = TestLog::open(dir.path());
    assert_eq!(seqs(&read_all(&test_log.log).await), vec![1, 2, 3, 4]);
}

#[test]
fn acknowledged_records_survive_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (stdout, output) = child::run(Mode::AppendThenAbort, dir.path());
    assert!(!output.status.success(), "the child aborts");
    let acked: u64 = stdout
        .lines()
        .find_map(|line| line.split("child: acked ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("child did not report its appends: {stdout}"));
    assert_eq!(acked, 50);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let test_log = TestLog::open(dir.path());
        assert_eq!(
            test_log.log.bounds(),
            Bounds {
                oldest: Some(1),
                latest: 50
            }
        );
        let records = read_all(&test_log.log).await;
        assert_eq!(seqs(&records), (1..=50).collect::<Vec<_>>());
        assert_eq!(
            test_log
                .log
                .append(vec![info("after crash")])
                .await
                .expect("append"),
            51..=51
        );
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn any_append_sizes_keep_seqs_contiguous(sizes in prop::collection::vec(0usize..40, 1..12)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let test_log = TestLog::open(dir.path());
        let ranges: Vec<_> = runtime.block_on(async {
            let mut ranges = Vec::new();
            for &size in &sizes {
                ranges.push(test_log.log.append(infos(0, size)).await.expect("append"));
            }
            ranges
        });

        let mut next = 1;
        for (range, &size) in ranges.iter().zip(&sizes) {
            if size == 0 {
                prop_assert!(range.is_empty());
                continue;
            }
            prop_assert_eq!(range.clone(), next..=next + size as u64 - 1);
            next += size as u64;
        }
        let stored = seqs(&runtime.block_on(read_all(&test_log.log)));
        prop_assert_eq!(stored, (1..next).collect::<Vec<_>>());
    }
}
