//! `tracetail tail` end to end: the built binary against a real `tracetail serve`, across
//! hub restarts and its own, into closed pipes, and refused by the hub.

mod hub;
mod tail_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tail_support::{Hub, Running, ids, parse_lines, send, send_json, stored, trickle};

/// Follows a hub with `tail --json` while events keep coming, restarts the hub, and checks
/// that `tail` printed every stored event exactly once, in order, as the server wrote it.
async fn follow_across_a_restart(graceful: bool) {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let tail = Running::start(&["tail", &hub.base, "--json", "--since", "1h"], &[]);
    send(&hub.base, "before", 50).await;
    tail.wait_lines(50).await;

    let stop = Arc::new(AtomicBool::new(false));
    let sender = trickle(hub.base.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hub = hub.restart(graceful);
    send(&hub.base, "after", 50).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    sender.await.expect("sender");

    let expected = stored(&hub.base).await;
    tail.wait_lines(expected.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    tail.signal("INT");
    let (status, lines, stderr) = tail.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(lines.iter().all(|line| line.starts_with(r#"{"id":""#)));
    let printed = parse_lines(&lines);
    assert_eq!(
        ids(&printed),
        ids(&expected),
        "every stored event once, in order"
    );
    assert_eq!(printed, expected, "the event JSON as the server wrote it");
    assert!(stderr.contains("tracetail: resumed after "), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_json_across_a_graceful_hub_restart_prints_every_event_exactly_once() {
    follow_across_a_restart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_json_across_a_kill_9_of_the_hub_prints_every_event_exactly_once() {
    follow_across_a_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_started_live_keeps_events_sent_while_it_was_away_before_its_first_event() {
    let dir = tempfile::tempdir().expect("dir");
    // A 2 s reconnect delay: the events below are sent while `tail` is surely away.
    let hub = Hub::start_with_retry(dir.path(), "2s");
    send(&hub.base, "old", 3).await;
    let tail = Running::start(&["tail", &hub.base, "--json"], &[]);
    hub.wait_subscribers(1).await;

    let hub = hub.restart(true);
    send(&hub.base, "missed", 5).await;
    let lines = tail.wait_lines(5).await;
    let printed = parse_lines(&lines);
    let expected: Vec<Value> = stored(&hub.base).await.split_off(3);
    assert_eq!(printed, expected);

    tail.signal("TERM");
    let (status, _, stderr) = tail.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("replayed 5 missed events"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_with_a_cursor_file_stopped_and_restarted_continues_without_loss_or_repeat() {
    let dir = tempfile::tempdir().expect("dir");
    let cursor_file = dir.path().join("cursor");
    let cursor_arg = cursor_file.to_str().expect("utf-8 path");
    let hub = Hub::start(&dir.path().join("data"));
    let args = [
        "tail",
        &hub.base,
        "--json",
        "--since",
        "1h",
        "--cursor-file",
        cursor_arg,
    ];

    let stop = Arc::new(AtomicBool::new(false));
    let sender = trickle(hub.base.clone(), stop.clone());
    let first = Running::start(&args, &[]);
    first.wait_lines(40).await;
    first.signal("INT");
    let (status, first_lines, stderr) = first.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    let saved = std::fs::read_to_string(&cursor_file).expect("cursor file");
    let last_printed = parse_lines(&first_lines).pop().expect("a line")["id"].clone();
    assert_eq!(
        saved.trim(),
        last_printed,
        "the file holds the last printed event"
    );

    // Events keep arriving while no `tail` runs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Running::start(&args, &[]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    sender.await.expect("sender");
    let expected = stored(&hub.base).await;
    second.wait_lines(expected.len() - first_lines.len()).await;
    second.signal("TERM");
    let (status, second_lines, stderr) = second.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!("resumed after {}", saved.trim())),
        "{stderr}"
    );

    let printed = parse_lines(&[first_lines, second_lines].concat());
    assert_eq!(ids(&printed), ids(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_into_a_closed_pipe_exits_zero_with_empty_stderr() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    send(&hub.base, "e", 5).await;
    let mut tail = std::process::Command::new(tail_support::TRACETAIL)
        .args(["tail", &hub.base, "--since", "1h"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");

    // Read two lines, like `head -2`, then close the pipe.
    let mut stdout = std::io::BufReader::new(tail.stdout.take().expect("stdout"));
    for _ in 0..2 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("line");
        assert!(line.ends_with('\n'), "{line:?}");
    }
    drop(stdout);

    // The next write fails; keep events coming until it happens.
    for _ in 0..100 {
        if tail.try_wait().expect("wait").is_some() {
            break;
        }
        send(&hub.base, "more", 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = tail.wait_with_output().expect("exit");
    assert!(output.status.success(), "{}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_off_a_terminal_writes_no_escape_codes_unless_told_to() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let event = json!({"service": "checkout", "level": "error", "msg": "red \u{1b}[31m text",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "user": "Ada Lovelace"});
    send_json(&hub.base, &event).await;

    let args = ["tail", &hub.base, "--since", "1h"];
    let plain = Running::start(&args, &[]);
    let no_color = Running::start(&args, &[("NO_COLOR", "1")]);
    let always = Running::start(&[&args[..], &["--color", "always"]].concat(), &[]);
    for (tail, coloured) in [(plain, false), (no_color, false), (always, true)] {
        let line = tail.wait_lines(1).await.remove(0);
        assert_eq!(line.contains('\x1b'), coloured, "{line:?}");
        let visible = line.replace("\x1b[31m", "").replace("\x1b[2m", "");
        let visible = visible.replace("\x1b[0m", "");
        assert!(
            visible
                .ends_with(" ERROR checkout 4bf92f35 red \\u{1b}[31m text user=\"Ada Lovelace\""),
            "{visible:?}"
        );
    }
}

#[test]
fn tail_refused_for_a_bad_filter_exits_non_zero_with_the_servers_message() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let (status, stdout, stderr) = tail_support::run(&["tail", &hub.base, "--since", "soon"], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("400 Bad Request: invalid since parameter \"soon\""),
        "{stderr}"
    );
}

#[test]
fn tail_at_a_path_the_hub_does_not_serve_exits_non_zero_with_404() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let url = format!("{}/not-here", hub.base);
    let (status, _, stderr) = tail_support::run(&["tail", &url], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("404 Not Found"), "{stderr}");
}

#[test]
fn tail_with_a_malformed_level_is_a_usage_error() {
    let (status, _, stderr) = tail_support::run(&["tail", "--level", "loud"], &[]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--level"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_with_a_cursor_file_in_a_missing_directory_reports_the_error_once() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(&dir.path().join("data"));
    send(&hub.base, "e", 1).await;
    let cursor_file = dir.path().join("missing").join("cursor");
    let cursor_arg = cursor_file.to_str().expect("utf-8 path");

    let tail = Running::start(
        &[
            "tail",
            &hub.base,
            "--since",
            "1h",
            "--cursor-file",
            cursor_arg,
        ],
        &[],
    );
    let (status, _, stderr) = tail.finish().await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("writing cursor file").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_json_prints_an_event_with_a_one_mib_message_sent_by_send() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let message = "a".repeat(1024 * 1024);
    let mut send = std::process::Command::new(tail_support::TRACETAIL)
        .args(["send", "--service", "big", &hub.base])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn send");
    let mut stdin = send.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, format!("{message}\n").as_bytes()).expect("write");
    drop(stdin);
    let sent = send.wait_with_output().expect("send exits");
    assert!(sent.status.success(), "{:?}", sent);

    let tail = Running::start(&["tail", &hub.base, "--json", "--since", "1h"], &[]);
    let lines = tail.wait_lines(1).await;
    let printed = parse_lines(&lines);
    assert_eq!(printed[0]["message"], message.as_str());
    tail.signal("INT");
    let (status, _, stderr) = tail.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("larger than the limit"), "{stderr}");
}

/// Posts one OTLP/JSON span of service `payments` in trace `trace_id`, failed.
async fn post_failed_span(base: &str, trace_id: &str) {
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "payments"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id, "spanId": "00f067aa0ba902b7", "name": "POST /charge",
            "kind": 2, "startTimeUnixNano": "1764778870100000000",
            "endTimeUnixNano": "1764778870112500000",
            "status": {"code": 2, "message": "card declined"}}]}]}]});
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/traces"))
        .json(&body)
        .send()
        .await
        .expect("post span");
    assert_eq!(response.status(), 200, "span acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_of_a_trace_prints_spans_as_lines_tags_them_in_json_and_filters_them() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    post_failed_span(&hub.base, trace_id).await;
    send_json(
        &hub.base,
        &json!({"service": "checkout", "msg": "paid", "trace_id": trace_id}),
    )
    .await;

    let json = Running::start(&["tail", &hub.base, "--trace", trace_id, "--json"], &[]);
    let printed = parse_lines(&json.wait_lines(2).await);
    let span = printed.iter().find(|line| line.get("span").is_some());
    let span = span.unwrap_or_else(|| panic!("no span line in {printed:?}"));
    assert_eq!(span["span"]["name"], "POST /charge");
    assert!(printed.iter().any(|line| line["message"] == "paid"));

    let human = Running::start(&["tail", &hub.base, "--trace", trace_id], &[]);
    let lines = human.wait_lines(2).await;
    let span_line = lines.iter().find(|line| line.contains(" SPAN "));
    let span_line = span_line.unwrap_or_else(|| panic!("no span line in {lines:?}"));
    assert!(
        span_line.ends_with(" SPAN  payments 4bf92f35 POST /charge 12.5ms ERROR card declined"),
        "{span_line:?}"
    );

    // Only the log event's service: the span is left out, like events of other services.
    let args = ["tail", &hub.base, "--trace", trace_id, "-s", "checkout"];
    let filtered = Running::start(&args, &[]);
    filtered.wait_lines(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = filtered.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" checkout "), "{lines:?}");
}
