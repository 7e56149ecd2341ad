//! `tracetail send --follow` across rotation and truncation, and interrupting `send`.

mod hub;
mod send_support;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use send_support::{Hub, free_port, interrupt, messages, messages_when, outcome, send_command};

/// Appends `lines` to the open file, each with its line end.
fn append(file: &mut std::fs::File, lines: &[String]) {
    for line in lines {
        writeln!(file, "{line}").expect("append");
    }
    file.flush().expect("flush");
}

fn numbered(prefix: &str, numbers: std::ops::Range<usize>) -> Vec<String> {
    numbers.map(|number| format!("{prefix} {number}")).collect()
}

fn follow(hub: &Hub, service: &str, path: &Path) -> Child {
    send_command(&[&hub.base, "--service", service, "--follow", "--file"])
        .arg(path)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send --follow")
}

/// Interrupts `send` and checks that it ends cleanly; returns its stderr.
fn stop(child: Child) -> String {
    interrupt(&child);
    let (code, stderr) = outcome(&child.wait_with_output().expect("send ends"));
    assert_eq!(code, Some(0), "{stderr}");
    stderr
}

#[tokio::test]
async fn follow_reads_across_a_rotation_every_line_exactly_once() {
    let hub = Hub::start();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("app.log");
    let mut writer = std::fs::File::create(&path).expect("create");
    append(&mut writer, &numbered("first", 0..100));
    let child = follow(&hub, "rotated", &path);
    assert_eq!(messages_when(&hub.base, "rotated", 100).await.len(), 100);

    // The writer keeps its handle: what it writes after the rename is still read.
    append(&mut writer, &numbered("first", 100..150));
    std::fs::rename(&path, dir.path().join("app.log.1")).expect("rotate");
    append(&mut writer, &numbered("first", 150..200));
    std::thread::sleep(Duration::from_millis(400));
    let mut writer = std::fs::File::create(&path).expect("new file");
    append(&mut writer, &numbered("second", 0..100));

    let expected = [numbered("first", 0..200), numbered("second", 0..100)].concat();
    messages_when(&hub.base, "rotated", expected.len()).await;
    let stderr = stop(child);
    assert!(stderr.contains("300 records: 300 accepted"), "{stderr}");
    assert_eq!(messages(&hub.base, "rotated").await, expected);
}

#[tokio::test]
async fn follow_starts_over_after_truncation() {
    let hub = Hub::start();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("app.log");
    let mut writer = std::fs::File::create(&path).expect("create");
    append(&mut writer, &numbered("before truncation", 0..50));
    writer.write_all(b"partial line").expect("partial");
    let child = follow(&hub, "truncated", &path);
    assert_eq!(messages_when(&hub.base, "truncated", 50).await.len(), 50);

    let mut writer = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .expect("truncate");
    append(&mut writer, &numbered("after", 0..10));

    let expected = [
        numbered("before truncation", 0..50),
        vec!["partial line".to_string()],
        numbered("after", 0..10),
    ]
    .concat();
    messages_when(&hub.base, "truncated", expected.len()).await;
    stop(child);
    assert_eq!(messages(&hub.base, "truncated").await, expected);
}

#[tokio::test]
async fn follow_sends_new_lines_without_waiting_for_a_full_batch() {
    let hub = Hub::start();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("live.log");
    let mut writer = std::fs::File::create(&path).expect("create");
    let child = follow(&hub, "live", &path);
    std::thread::sleep(Duration::from_millis(300));

    let written = Instant::now();
    append(&mut writer, &numbered("live", 0..3));
    assert_eq!(messages_when(&hub.base, "live", 3).await.len(), 3);
    let latency = written.elapsed();
    stop(child);
    assert!(latency < Duration::from_secs(2), "took {latency:?}");
}

#[test]
fn interrupting_with_the_hub_down_reports_what_was_not_acknowledged() {
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut child = send_command(&[&base])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"one\ntwo\n").expect("write");
    std::thread::sleep(Duration::from_millis(800));

    let interrupted = Instant::now();
    interrupt(&child);
    let (code, stderr) = outcome(&child.wait_with_output().expect("send ends"));
    assert!(interrupted.elapsed() < Duration::from_secs(8), "{stderr}");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("2 records: 0 accepted, 0 rejected, 2 not acknowledged"),
        "{stderr}"
    );
    assert!(
        stderr.contains("interrupted before 2 records were acknowledged"),
        "{stderr}"
    );
    drop(stdin);
}
