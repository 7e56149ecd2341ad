//! One batch to the hub: `POST /v1/events` as NDJSON, retried until the hub answers.
//!
//! What an attempt can end in:
//! - **200 or 400 with a `/v1/events` answer**: acknowledged; the answer's `index`es are turned
//!   back into input line numbers.
//! - **413**: the batch is split in two and each half sent; a single record the hub finds too
//!   large is counted as rejected.
//! - **a network error, 408, 429 or 5xx**: retried after an exponential backoff
//!   ([`FIRST_BACKOFF`] doubling up to [`MAX_BACKOFF`]), or after `Retry-After` when the hub
//!   sends one. Retries go on until the hub answers or the run is interrupted.
//! - **anything else** (404, 415, an answer that is not `/v1/events`'s): an error that ends the
//!   run, as retrying cannot help.
//!
//! A retry is *ambiguous* when the failed attempt may have been stored: the connection broke
//! after the request could have reached the hub, the request timed out, or the hub (or a proxy)
//! failed with a 5xx other than 503. Accepted records of a batch retried after an ambiguous
//! failure are counted as possible duplicates.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Deserialize;

use super::batch::Batch;
use super::report::{Acknowledged, Console, Tally};

/// The first wait before a retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one request may take, durable commit included, before it is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a retrying run says so.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The hub's `/v1/events` endpoint and what each request carries.
#[derive(Debug)]
pub(super) struct Hub {
    client: reqwest::Client,
    /// `<server>/v1/events`.
    endpoint: reqwest::Url,
    /// The `traceparent` header, from `TRACEPARENT`.
    traceparent: Option<HeaderValue>,
    console: Arc<Console>,
    /// When a retry was last reported, to report at most every [`WARN_EVERY`].
    last_warning: Mutex<Option<Instant>>,
}

/// The hub's final word on a batch.
enum Reply {
    /// The `/v1/events` answer.
    Answered(Answer),
    /// A 413, with the hub's message.
    TooLarge(String),
}

/// How one attempt went, short of a fatal error.
enum Attempt {
    Replied(Reply),
    Retry {
        reason: String,
        ambiguous: bool,
        after: Option<Duration>,
    },
}

/// The `/v1/events` answer.
#[derive(Debug, Deserialize)]
struct Answer {
    accepted: u64,
    #[serde(default)]
    rejected: Vec<Rejection>,
    rejected_total: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Rejection {
    index: usize,
    error: String,
}

/// An error answer, `{"error": "..."}`.
#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: String,
}

impl Hub {
    /// A hub at `endpoint`; every request carries `traceparent` when given.
    pub(super) fn new(
        endpoint: reqwest::Url,
        traceparent: Option<&str>,
        console: Arc<Console>,
    ) -> anyhow::Result<Hub> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let traceparent = traceparent
            .map(HeaderValue::from_str)
            .transpose()
            .context("traceparent is not a valid header value")?;
        Ok(Hub {
            client,
            endpoint,
            traceparent,
            console,
            last_warning: Mutex::new(None),
        })
    }

    /// Delivers `batch` and counts the answers in `tally`; an error means the run must end.
    pub(super) async fn deliver(&self, batch: Batch, tally: &Tally) -> anyhow::Result<()> {
        let mut queue = VecDeque::from([batch]);
        while let Some(batch) = queue.pop_front() {
            let (reply, maybe_duplicated) = self.until_answered(&batch).await?;
            match reply {
                Reply::Answered(answer) => {
                    let acknowledged = translate(answer, &batch.lines, maybe_duplicated);
                    tally.acknowledge(batch.len() as u64, acknowledged);
                }
                Reply::TooLarge(_) if batch.len() > 1 => {
                    let (first, second) = batch.split();
                    queue.push_front(second);
                    queue.push_front(first);
                }
                Reply::TooLarge(error) => tally.reject_locally(batch.lines[0], error),
            }
        }
        Ok(())
    }

    /// Posts `batch` until the hub answers; tells whether an attempt may have stored it.
    async fn until_answered(&self, batch: &Batch) -> anyhow::Result<(Reply, bool)> {
        let mut backoff = FIRST_BACKOFF;
        let mut maybe_stored = false;
        loop {
            let (reason, ambiguous, after) = match self.attempt(batch.body.clone()).await? {
                Attempt::Retry {
                    reason,
                    ambiguous,
                    after,
                } => (reason, ambiguous, after),
                Attempt::Replied(reply) => return Ok((reply, maybe_stored)),
            };
            maybe_stored |= ambiguous;
            let delay = after.map_or(backoff, |after| after.min(MAX_RETRY_AFTER));
            self.warn(&reason, delay);
            tokio::time::sleep(delay).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One `POST`.
    async fn attempt(&self, body: Bytes) -> anyhow::Result<Attempt> {
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body);
        if let Some(traceparent) = &self.traceparent {
            request = request.header("traceparent", traceparent.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Ok(network_failure(&self.endpoint, error)),
        };
        let status = response.status();
        let after = retry_after(response.headers());
        let text = match response.bytes().await {
            Ok(text) => text,
            Err(error) => return Ok(network_failure(&self.endpoint, error)),
        };
        self.judge(status, &text, after)
    }

    /// What an answer means.
    fn judge(
        &self,
        status: StatusCode,
        text: &[u8],
        after: Option<Duration>,
    ) -> anyhow::Result<Attempt> {
        if status == StatusCode::OK || status == StatusCode::BAD_REQUEST {
            return match serde_json::from_slice::<Answer>(text) {
                Ok(answer) => Ok(Attempt::Replied(Reply::Answered(answer))),
                Err(_) => anyhow::bail!(
                    "{} answered {status} with something other than a /v1/events answer: {}",
                    self.endpoint,
                    error_text(text)
                ),
            };
        }
        let error = error_text(text);
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            let error = format!("the hub refused it as too large: {error}");
            return Ok(Attempt::Replied(Reply::TooLarge(error)));
        }
        let busy = status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::SERVICE_UNAVAILABLE
            || status == StatusCode::REQUEST_TIMEOUT;
        if busy || status.is_server_error() {
            return Ok(Attempt::Retry {
                reason: format!("the hub answered {status}: {error}"),
                ambiguous: !busy,
                after,
            });
        }
        anyhow::bail!("{} answered {status}: {error}", self.endpoint)
    }

    /// Reports a retry, at most every [`WARN_EVERY`].
    fn warn(&self, reason: &str, delay: Duration) {
        let mut last = self.last_warning.lock().expect("no panic while warning");
        if last.is_some_and(|last| last.elapsed() < WARN_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let delay = humantime::format_duration(delay);
        self.console
            .say(&format!("tracetail send: {reason}; retrying in {delay}"));
    }
}

/// A failed request: retried; ambiguous unless the connection never opened.
fn network_failure(endpoint: &reqwest::Url, error: reqwest::Error) -> Attempt {
    let ambiguous = !error.is_connect();
    let error = anyhow::Error::from(error.without_url());
    Attempt::Retry {
        reason: format!("cannot reach the hub at {endpoint}: {error:#}"),
        ambiguous,
        after: None,
    }
}

/// `Retry-After` in seconds; the HTTP-date form is ignored.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// The `error` of a JSON error answer, else the start of the body.
fn error_text(text: &[u8]) -> String {
    if let Ok(answer) = serde_json::from_slice::<ErrorAnswer>(text) {
        return answer.error;
    }
    let text = String::from_utf8_lossy(text);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(no body)".to_string(),
        None => text.to_string(),
    }
}

/// The answer with line numbers in place of indexes within the batch.
fn translate(answer: Answer, lines: &[u64], maybe_duplicated: bool) -> Acknowledged {
    let rejected = answer
        .rejected_total
        .unwrap_or(answer.rejected.len() as u64);
    let listed = answer
        .rejected
        .into_iter()
        .map(|rejection| {
            let line = lines.get(rejection.index).copied().unwrap_or_default();
            (line, rejection.error)
        })
        .collect();
    Acknowledged {
        accepted: answer.accepted,
        rejected,
        listed,
        maybe_duplicated,
    }
}
