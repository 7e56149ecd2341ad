//! The client against the real server on `127.0.0.1:0`, in real time: filters understood by
//! the server, and a server restart ridden out with every event delivered exactly once.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tracetail_client::{ClientEvent, EventStream, Level, Subscription};
use tracetail_server::{RunningServer, ServerConfig};

const WAIT: Duration = Duration::from_secs(20);

async fn start(dir: &Path, listen: SocketAddr) -> RunningServer {
    let mut config = ServerConfig::with_data_dir(dir.join("data"));
    config.listen = listen;
    config.retry = Duration::from_millis(100);
    tracetail_server::start(config)
        .await
        .expect("server starts")
}

async fn send(server: &RunningServer, events: Value) {
    let url = format!("http://{}/v1/events", server.local_addr());
    let response = reqwest::Client::new()
        .post(url)
        .json(&events)
        .send()
        .await
        .expect("post events");
    assert_eq!(response.status(), 200);
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Value {
    let events = range.map(|i| json!({"message": format!("{prefix}{i}"), "service": "api"}));
    Value::Array(events.collect())
}

/// Reads until `count` logs arrived, returning their messages and every item seen.
async fn logs(events: &mut EventStream, count: usize) -> (Vec<String>, Vec<ClientEvent>) {
    let mut messages = Vec::new();
    let mut seen = Vec::new();
    while messages.len() < count {
        let item = tokio::time::timeout(WAIT, events.next()).await;
        let item = item.expect("an item in time").expect("the stream goes on");
        let event = item.expect("no error");
        if let ClientEvent::Log { record, .. } = &event {
            messages.push(record.message.clone());
        }
        seen.push(event);
    }
    (messages, seen)
}

async fn wait_for_open(events: &mut EventStream) {
    loop {
        let item = tokio::time::timeout(WAIT, events.next()).await;
        let item = item.expect("an item in time").expect("the stream goes on");
        if let ClientEvent::Open { .. } = item.expect("no error") {
            return;
        }
    }
}

#[tokio::test]
async fn the_server_applies_the_subscriptions_filters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "127.0.0.1:0".parse().expect("address")).await;
    let events = json!([
        {"message": "api info", "service": "api", "level": "INFO"},
        {"message": "api disk full", "service": "api", "level": "ERROR"},
        {"message": "db disk slow", "service": "db", "level": "ERROR"},
        {"message": "api disk warning", "service": "api", "level": "WARN"},
    ]);
    send(&server, events).await;

    let subscription = Subscription::builder(format!("http://{}", server.local_addr()))
        .service("api")
        .level(Level::Warn)
        .query("DISK")
        .since("1h")
        .build()
        .expect("valid");
    let mut stream = subscription.stream();

    let (messages, _) = logs(&mut stream, 2).await;
    assert_eq!(messages, ["api disk full", "api disk warning"]);
}

#[tokio::test]
async fn a_server_restart_is_ridden_out_with_every_event_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "127.0.0.1:0".parse().expect("address")).await;
    let addr = server.local_addr();
    let subscription = Subscription::builder(format!("http://{addr}"))
        .build()
        .expect("valid");
    let mut stream = subscription.stream();
    wait_for_open(&mut stream).await;

    send(&server, numbered("m", 0..5)).await;
    let (before, seen) = logs(&mut stream, 5).await;
    let last_id = seen.iter().rev().find_map(|event| match event {
        ClientEvent::Log { id, .. } => Some(id.clone()),
        _ => None,
    });

    server.stop().await.expect("clean stop");
    let server = start(dir.path(), addr).await;
    send(&server, numbered("m", 5..10)).await;
    let (after, seen) = logs(&mut stream, 5).await;

    assert_eq!(before, ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(after, ["m5", "m6", "m7", "m8", "m9"]);
    let resumed = ClientEvent::Resumed {
        cursor: last_id.expect("a log id"),
    };
    assert!(seen.contains(&resumed), "{seen:?}");
    assert!(
        seen.iter()
            .any(|event| matches!(event, ClientEvent::Reconnecting { .. }))
    );
}
