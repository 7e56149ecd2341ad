//! `tracetail send` against a real hub: what arrives, how rejections and failures are
//! reported, and that a million lines arrive complete and in order.

mod hub;
mod send_support;

use std::io::Write;
use std::time::{Duration, Instant};

use send_support::{Hub, events, free_port, messages, outcome, run_with_stdin, send_command};
use serde_json::json;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_million_line_file_arrives_complete_and_in_order() {
    let hub = Hub::start();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("big.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    for number in 0..1_000_000 {
        writeln!(file, "GET /orders/{number} 200 user=42 took=12ms").expect("write");
    }
    file.into_inner().expect("flush").sync_all().expect("sync");

    let started = Instant::now();
    let mut command = send_command(&[&hub.base, "--service", "volume", "--file"]);
    let output = command.arg(&path).output().expect("run send");
    let sent_in = started.elapsed();
    let (code, stderr) = outcome(&output);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("1,000,000 lines read"), "{stderr}");
    assert!(stderr.contains("1,000,000 records: 1,000,000 accepted, 0 rejected"));

    let stored = messages(&hub.base, "volume").await;
    assert_eq!(stored.len(), 1_000_000);
    for (number, message) in stored.iter().enumerate() {
        let expected = format!("GET /orders/{number} 200 user=42 took=12ms");
        assert_eq!(
            message, &expected,
            "record {number} out of order or missing"
        );
    }
    eprintln!(
        "sent 1,000,000 lines in {sent_in:.1?}, checked after {:.1?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn json_lines_keep_their_fields_and_plain_lines_get_the_defaults() {
    let hub = Hub::start();
    let input = [
        r#"{"service": "kept", "level": "error", "msg": "json with its own", "order": 1042}"#,
        r#"{"msg": "json without service or level", "user": {"id": 7}}"#,
        "a plain line",
        "",
        r#"{"service.name": "kept", "severity": 21, "message": "dotted service"}"#,
    ]
    .join("\n");
    let command = send_command(&[&hub.base, "--service", "filled", "--level", "warn"]);
    let (code, stderr) = outcome(&run_with_stdin(command, input.as_bytes()));
    assert_eq!(code, Some(0), "{stderr}");

    let kept = events(&hub.base, "kept").await;
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0]["level"], "ERROR");
    assert_eq!(kept[0]["message"], "json with its own");
    assert_eq!(kept[0]["attributes"], json!({"order": 1042}));
    assert_eq!(
        (&kept[1]["level"], &kept[1]["severity"]),
        (&json!("FATAL"), &json!(21))
    );

    let filled = events(&hub.base, "filled").await;
    assert_eq!(filled.len(), 2, "{filled:?}");
    assert_eq!(filled[0]["message"], "json without service or level");
    assert_eq!(filled[0]["level"], "WARN");
    assert_eq!(filled[0]["attributes"], json!({"user": {"id": 7}}));
    assert_eq!(filled[1]["message"], "a plain line");
    assert_eq!(filled[1]["level"], "WARN");
    assert_eq!(filled[1]["attributes"], json!({}));
}

#[tokio::test]
async fn plain_lines_without_service_are_info_of_unknown_service() {
    let hub = Hub::start();
    let output = run_with_stdin(send_command(&[&hub.base]), b"no defaults given\r\n");
    assert_eq!(outcome(&output).0, Some(0));
    let stored = events(&hub.base, "unknown_service").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["message"], "no defaults given");
    assert_eq!(stored[0]["level"], "INFO");
}

#[tokio::test]
async fn multiline_joins_a_java_stack_trace_into_one_record() {
    let hub = Hub::start();
    let input = "12:00:01 INFO handling request\n\
                 12:00:02 ERROR request failed\n\
                 java.lang.IllegalStateException: no stock\n\
                 \tat com.shop.Orders.reserve(Orders.java:88)\n\
                 \tat com.shop.Api.handle(Api.java:31)\n\
                 Caused by: java.sql.SQLException: timeout\n\
                 \tat com.shop.Db.query(Db.java:12)\n\
                 \t... 2 more\n\
                 12:00:03 INFO next request\n";
    let command = send_command(&[&hub.base, "--service", "shop", "--multiline"]);
    let (code, stderr) = outcome(&run_with_stdin(command, input.as_bytes()));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("9 lines read"), "{stderr}");

    let stored = messages(&hub.base, "shop").await;
    assert_eq!(stored.len(), 4, "{stored:#?}");
    assert_eq!(stored[1], "12:00:02 ERROR request failed");
    let trace: Vec<&str> = input.lines().skip(2).take(6).collect();
    assert_eq!(stored[2], trace.join("\n"));
    assert_eq!(stored[3], "12:00:03 INFO next request");
}

#[tokio::test]
async fn traceparent_from_the_environment_links_records_without_ids() {
    let hub = Hub::start();
    let own_trace = "0af7651916cd43dd8448eb211c80319c";
    let input = format!(
        "plain line\n{{\"msg\": \"json\"}}\n{{\"msg\": \"own\", \"trace_id\": \"{own_trace}\"}}\n"
    );
    let mut command = send_command(&[&hub.base, "--service", "linked"]);
    command.env("TRACEPARENT", TRACEPARENT);
    let (code, stderr) = outcome(&run_with_stdin(command, input.as_bytes()));
    assert_eq!(code, Some(0), "{stderr}");

    let stored = events(&hub.base, "linked").await;
    let ids: Vec<(&str, Option<&str>)> = stored
        .iter()
        .map(|event| {
            (
                event["trace_id"].as_str().expect("trace"),
                event["span_id"].as_str(),
            )
        })
        .collect();
    let from_env = ("4bf92f3577b34da6a3ce929d0e0e4736", Some("00f067aa0ba902b7"));
    assert_eq!(ids, [from_env, from_env, (own_trace, None)]);

    let mut bad = send_command(&[&hub.base]);
    bad.env("TRACEPARENT", "00-abc-def-01");
    let (code, stderr) = outcome(&run_with_stdin(bad, b"x\n"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not W3C trace context"), "{stderr}");
}

#[tokio::test]
async fn rejected_records_exit_3_with_a_summary_naming_their_lines() {
    let hub = Hub::start();
    let input = "fine\n{\"msg\": \"x\", \"level\": \"loud\"}\nfine too\n{\"time\": \"noon\"}\n";
    let command = send_command(&[&hub.base, "--service", "strict"]);
    let (code, stderr) = outcome(&run_with_stdin(command, input.as_bytes()));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("4 records: 2 accepted, 2 rejected"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 2: level \"loud\" is not a level name"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4: time \"noon\""), "{stderr}");
    assert_eq!(messages(&hub.base, "strict").await, ["fine", "fine too"]);
}

#[tokio::test]
async fn a_hub_that_is_down_at_first_still_gets_everything() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("early.log");
    let lines: Vec<String> = (0..5000).map(|number| format!("early {number}")).collect();
    std::fs::write(&path, lines.join("\n")).expect("write");

    let base = format!("http://127.0.0.1:{port}");
    let mut command = send_command(&[&base, "--service", "late", "--file"]);
    let child = command
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn send");
    std::thread::sleep(Duration::from_millis(1500));
    let hub = Hub::start_on(port);

    let output = child.wait_with_output().expect("send ends");
    let (code, stderr) = outcome(&output);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("cannot reach the hub"), "{stderr}");
    assert!(stderr.contains("5,000 records: 5,000 accepted"), "{stderr}");
    assert!(!stderr.contains("delivered twice"), "{stderr}");
    assert_eq!(messages(&hub.base, "late").await, lines);
}

#[tokio::test]
async fn a_hub_answering_404_ends_the_run_with_an_error() {
    let hub = Hub::start();
    let command = send_command(&[&format!("{}/not-here", hub.base)]);
    let (code, stderr) = outcome(&run_with_stdin(command, b"lost\n"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stderr.contains("1 record: 0 accepted, 0 rejected, 1 not acknowledged"));
}

/// A stand-in for the hub that reads the first request whole and hangs up without answering,
/// then answers the second as the hub would. Returns its address and how many records the
/// second request held.
fn hub_that_loses_its_first_answer() -> (String, std::thread::JoinHandle<usize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = std::thread::spawn(move || {
        let (first, _) = listener.accept().expect("first connection");
        read_request(&first);
        drop(first);
        let (mut second, _) = listener.accept().expect("second connection");
        let records = read_request(&second)
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        let answer = format!(r#"{{"accepted":{records},"rejected":[],"rejected_total":0}}"#);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{answer}",
            answer.len()
        );
        second.write_all(response.as_bytes()).expect("answer");
        records
    });
    (base, server)
}

/// Reads one HTTP/1.1 request with a `content-length` body; returns the body.
fn read_request(stream: &std::net::TcpStream) -> Vec<u8> {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("a length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    body
}

#[test]
fn a_retry_after_a_lost_answer_is_reported_as_possible_duplicates() {
    let (base, server) = hub_that_loses_its_first_answer();
    let command = send_command(&[&base]);
    let (code, stderr) = outcome(&run_with_stdin(command, b"one\ntwo\nthree\n"));
    assert_eq!(server.join().expect("stand-in hub"), 3);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("3 records: 3 accepted"), "{stderr}");
    assert!(
        stderr.contains("3 records may have been delivered twice"),
        "{stderr}"
    );
}
