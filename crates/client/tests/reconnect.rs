//! Reconnecting against a scripted server, on tokio's paused clock: the cursor sent back,
//! the backoff delays, the watchdog, and the absence of tight loops.
//!
//! The paused clock and real loopback sockets get along because the clock only jumps when
//! every task waits: a byte written on loopback is readable at once, so the runtime wakes the
//! reader instead of jumping, and only true silence (a stalled server, a backoff sleep) lets
//! virtual time pass. Delays are checked twice: as announced in `Reconnecting`, and as the
//! virtual time between the requests the server saw.

mod scripted_server;

use std::time::Duration;

use futures_util::StreamExt;
use scripted_server::{Script, ScriptedServer, delays, events_until, log, next_event, opening};
use tracetail_client::{
    BackoffPolicy, ClientEvent, EventStream, Jitter, ReconnectReason, Subscription,
    SubscriptionBuilder,
};

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

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

/// Delays exactly at their ceilings, so tests can state them.
fn no_jitter(builder: SubscriptionBuilder) -> SubscriptionBuilder {
    builder.backoff(BackoffPolicy {
        jitter: Jitter::None,
        ..BackoffPolicy::default()
    })
}

fn is_log(id: &'static str) -> impl Fn(&ClientEvent) -> bool {
    move |event| matches!(event, ClientEvent::Log { id: got, .. } if got == id)
}

/// The virtual time between consecutive requests.
fn gaps_between_requests(server: &ScriptedServer) -> Vec<Duration> {
    let requests = server.requests();
    let times: Vec<_> = requests.iter().map(|request| request.at).collect();
    times.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn reconnect_resumes_after_the_last_complete_event_not_a_half_one() {
    let first = Script::sse()
        .send(&format!(
            "retry: 1000\n\n{}{}",
            opening(15_000),
            log("a1", "one")
        ))
        .send(&log("a2", "two"))
        .send("id: a3\nevent: log\ndata: {\"id\":\"a3\"")
        .cut();
    let second = Script::sse()
        .send(&(opening(15_000) + &log("a4", "four")))
        .stall();
    let server = ScriptedServer::start(vec![first, second]).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, is_log("a4")).await;

    let logs: Vec<&str> = seen
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Log { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(logs, ["a1", "a2", "a4"]);
    assert!(
        seen.contains(&ClientEvent::Resumed {
            cursor: "a2".into()
        }),
        "{seen:?}"
    );
    let requests = server.requests();
    assert_eq!(requests[0].header("last-event-id"), None);
    assert_eq!(requests[1].header("last-event-id"), Some("a2"));
    assert!(
        matches!(
            &seen[4],
            ClientEvent::Reconnecting {
                reason: ReconnectReason::Interrupted(_),
                ..
            }
        ),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_double_from_one_second_and_stop_at_thirty() {
    let failures = vec![Script::hang_up(); 8];
    let server = ScriptedServer::start(failures).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, |event| *event == ClientEvent::Connected).await;

    let expected: Vec<Duration> = [1, 2, 4, 8, 16, 30, 30, 30].map(secs).to_vec();
    assert_eq!(delays(&seen), expected);
    for (gap, delay) in gaps_between_requests(&server).into_iter().zip(expected) {
        assert!(
            gap >= delay && gap < delay + Duration::from_millis(50),
            "{gap:?}"
        );
    }
    let attempts: Vec<u32> = seen
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Reconnecting {
                attempt,
                reason: ReconnectReason::Network(_),
                ..
            } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, (1..=8).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn full_jitter_draws_each_delay_between_zero_and_its_ceiling() {
    let failures = vec![Script::status(503, &[], "busy"); 6];
    let server = ScriptedServer::start(failures).await;
    let mut events = subscribe(&server, |builder| {
        builder.backoff(BackoffPolicy {
            jitter: Jitter::Seeded(3),
            ..BackoffPolicy::default()
        })
    });

    let seen = events_until(&mut events, |event| *event == ClientEvent::Connected).await;

    let drawn = delays(&seen);
    let ceilings = [1, 2, 4, 8, 16, 30].map(secs);
    assert_eq!(drawn.len(), ceilings.len());
    for (delay, ceiling) in drawn.iter().zip(ceilings) {
        assert!(*delay <= ceiling, "{delay:?} over {ceiling:?}");
    }
    assert_ne!(
        drawn, ceilings,
        "full jitter does not wait the ceiling every time"
    );
    for (gap, delay) in gaps_between_requests(&server).into_iter().zip(drawn) {
        assert!(
            gap >= delay && gap < delay + Duration::from_millis(50),
            "{gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_and_503_is_a_minimum_delay() {
    let scripts = vec![
        Script::status(429, &[("retry-after", "7")], "slow down"),
        Script::status(503, &[("retry-after", "2")], "restarting"),
        Script::status(503, &[("retry-after", "1")], "restarting"),
    ];
    let server = ScriptedServer::start(scripts).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, |event| *event == ClientEvent::Connected).await;

    // Ceilings 1, 2, 4 s, raised to 7 and kept at 2; a minimum below the ceiling changes nothing.
    assert_eq!(delays(&seen), [secs(7), secs(2), secs(4)]);
    let reasons: Vec<_> = seen
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Reconnecting { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    let statuses = [429, 503, 503].map(ReconnectReason::Status);
    assert_eq!(reasons, statuses);
    assert!(gaps_between_requests(&server)[0] >= secs(7));
}

#[tokio::test(start_paused = true)]
async fn the_servers_retry_field_is_a_minimum_delay_kept_across_connections() {
    let first = Script::sse()
        .send(&format!("retry: 5000\n\n{}", opening(15_000)))
        .end();
    let server = ScriptedServer::start(vec![first, Script::hang_up()]).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, |event| {
        matches!(event, ClientEvent::Reconnecting { attempt: 2, .. })
    })
    .await;

    assert_eq!(delays(&seen), [secs(5), secs(5)]);
    assert!(seen.contains(&ClientEvent::Reconnecting {
        attempt: 1,
        delay: secs(5),
        reason: ReconnectReason::Ended,
    }));
}

#[tokio::test(start_paused = true)]
async fn backoff_starts_over_after_a_connection_that_delivered_an_event() {
    let delivered = Script::sse()
        .send(&(opening(15_000) + &log("d1", "hello")))
        .end();
    let busy = || Script::status(503, &[], "");
    let scripts = vec![busy(), busy(), delivered, busy()];
    let server = ScriptedServer::start(scripts).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, |event| {
        matches!(event, ClientEvent::Resumed { .. })
    })
    .await;

    // 1, 2; then the connection delivered `d1`: 1 (it ended), 2 (the 503 after it).
    assert_eq!(delays(&seen), [secs(1), secs(2), secs(1), secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn backoff_starts_over_only_after_a_connection_that_lasted_ten_seconds() {
    let short = Script::sse().send(&opening(15_000)).pause(secs(5)).end();
    let long = Script::sse().send(&opening(15_000)).pause(secs(11)).end();
    let scripts = vec![Script::hang_up(), short, long, Script::hang_up()];
    let server = ScriptedServer::start(scripts).await;
    let mut events = subscribe(&server, no_jitter);

    connections_within(&server, &mut events, secs(60)).await;

    // hang-up: 1; 5 s connection: 2 (no reset); 11 s connection: reset, 1; hang-up: 2.
    let gaps = gaps_between_requests(&server);
    let expected = [secs(1), secs(5) + secs(2), secs(11) + secs(1), secs(2)];
    for (gap, expected) in gaps.iter().zip(expected) {
        assert!(
            *gap >= expected && *gap < expected + Duration::from_millis(50),
            "{gaps:?}"
        );
    }
}

/// Reads the stream for `window` of virtual time, failing if the server sees a tight loop.
async fn connections_within(server: &ScriptedServer, events: &mut EventStream, window: Duration) {
    let deadline = tokio::time::Instant::now() + window;
    while tokio::time::Instant::now() < deadline {
        assert!(server.requests().len() < 200, "tight reconnect loop");
        let item = tokio::time::timeout_at(deadline, events.next()).await;
        let Ok(item) = item else { break };
        assert!(item.expect("the stream goes on").is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_that_answers_and_closes_at_once_is_not_hammered() {
    let server = ScriptedServer::with_fallback(vec![], Script::sse().end()).await;
    let mut events = subscribe(&server, |builder| {
        builder.backoff(BackoffPolicy {
            jitter: Jitter::Seeded(11),
            ..BackoffPolicy::default()
        })
    });

    connections_within(&server, &mut events, secs(300)).await;

    // Ceilings 1+2+4+8+16 s, then 30 s each: about 25 attempts in 5 minutes on average.
    let count = server.requests().len();
    assert!(
        (5..=45).contains(&count),
        "{count} connections in 5 minutes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_sends_open_and_closes_is_not_hammered_either() {
    let fallback = Script::sse().send(&opening(15_000)).end();
    let server = ScriptedServer::with_fallback(vec![], fallback).await;
    let mut events = subscribe(&server, no_jitter);

    connections_within(&server, &mut events, secs(300)).await;

    // Without jitter: 1+2+4+8+16 = 31 s, then one every 30 s.
    let count = server.requests().len();
    assert!(
        (10..=16).contains(&count),
        "{count} connections in 5 minutes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_stream_is_reconnected_by_the_watchdog() {
    let first = Script::sse()
        .send(&(opening(1_000) + &log("s1", "before")))
        .stall();
    let second = Script::sse()
        .send(&(opening(1_000) + &log("s2", "after")))
        .stall();
    let server = ScriptedServer::start(vec![first, second]).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, is_log("s2")).await;

    assert!(seen.contains(&ClientEvent::Reconnecting {
        attempt: 1,
        delay: secs(1),
        reason: ReconnectReason::Silent(secs(3)),
    }));
    let requests = server.requests();
    assert_eq!(requests[1].header("last-event-id"), Some("s1"));
    // Three heartbeat intervals of silence, then the one-second delay.
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= secs(4) && gap < secs(4) + Duration::from_millis(50),
        "{gap:?}"
    );
    assert_eq!(
        server.closed_by_client(),
        1,
        "the silent connection was closed"
    );
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_a_quiet_stream_open() {
    let heartbeat = "event: heartbeat\ndata: {\"ts\":1}\n\n";
    let mut script = Script::sse().send(&opening(1_000));
    for _ in 0..5 {
        script = script.pause(Duration::from_millis(2_500)).send(heartbeat);
    }
    let script = script.send(&log("q1", "late")).stall();
    let server = ScriptedServer::start(vec![script]).await;
    let mut events = subscribe(&server, no_jitter);

    let seen = events_until(&mut events, is_log("q1")).await;

    assert_eq!(delays(&seen), [], "no reconnect: {seen:?}");
    let heartbeats = seen
        .iter()
        .filter(|event| **event == ClientEvent::Heartbeat);
    assert_eq!(heartbeats.count(), 5);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_a_pending_reconnect() {
    let server =
        ScriptedServer::start(vec![Script::status(503, &[("retry-after", "60")], "")]).await;
    let mut events = subscribe(&server, no_jitter);

    let first = next_event(&mut events).await;
    assert!(
        matches!(first, ClientEvent::Reconnecting { .. }),
        "{first:?}"
    );
    drop(events);
    tokio::time::sleep(secs(600)).await;

    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_closes_its_connection() {
    let server = ScriptedServer::start(vec![Script::sse().send(&opening(15_000)).stall()]).await;
    let mut events = subscribe(&server, no_jitter);

    events_until(&mut events, |event| {
        matches!(event, ClientEvent::Open { .. })
    })
    .await;
    drop(events);
    tokio::time::sleep(secs(1)).await;

    assert_eq!(server.closed_by_client(), 1);
    assert_eq!(server.requests().len(), 1);
}
