//! `tracetail query` end to end: the built binary against a real `tracetail serve`.

mod hub;
mod tail_support;

use serde_json::{Value, json};
use tail_support::{Hub, ids, run, send, send_json, stored};

/// Runs `query --json` with `args` after the server; the events printed.
fn query_json(hub: &Hub, args: &[&str]) -> Vec<Value> {
    let all = [&["query", &hub.base, "--json"], args].concat();
    let (status, stdout, stderr) = run(&all, &[]);
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["message"].as_str().expect("message").to_string())
        .collect()
}

fn numbered(prefix: &str, range: impl Iterator<Item = usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_pages_through_several_pages_and_prints_exactly_the_events() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    send(&hub.base, "e", 2500).await;
    let all = stored(&hub.base).await;

    // Pages are 1000 events: each of these needs three requests.
    let oldest = query_json(&hub, &["--order", "asc", "--limit", "2500"]);
    assert_eq!(oldest, all, "every event once, as stored");
    let newest_first = query_json(&hub, &["--order", "desc", "--limit", "2400"]);
    assert_eq!(messages(&newest_first), numbered("e", (100..2500).rev()));
    let newest = query_json(&hub, &["--limit", "2100"]);
    assert_eq!(messages(&newest), numbered("e", 400..2500));
    assert_eq!(ids(&newest), ids(&all[400..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_by_default_prints_the_newest_hundred_oldest_first() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    send(&hub.base, "e", 150).await;
    assert_eq!(messages(&query_json(&hub, &[])), numbered("e", 50..150));
    let oldest = query_json(&hub, &["--order", "asc", "--limit", "3"]);
    assert_eq!(messages(&oldest), numbered("e", 0..3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_filters_by_service_level_and_text() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let events = json!([
        {"service": "api", "level": "error", "msg": "boom one"},
        {"service": "api", "level": "info", "msg": "boom two"},
        {"service": "web", "level": "error", "msg": "boom three"},
        {"service": "api", "level": "fatal", "msg": "quiet"},
        {"service": "db", "level": "warn", "msg": "BOOM four"},
    ]);
    send_json(&hub.base, &events).await;
    let args = ["-s", "api", "--service", "db", "-l", "warn", "-q", "boom"];
    assert_eq!(
        messages(&query_json(&hub, &args)),
        ["boom one", "BOOM four"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_human_lines_match_tails_format_without_escape_codes_off_a_terminal() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let event = json!({"service": "checkout", "level": "warn", "msg": "slow",
        "ts": "2024-02-03T04:05:06.789Z", "ms": 1500, "route": "/pay now"});
    send_json(&hub.base, &event).await;
    let (status, stdout, stderr) = run(&["query", &hub.base], &[]);
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "2024-02-03 04:05:06.789 WARN  checkout -        slow ms=1500 route=\"/pay now\"\n"
    );
    let (_, coloured, _) = run(&["query", &hub.base, "--color", "always"], &[]);
    assert!(coloured.contains("\x1b[33mWARN \x1b[0m"), "{coloured:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_into_a_closed_pipe_exits_zero_with_empty_stderr() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    send(&hub.base, "e", 2000).await;
    // 2000 JSON lines overflow the pipe, so the writes after `head` exits must fail.
    let script =
        r#""$0" query "$1" --json --limit 2000 | head -2 >/dev/null; exit "${PIPESTATUS[0]}""#;
    let output = std::process::Command::new("bash")
        .args(["-c", script, tail_support::TRACETAIL, &hub.base])
        .output()
        .expect("bash");
    assert!(output.status.success(), "{}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn query_with_a_bad_filter_exits_non_zero_with_the_servers_message() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let (status, stdout, stderr) = run(&["query", &hub.base, "--until", "later"], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("400 Bad Request: invalid until parameter"),
        "{stderr}"
    );
}

#[test]
fn query_of_a_hub_that_is_not_there_exits_non_zero_naming_it() {
    let url = format!("http://127.0.0.1:{}", tail_support::free_port());
    let (status, _, stderr) = run(&["query", &url], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_tail_take_a_server_given_as_host_and_port() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    send(&hub.base, "e", 1).await;
    let host_and_port = hub.base.trim_start_matches("http://");

    let (status, stdout, stderr) = run(&["query", host_and_port, "--json"], &[]);
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");

    let env = [("TRACETAIL_SERVER", host_and_port)];
    let tail = tail_support::Running::start(&["tail", "--json", "--since", "1h"], &env);
    let lines = tail.wait_lines(1).await;
    assert!(lines[0].contains(r#""message":"e0""#), "{lines:?}");
}
