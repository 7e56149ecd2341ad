//! The hub's own telemetry, from the real `tracetail serve` process: OTLP export to a real
//! OTLP/HTTP endpoint, JSON log lines with trace ids, and `--self-telemetry`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const WAIT: Duration = Duration::from_secs(15);

/// A `tracetail serve` process with its stderr in a file.
struct Hub {
    child: Child,
    base: String,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hub {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Hub {
        Hub::start_on(free_port(), args, env)
    }

    fn start_on(port: u16, args: &[&str], env: &[(&str, &str)]) -> Hub {
        let dir = tempfile::tempdir().expect("temp dir");
        let stderr = dir.path().join("stderr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracetail"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        for variable in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"] {
            if !env.iter().any(|(name, _)| *name == variable) {
                command.env_remove(variable);
            }
        }
        let child = command.spawn().expect("spawn tracetail");
        let hub = Hub {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stderr,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        hub
    }

    /// A `GET` carrying [`TRACEPARENT`]; returns the span id the hub answered with.
    async fn traced_get(&self, path: &str) -> String {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .header("traceparent", TRACEPARENT)
            .send()
            .await
            .expect("request");
        let traceparent = response.headers()["traceparent"].to_str().expect("ascii");
        assert!(
            traceparent.starts_with(&format!("00-{TRACE}-")),
            "{traceparent}"
        );
        traceparent[36..52].to_string()
    }

    /// SIGTERM, then wait for the process to exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let status = self.child.wait().expect("exit");
        assert!(status.success(), "{status}");
    }

    fn stderr_lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.stderr).expect("stderr");
        text.lines().map(str::to_string).collect()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// The JSON answer to a `GET`.
async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url).await.expect("GET answered");
    response.json().await.expect("JSON answer")
}

/// What an OTLP/HTTP endpoint was sent: `(path, protobuf body)`.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP protobuf endpoint on `127.0.0.1:0` that answers 200 to everything and keeps
/// what it was sent.
async fn otlp_endpoint() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let received = Received::default();
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, sink.clone()));
        }
    });
    (url, received)
}

async fn serve_connection(stream: tokio::net::TcpStream, sink: Received) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
        let mut length = 0;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header");
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.expect("body");
        sink.lock().expect("lock").push((path, body));
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\
                      content-length: 0\r\n\r\n";
        stream
            .get_mut()
            .write_all(answer.as_bytes())
            .await
            .expect("answer");
    }
}

/// Everything the endpoint received: span names with their trace ids and service, and log
/// records as (origin: the scope, or the `log` crate's target, message, trace id).
struct Exported {
    spans: Vec<(String, String, String)>,
    logs: Vec<(String, String, String)>,
}

fn exported(received: &Received) -> Exported {
    let mut exported = Exported {
        spans: Vec::new(),
        logs: Vec::new(),
    };
    for (path, body) in received.lock().expect("lock").iter() {
        match path.as_str() {
            "/v1/traces" => {
                let request = ExportTraceServiceRequest::decode(&body[..]).expect("traces");
                for resource in request.resource_spans {
                    let attributes = resource.resource.map(|resource| resource.attributes);
                    let service = text_attribute(&attributes.unwrap_or_default(), "service.name")
                        .unwrap_or_default();
                    for span in resource.scope_spans.iter().flat_map(|scope| &scope.spans) {
                        let trace = hex::encode(&span.trace_id);
                        exported
                            .spans
                            .push((span.name.clone(), trace, service.clone()));
                    }
                }
            }
            "/v1/logs" => {
                let request = ExportLogsServiceRequest::decode(&body[..]).expect("logs");
                for resource in request.resource_logs {
                    for scope in resource.scope_logs {
                        let scope_name = scope.scope.map(|scope| scope.name).unwrap_or_default();
                        for record in scope.log_records {
                            // Records bridged from the `log` crate name their origin here.
                            let origin = text_attribute(&record.attributes, "log.target")
                                .unwrap_or_else(|| scope_name.clone());
                            let message = match record.body.and_then(|body| body.value) {
                                Some(any_value::Value::StringValue(text)) => text,
                                other => format!("{other:?}"),
                            };
                            let trace = hex::encode(&record.trace_id);
                            exported.logs.push((origin, message, trace));
                        }
                    }
                }
            }
            other => panic!("unexpected OTLP path {other}"),
        }
    }
    exported
}

/// The text of attribute `key`, if present.
fn text_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let attribute = attributes.iter().find(|attribute| attribute.key == key)?;
    match attribute.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        other => Some(format!("{other:?}")),
    }
}

// Multi-threaded: the endpoint must keep answering while the test waits for the hub to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_spans_and_logs_reach_an_otlp_endpoint_and_the_exporters_requests_do_not() {
    let (endpoint, received) = otlp_endpoint().await;
    let hub = Hub::start(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "hub-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            // Everything the exporter's HTTP client logs would be there to leak.
            ("RUST_LOG", "debug"),
        ],
    );
    hub.traced_get("/v1/logs?limit=lots").await;
    hub.traced_get("/healthz").await;

    // Let several export rounds pass, so the exporter's own requests had every chance to leak.
    let deadline = Instant::now() + WAIT;
    while exported(&received).spans.len() < 2 {
        assert!(Instant::now() < deadline, "spans were not exported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    hub.stop();

    let Exported { spans, logs } = exported(&received);
    let names: Vec<&str> = spans.iter().map(|(name, _, _)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["GET /healthz", "GET /v1/logs"],
        "only the requests made"
    );
    for (name, trace, service) in &spans {
        assert_eq!(trace, TRACE, "{name}");
        assert_eq!(service, "hub-under-test", "{name}");
    }

    let refused = logs
        .iter()
        .find(|(_, message, _)| message == "request refused")
        .expect("the refused request's log was exported");
    assert_eq!(refused.2, TRACE);
    assert!(
        logs.iter().any(|(_, message, _)| message == "stopped"),
        "flushed at shutdown: {logs:?}"
    );
    for (scope, message, _) in &logs {
        let internal = ["hyper", "h2", "reqwest", "opentelemetry", "tower"];
        assert!(
            !internal.iter().any(|prefix| scope.starts_with(prefix)),
            "the exporter's own log {scope}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_otlp_endpoint_nothing_is_exported_and_the_hub_runs() {
    let (endpoint, received) = otlp_endpoint().await;
    // The endpoint exists but is not named: the hub must not find it on its own.
    let hub = Hub::start(&[], &[("OTEL_BSP_SCHEDULE_DELAY", "50")]);
    hub.traced_get("/healthz").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    hub.stop();
    assert!(
        received.lock().expect("lock").is_empty(),
        "{endpoint} got data"
    );
}

#[tokio::test]
async fn json_log_lines_inside_a_request_carry_its_trace_and_span_ids() {
    let hub = Hub::start(
        &["--log-format", "json"],
        &[("RUST_LOG", "info,tracetail_server=debug")],
    );
    let span_id = hub.traced_get("/v1/logs?limit=lots").await;
    hub.traced_get("/healthz").await;
    let lines = hub.stderr_lines();
    let hub_stopped_lines = lines.len();
    hub.stop();

    let parsed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    assert!(hub_stopped_lines > 0);
    let refused = parsed
        .iter()
        .find(|line| line["message"] == "request refused")
        .expect("the refusal is logged");
    assert_eq!(refused["trace_id"], TRACE);
    assert_eq!(refused["span_id"], span_id.as_str());
    assert_eq!(refused["level"], "DEBUG");
    assert_eq!(refused["reason"], "bad_request");
}

#[tokio::test]
async fn log_file_gets_the_lines_instead_of_stderr_and_keeps_max_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_file = dir.path().join("hub.log");
    let old_days = ["2020-01-01", "2020-01-02", "2020-01-03"];
    for day in old_days {
        std::fs::write(dir.path().join(format!("hub.log.{day}")), "{}\n").expect("old file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let hub = Hub::start(
        &[
            "--log-file",
            log_file.to_str().expect("utf-8"),
            "--log-max-files",
            "2",
        ],
        &[],
    );
    hub.traced_get("/healthz").await;
    let stderr = hub.stderr_lines();
    hub.stop();

    assert!(stderr.is_empty(), "{stderr:?}");
    let mut files = files_named(dir.path(), "hub.log.");
    files.sort();
    let today = dir
        .path()
        .join(format!("hub.log.{}", chrono::Utc::now().format("%Y-%m-%d")));
    let newest_old = dir.path().join("hub.log.2020-01-03");
    assert_eq!(files, [newest_old, today.clone()], "two files kept");
    let text = std::fs::read_to_string(&today).expect("log file");
    let stopped = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON line"))
        .any(|line| line["message"] == "stopped");
    assert!(stopped, "{text}");
}

fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

#[tokio::test]
async fn self_telemetry_stores_the_hubs_own_logs_without_feeding_itself() {
    let hub = Hub::start(&["--self-telemetry"], &[("RUST_LOG", "debug")]);
    let span_id = hub.traced_get("/v1/logs?limit=lots").await;

    let query = format!("{}/v1/logs?service=tracetail&limit=1000", hub.base);
    let deadline = Instant::now() + WAIT;
    let refused = loop {
        let stored: Value = get_json(&query).await;
        let events = stored["events"].as_array().expect("events").clone();
        if let Some(refused) = events
            .into_iter()
            .find(|event| event["message"] == "request refused")
        {
            break refused;
        }
        assert!(Instant::now() < deadline, "own log not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused["service"], "tracetail");
    assert_eq!(refused["trace_id"], TRACE);
    assert_eq!(refused["span_id"], span_id.as_str());
    assert_eq!(refused["attributes"]["target"], "tracetail_server::metrics");

    // Storing own logs at debug level logs nothing that is stored again: once the hub is idle,
    // the latest cursor stays put.
    let count = || async {
        let url = format!("{}/readyz", hub.base);
        let ready: Value = get_json(&url).await;
        ready["latest"].to_string()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = count().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = count().await;
    hub.stop();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hub_receives_the_first_hubs_own_logs_and_nothing_of_its_exporter() {
    let receiver = Hub::start(&[], &[]);
    let logs_endpoint = format!("{}/v1/logs", receiver.base);
    let hub = Hub::start(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &logs_endpoint),
            ("OTEL_SERVICE_NAME", "first-hub"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            ("RUST_LOG", "debug"),
        ],
    );
    let span_id = hub.traced_get("/v1/logs?limit=lots").await;
    // A few export rounds, each a request of the exporter's HTTP client.
    tokio::time::sleep(Duration::from_millis(600)).await;
    hub.stop();

    let query = format!("{}/v1/logs?service=first-hub&limit=10000", receiver.base);
    let stored: Value = get_json(&query).await;
    let events = stored["events"].as_array().expect("events");
    let refused = events
        .iter()
        .find(|event| event["message"] == "request refused")
        .expect("the first hub's log is stored in the second");
    assert_eq!(refused["trace_id"], TRACE);
    assert_eq!(refused["span_id"], span_id.as_str());
    assert!(events.iter().any(|event| event["message"] == "stopped"));
    // The storage engine's routine reports (at debug here) are caused by every stored batch:
    // exported, they would make the receiver store more, and report that.
    let from_storage = |event: &&Value| {
        let target = event["attributes"]["log.target"]
            .as_str()
            .unwrap_or_default();
        ["fjall", "lsm_tree", "sfa"]
            .iter()
            .any(|prefix| target.starts_with(prefix))
    };
    let storage: Vec<_> = events.iter().filter(from_storage).collect();
    assert!(storage.is_empty(), "storage engine logs: {storage:?}");
    for event in events {
        let attributes = &event["attributes"];
        let origin = attributes["log.target"]
            .as_str()
            .or(attributes["otel.scope.name"].as_str())
            .unwrap_or_default();
        let internal = ["hyper", "h2", "reqwest", "opentelemetry", "tower"];
        assert!(
            !internal.iter().any(|prefix| origin.starts_with(prefix)),
            "the exporter's own log: {event}"
        );
    }
}

/// The environment of a hub that exports everything it logs and traces to `peer`, quickly.
fn exporting_to(peer: u16, name: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{peer}"),
        ),
        ("OTEL_SERVICE_NAME", name.to_string()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "100".to_string()),
        // Everything is logged and exported, the storage engine's own reports included.
        ("RUST_LOG", "trace".to_string()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_exporting_to_each_other_go_quiet_once_idle() {
    let (port_a, port_b) = (free_port(), free_port());
    let env_a = exporting_to(port_b, "hub-a");
    let env_b = exporting_to(port_a, "hub-b");
    let a = Hub::start_on(port_a, &[], &borrowed(&env_a));
    let b = Hub::start_on(port_b, &[], &borrowed(&env_b));
    a.traced_get("/healthz").await;

    // b holds a's span of that request: export works in this direction.
    let trace_url = format!("{}/v1/traces/{TRACE}", b.base);
    let deadline = Instant::now() + WAIT;
    loop {
        let response = reqwest::get(&trace_url).await.expect("GET answered");
        if response.status() == 200 {
            let trace: Value = response.json().await.expect("JSON");
            assert_eq!(trace["spans"][0]["service"], "hub-a");
            assert_eq!(trace["spans"][0]["name"], "GET /healthz");
            break;
        }
        assert!(Instant::now() < deadline, "a's span never reached b");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Then both go quiet: neither stores anything more while nothing else happens. (Asked
    // unsampled, so that asking makes no span to export.)
    let latest = |hub: &Hub| {
        let request = reqwest::Client::new()
            .get(format!("{}/readyz", hub.base))
            .header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-00"));
        async move {
            let response = request.send().await.expect("GET answered");
            let ready: Value = response.json().await.expect("JSON answer");
            ready["latest"].to_string()
        }
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = (latest(&a).await, latest(&b).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = (latest(&a).await, latest(&b).await);
    a.stop();
    b.stop();
    assert_eq!(before, after, "the hubs kept feeding each other");
}
