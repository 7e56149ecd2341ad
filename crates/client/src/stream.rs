//! [`EventStream`]: the reconnect loop behind [`crate::Subscription::stream`].
//!
//! The loop is a plain state machine — wait, connect, read — run inside the stream's own
//! future. It spawns no task: everything it holds (the connection, a pending reconnect timer)
//! lives in the stream, so dropping the stream closes the connection and cancels the timer.
//!
//! **The resume cursor** is the parser's committed last event ID (see [`crate::parser`]): the
//! `id:` of the last complete event block. A reconnect sends it as `Last-Event-ID`, so the
//! server resumes exactly after it. One exception: a `gap` moves the cursor to its
//! `resumed_from` when no later event has moved it since, so that a reconnect right after a
//! gap does not make the server announce the same gap again.
//!
//! **The idle watchdog** gives a connection three heartbeat intervals (15 s each until the
//! `open` event states the server's own) to deliver a byte, any byte, and otherwise
//! reconnects. The same window bounds the wait for an answer's headers.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{BoxStream, FusedStream};
use futures_util::{Stream, StreamExt};
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::connection::{self, Connection, Opened};
use crate::error::ClientError;
use crate::event::{ClientEvent, ReconnectReason, decode};
use crate::parser::SseEvent;
use crate::subscription::Config;

/// Heartbeat intervals of silence after which the watchdog reconnects.
const WATCHDOG_HEARTBEATS: u32 = 3;

/// A live subscription: an endless stream of [`ClientEvent`]s that reconnects by itself.
///
/// It ends (yields `None`) only after a terminal [`ClientError`] or when the server answers
/// 204 No Content. Dropping it closes the connection and cancels any pending reconnect.
pub struct EventStream {
    inner: futures_util::stream::Fuse<BoxStream<'static, Result<ClientEvent, ClientError>>>,
}

impl EventStream {
    pub(crate) fn new(config: Arc<Config>) -> EventStream {
        let span = tracing::debug_span!("subscription", url = %config.url);
        let driver = Driver::new(config);
        let items = futures_util::stream::unfold(driver, move |mut driver| {
            let span = span.clone();
            async move {
                let item = driver.next_item().await?;
                Some((item, driver))
            }
            .instrument(span)
        });
        EventStream {
            inner: items.boxed().fuse(),
        }
    }
}

impl Stream for EventStream {
    type Item = Result<ClientEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl FusedStream for EventStream {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

/// What the loop does next.
enum State {
    /// Wait this long, then connect.
    Connect { after: Duration },
    /// Read the open connection.
    Streaming(Box<Connection>),
    /// The stream has ended.
    Done,
}

/// The reconnect loop's state.
struct Driver {
    config: Arc<Config>,
    state: State,
    /// Items ready to yield, in order.
    ready: VecDeque<Result<ClientEvent, ClientError>>,
    /// Where to resume: the last event ID of the last complete event block.
    cursor: String,
    backoff: Backoff,
    /// The server's `retry:`, a minimum delay kept across connections.
    server_retry: Option<Duration>,
    /// The heartbeat interval: the configured one until `open` states the server's.
    heartbeat: Duration,
    /// The current connection delivered an event other than `open` and `heartbeat`.
    delivered: bool,
}

impl Driver {
    fn new(config: Arc<Config>) -> Driver {
        Driver {
            state: State::Connect {
                after: Duration::ZERO,
            },
            ready: VecDeque::new(),
            cursor: config.last_event_id.clone(),
            backoff: Backoff::new(config.backoff.clone()),
            server_retry: None,
            heartbeat: config.heartbeat,
            delivered: false,
            config,
        }
    }

    /// The next item, or `None` once the stream has ended.
    async fn next_item(&mut self) -> Option<Result<ClientEvent, ClientError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            self.state = match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return None,
                State::Connect { after } => {
                    if !after.is_zero() {
                        tokio::time::sleep(after).await;
                    }
                    self.connect().await
                }
                State::Streaming(connection) => self.read(connection).await,
            };
        }
    }

    /// One request, and what follows from its answer.
    async fn connect(&mut self) -> State {
        let patience = self.watchdog();
        match connection::open(&self.config, &self.cursor, patience).await {
            Opened::Stream(connection) => {
                tracing::debug!(cursor = %self.cursor, "connected");
                self.delivered = false;
                let note = if self.cursor.is_empty() {
                    ClientEvent::Connected
                } else {
                    let cursor = self.cursor.clone();
                    ClientEvent::Resumed { cursor }
                };
                self.ready.push_back(Ok(note));
                State::Streaming(Box::new(connection))
            }
            Opened::Retry { reason, minimum } => self.schedule(reason, minimum),
            Opened::Stop(error) => {
                tracing::debug!(%error, "stream stopped");
                self.ready.push_back(Err(error));
                State::Done
            }
            Opened::End => {
                tracing::debug!("server has no stream for this client (204)");
                State::Done
            }
        }
    }

    /// Reads one chunk; when the connection is over, schedules the next one.
    async fn read(&mut self, mut connection: Box<Connection>) -> State {
        let ended = connection.read(self.watchdog()).await;
        if let Some(reason) = &ended
            && connection.parser.finish()
        {
            tracing::debug!(%reason, "half an event discarded at the end of the stream");
        }
        self.take_events(&mut connection);

        let Some(reason) = ended else {
            return State::Streaming(connection);
        };
        let lasted = connection.opened_at.elapsed();
        self.backoff.connection_ended(lasted, self.delivered);
        self.schedule(reason, None)
    }

    /// Moves what the parser found to the ready queue, and follows the cursor, `retry:` and
    /// the heartbeat interval.
    fn take_events(&mut self, connection: &mut Connection) {
        while let Some(parsed) = connection.parser.next_event() {
            let event_type = match &parsed {
                Ok(event) => event.event_type.as_str(),
                Err(too_large) => too_large.event_type.as_str(),
            };
            if !matches!(event_type, "open" | "heartbeat") {
                self.delivered = true;
            }
            let item = match parsed {
                Ok(event) => self.decode(event, connection),
                Err(too_large) => Err(ClientError::EventTooLarge(too_large)),
            };
            self.ready.push_back(item);
        }
        connection
            .parser
            .last_event_id()
            .clone_into(&mut self.cursor);
        if let Some(retry) = connection.parser.reconnection_time() {
            self.server_retry = Some(retry);
        }
    }

    /// Decodes one event, and learns from `open` and `gap`.
    fn decode(
        &mut self,
        event: SseEvent,
        connection: &mut Connection,
    ) -> Result<ClientEvent, ClientError> {
        let dispatched_at = event.last_event_id.clone();
        let decoded = decode(event)?;
        match &decoded {
            ClientEvent::Open { heartbeat_ms, .. } if *heartbeat_ms > 0 => {
                self.heartbeat = Duration::from_millis(*heartbeat_ms);
            }
            // Only if no later event has committed an id of its own since.
            ClientEvent::Gap { resumed_from, .. }
                if !resumed_from.is_empty()
                    && connection.parser.last_event_id() == dispatched_at =>
            {
                connection.parser.set_last_event_id(resumed_from);
            }
            _ => {}
        }
        Ok(decoded)
    }

    /// Announces and schedules the next attempt.
    fn schedule(&mut self, reason: ReconnectReason, minimum: Option<Duration>) -> State {
        let minimum = minimum.max(self.server_retry);
        let (attempt, delay) = self.backoff.next_delay(minimum);
        tracing::debug!(attempt, ?delay, %reason, cursor = %self.cursor, "reconnecting");
        self.ready.push_back(Ok(ClientEvent::Reconnecting {
            attempt,
            delay,
            reason,
        }));
        State::Connect { after: delay }
    }

    /// How long a connection may stay silent.
    fn watchdog(&self) -> Duration {
        self.heartbeat.saturating_mul(WATCHDOG_HEARTBEATS)
    }
}
