//! `tracetail demo` against the real hub: what it sends arrives whole, one trace per request.

mod hub;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SERVICES: [&str; 4] = ["checkout", "frontend", "inventory", "payments"];

/// A `tracetail serve` child process, killed when dropped.
struct Hub {
    child: Child,
    base: String,
}

impl Hub {
    fn start(dir: &Path) -> Hub {
        let (child, port) = hub::serve(0, dir, &[]);
        Hub {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Every stored event, oldest first.
    fn events(&self) -> Vec<Value> {
        let url = format!("{}/v1/logs?limit=1000&order=asc", self.base);
        let page: Value = reqwest::blocking::get(url)
            .expect("query")
            .json()
            .expect("json");
        assert!(page["next"].is_null(), "all events fit in one page");
        page["events"].as_array().expect("events").clone()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn demo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracetail"));
    command
        .arg("demo")
        .args(args)
        .env_remove("TRACETAIL_SERVER");
    command
}

/// The number of log records the demo's summary says it sent.
fn records_sent(output: &Output) -> usize {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .find(|line| line.contains(" log records sent"));
    let summary = summary.unwrap_or_else(|| panic!("a summary in {stdout:?}"));
    let before = summary.split(" log records sent").next().expect("count");
    let count = before.rsplit(' ').next().expect("count");
    count
        .parse()
        .unwrap_or_else(|_| panic!("a count in {stdout:?}"))
}

fn text<'a>(event: &'a Value, key: &str) -> &'a str {
    event[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {event}"))
}

/// Events grouped by trace id, then by service: the span ids each service logged under.
fn spans_by_trace(events: &[Value]) -> BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> {
    let mut traces: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for event in events {
        let (trace_id, span_id) = (text(event, "trace_id"), text(event, "span_id"));
        assert_eq!(trace_id.len(), 32, "{event}");
        assert_eq!(span_id.len(), 16, "{event}");
        let services = traces.entry(trace_id).or_default();
        services
            .entry(text(event, "service"))
            .or_default()
            .insert(span_id);
    }
    traces
}

fn has_stack_trace(event: &Value) -> bool {
    let in_message = text(event, "message").contains("\nTraceback (most recent call last):\n");
    let attribute = event["attributes"]["exception.stacktrace"].as_str();
    in_message || attribute.is_some_and(|trace| trace.contains("\n\tat "))
}

#[test]
fn demo_requests_arrive_as_one_trace_each_across_four_services() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let output = demo(&[&hub.base, "--count", "20", "--rate", "50"])
        .args(["--error-rate", "50%", "--seed", "7"])
        .output()
        .expect("run demo");
    assert!(output.status.success(), "{output:?}");
    let events = hub.events();
    assert_eq!(
        events.len(),
        records_sent(&output),
        "every record sent was stored"
    );

    let services: BTreeSet<&str> = events.iter().map(|event| text(event, "service")).collect();
    assert_eq!(services, BTreeSet::from(SERVICES));
    let traces = spans_by_trace(&events);
    assert_eq!(traces.len(), 20, "one trace per request");
    for (trace_id, services) in &traces {
        assert!(
            services.contains_key("frontend"),
            "trace {trace_id} entered at frontend"
        );
        let mut span_ids: BTreeSet<&str> = BTreeSet::new();
        for (service, spans) in services {
            assert_eq!(
                spans.len(),
                1,
                "{service} logs in one span in trace {trace_id}"
            );
            span_ids.extend(spans);
        }
        assert_eq!(
            span_ids.len(),
            services.len(),
            "each service has its own span"
        );
    }
    assert!(traces.values().any(|services| services.len() == 4));

    let errors: Vec<&Value> = events
        .iter()
        .filter(|event| event["level"] == "ERROR")
        .collect();
    assert!(
        errors
            .iter()
            .any(|event| event["service"] == "payments" && has_stack_trace(event))
    );
    assert!(
        errors
            .iter()
            .any(|event| event["service"] == "inventory" && has_stack_trace(event))
    );
    assert!(events.iter().any(|event| event["level"] == "DEBUG"));
    assert_eq!(events[0]["resource"]["deployment.environment"], "demo");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("sending no spans"), "{stdout}");
    for (trace_id, services) in &traces {
        assert_trace_has_the_spans_its_logs_name(&hub, trace_id, services);
    }
}

/// The spans the SDK exported for one trace: one per service that logged, under the span
/// ids its logs carry, with exactly one root (the frontend's server span).
fn assert_trace_has_the_spans_its_logs_name(
    hub: &Hub,
    trace_id: &str,
    logged: &BTreeMap<&str, BTreeSet<&str>>,
) {
    let url = format!("{}/v1/traces/{trace_id}", hub.base);
    let trace: Value = reqwest::blocking::get(url)
        .expect("get trace")
        .json()
        .expect("json");
    let spans = trace["spans"].as_array().expect("spans");
    let exported: BTreeMap<&str, BTreeSet<&str>> =
        spans.iter().fold(BTreeMap::new(), |mut by_service, span| {
            let service = text(span, "service");
            by_service
                .entry(service)
                .or_default()
                .insert(text(span, "span_id"));
            by_service
        });
    assert_eq!(&exported, logged, "trace {trace_id}");
    let roots: Vec<&Value> = spans
        .iter()
        .filter(|span| span.get("parent_span_id").is_none())
        .collect();
    assert_eq!(roots.len(), 1, "one root in {trace}");
    assert_eq!(roots[0]["service"], "frontend");
    assert_eq!(roots[0]["kind"], "SERVER");
    let logs = trace["logs"].as_array().expect("logs");
    assert!(logs.iter().all(|log| log["trace_id"] == trace_id));
}

#[test]
fn ctrl_c_stops_the_demo_after_flushing_what_it_sent() {
    let dir = tempfile::tempdir().expect("dir");
    let hub = Hub::start(dir.path());
    let child = demo(&[&hub.base, "--rate", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn demo");
    std::thread::sleep(Duration::from_millis(1500));
    hub::signal(child.id(), "INT");

    let output = child.wait_with_output().expect("demo exits");
    assert!(output.status.success(), "{output:?}");
    let sent = records_sent(&output);
    assert!(sent > 0, "{output:?}");
    assert_eq!(hub.events().len(), sent);
}

#[test]
fn demo_without_a_hub_fails_at_once_saying_so() {
    let started = Instant::now();
    let output = demo(&[&format!("http://127.0.0.1:{}", free_port()), "--count", "1"])
        .output()
        .expect("run demo");
    assert!(!output.status.success());
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach the hub"), "{stderr}");
}
