//! What each kind of answer does to a stream, and what a stream sends, against a scripted
//! server on tokio's paused clock.

mod scripted_server;

use std::time::Duration;

use futures_util::StreamExt;
use scripted_server::{Script, ScriptedServer, events_until, log, next_event, opening};
use tracetail_client::{
    ClientError, ClientEvent, EventStream, GapReason, Level, Subscription, SubscriptionBuilder,
};

fn subscribe(
    server: &ScriptedServer,
    adjust: impl FnOnce(SubscriptionBuilder) -> SubscriptionBuilder,
) -> EventStream {
    let builder = Subscription::builder(&server.base);
    adjust(builder)
        .build()
        .expect("valid subscription")
        .stream()
}

/// The terminal error a stream ends with, after which it must yield `None`.
async fn terminal_error(events: &mut EventStream) -> ClientError {
    let error = loop {
        match events.next().await.expect("an error before the end") {
            Ok(event) => assert!(event.is_status(), "unexpected {event:?}"),
            Err(error) => break error,
        }
    };
    assert!(error.is_terminal(), "{error}");
    assert!(
        events.next().await.is_none(),
        "the stream ends after {error}"
    );
    error
}

#[tokio::test(start_paused = true)]
async fn unauthorized_forbidden_and_not_found_stop_with_an_error_naming_the_status() {
    for status in [401, 403, 404] {
        let body = format!("{{\"error\":\"status {status} because token expired\"}}");
        let server = ScriptedServer::start(vec![Script::status(status, &[], &body)]).await;
        let mut events = subscribe(&server, |builder| builder);

        let error = terminal_error(&mut events).await;
        tokio::time::sleep(Duration::from_secs(300)).await;

        let message = error.to_string();
        assert!(message.contains(&status.to_string()), "{message}");
        assert!(message.contains("token expired"), "{message}");
        assert_eq!(error.status().map(|status| status.as_u16()), Some(status));
        assert_eq!(server.requests().len(), 1, "{status} is not retried");
    }
}

#[tokio::test(start_paused = true)]
async fn a_bad_request_stops_the_stream_instead_of_repeating_it() {
    let body = r#"{"error":"invalid level parameter: unknown level \"loud\""}"#;
    let server = ScriptedServer::start(vec![Script::status(400, &[], body)]).await;
    let mut events = subscribe(&server, |builder| builder);

    let error = terminal_error(&mut events).await;

    assert!(error.to_string().contains("400"), "{error}");
    assert!(
        error.to_string().contains("invalid level parameter"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_that_is_not_an_event_stream_stops_with_an_error_naming_its_type() {
    let page = Script::status(
        200,
        &[("content-type", "text/html")],
        "<html>proxy login</html>",
    );
    let server = ScriptedServer::start(vec![page]).await;
    let mut events = subscribe(&server, |builder| builder);

    let error = terminal_error(&mut events).await;

    let message = error.to_string();
    assert!(
        matches!(error, ClientError::NotEventStream { .. }),
        "{message}"
    );
    assert!(
        message.contains("text/html") && message.contains("proxy login"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_content_ends_the_stream_cleanly() {
    let server = ScriptedServer::start(vec![Script::status(204, &[], "")]).await;
    let mut events = subscribe(&server, |builder| builder);

    assert!(events.next().await.is_none());
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_request_carries_filters_headers_and_the_initial_cursor() {
    let server = ScriptedServer::start(vec![]).await;
    let mut events = subscribe(&server, |builder| {
        builder
            .service("api")
            .service("db")
            .level(Level::Error)
            .query("timeout")
            .header("Authorization", "Bearer t0k3n")
            .last_event_id("c-9")
    });

    let first = next_event(&mut events).await;

    assert_eq!(
        first,
        ClientEvent::Resumed {
            cursor: "c-9".into()
        }
    );
    let request = &server.requests()[0];
    let target = "/v1/stream?service=api&service=db&level=ERROR&q=timeout";
    assert_eq!(request.target, target);
    assert_eq!(request.header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(request.header("last-event-id"), Some("c-9"));
    assert_eq!(request.header("accept"), Some("text/event-stream"));
}

#[tokio::test(start_paused = true)]
async fn a_cursor_that_cannot_be_a_header_is_sent_as_a_query_parameter() {
    let server = ScriptedServer::start(vec![]).await;
    let mut events = subscribe(&server, |builder| builder.last_event_id("a\u{7f}b"));

    next_event(&mut events).await;

    let request = &server.requests()[0];
    assert_eq!(request.target, "/v1/stream?lastEventId=a%7Fb");
    assert_eq!(request.header("last-event-id"), None);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_event_is_reported_and_the_stream_goes_on() {
    let big = log("b1", &"x".repeat(2_000));
    let body = opening(15_000) + &big + &log("b2", "small");
    let server = ScriptedServer::start(vec![Script::sse().send(&body).stall()]).await;
    let mut events = subscribe(&server, |builder| builder.event_size_limit(1_000));

    let mut skipped = None;
    while skipped.is_none() {
        if let Err(error) = events.next().await.expect("items") {
            skipped = Some(error);
        }
    }
    let after = next_event(&mut events).await;

    let error = skipped.expect("an error");
    assert!(!error.is_terminal());
    assert!(
        matches!(&error, ClientError::EventTooLarge(too_large) if too_large.last_event_id == "b1")
    );
    assert!(matches!(after, ClientEvent::Log { id, .. } if id == "b2"));
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_log_is_reported_and_the_stream_goes_on() {
    let broken = "id: u1\nevent: log\ndata: {\"message\": 42}\n\n";
    let body = opening(15_000) + broken + &log("u2", "fine");
    let server = ScriptedServer::start(vec![Script::sse().send(&body).stall()]).await;
    let mut events = subscribe(&server, |builder| builder);

    let mut items = Vec::new();
    for _ in 0..4 {
        items.push(events.next().await.expect("items"));
    }

    let error = items[2].as_ref().expect_err("the broken log");
    let message = error.to_string();
    assert!(!error.is_terminal());
    assert!(
        message.contains("\"log\"") && message.contains("u1"),
        "{message}"
    );
    assert!(matches!(&items[3], Ok(ClientEvent::Log { id, .. }) if id == "u2"));
}

#[tokio::test(start_paused = true)]
async fn every_event_type_is_decoded_and_unknown_ones_pass_through() {
    let body = format!(
        "{}{}event: gap\ndata: {{\"requested\":\"old\",\"resumed_from\":\"r5\",\
         \"reason\":\"evicted\"}}\n\nevent: heartbeat\ndata: {{\"ts\":1}}\n\n\
         id: s1\nevent: span\ndata: {{\"name\":\"GET /\"}}\n\nevent: mystery\ndata: ?\n\n",
        opening(15_000),
        log("l1", "hello"),
    );
    let server = ScriptedServer::start(vec![Script::sse().send(&body).stall()]).await;
    let mut events = subscribe(&server, |builder| builder);

    let seen = events_until(&mut events, |event| {
        matches!(event, ClientEvent::Other { .. })
    })
    .await;

    assert!(
        matches!(&seen[1], ClientEvent::Open { heartbeat_ms: 15_000, cursor, .. } if cursor == "c0")
    );
    let ClientEvent::Log { id, record, .. } = &seen[2] else {
        panic!("{seen:?}")
    };
    assert_eq!(
        (id.as_str(), record.level, record.message.as_str()),
        ("l1", Level::Info, "hello")
    );
    let gap = ClientEvent::Gap {
        requested: "old".into(),
        resumed_from: "r5".into(),
        reason: GapReason::Evicted,
    };
    assert_eq!(seen[3], gap);
    assert_eq!(seen[4], ClientEvent::Heartbeat);
    assert!(
        matches!(&seen[5], ClientEvent::Span { id, span } if id == "s1" && span["name"] == "GET /")
    );
    let other = ClientEvent::Other {
        event: "mystery".into(),
        data: "?".into(),
        id: "s1".into(),
    };
    assert_eq!(seen[6], other);
}

#[tokio::test(start_paused = true)]
async fn a_gap_moves_the_cursor_to_where_the_server_resumed() {
    let gap = "event: gap\ndata: \
        {\"requested\":\"x\",\"resumed_from\":\"r5\",\"reason\":\"unknown\"}\n\n";
    let first = Script::sse().send(&(opening(15_000) + gap)).cut();
    let server = ScriptedServer::start(vec![first]).await;
    let mut events = subscribe(&server, |builder| builder.last_event_id("x"));

    let seen = events_until(
        &mut events,
        |event| matches!(event, ClientEvent::Resumed { cursor } if cursor != "x"),
    )
    .await;

    assert_eq!(
        seen.last(),
        Some(&ClientEvent::Resumed {
            cursor: "r5".into()
        }),
        "{seen:?}"
    );
    let requests = server.requests();
    assert_eq!(requests[0].header("last-event-id"), Some("x"));
    assert_eq!(requests[1].header("last-event-id"), Some("r5"));
}
