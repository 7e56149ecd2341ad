//! One connection: the request, what its answer means, and reading its body under the idle
//! watchdog.
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx (but 204) with `Content-Type: text/event-stream` | the stream |
//! | 2xx (but 204) with any other content type | stop: [`ClientError::NotEventStream`] |
//! | 204 No Content | end, cleanly: the server has nothing for this client |
//! | 408, 429, 5xx | retry; `Retry-After` (seconds or HTTP date) is a minimum delay |
//! | 401, 403, 404, any other status | stop: [`ClientError::Refused`] |
//! | no answer (refused, reset, DNS, no headers within the idle window) | retry |
//!
//! Stopping errors quote the start of the body, which is usually the server saying why.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use reqwest::Response;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use tokio::time::{Instant, timeout};

use crate::error::ClientError;
use crate::event::ReconnectReason;
use crate::parser::Parser;
use crate::subscription::Config;

/// The most body bytes quoted in an error.
const BODY_SNIPPET_BYTES: usize = 512;
/// How long reading that quote may take.
const BODY_SNIPPET_WAIT: Duration = Duration::from_secs(5);

/// What one request led to.
pub(crate) enum Opened {
    /// An event stream, ready to read.
    Stream(Connection),
    /// Nothing usable this time; try again, waiting at least `minimum` if given.
    Retry {
        reason: ReconnectReason,
        minimum: Option<Duration>,
    },
    /// An answer that retrying will not change.
    Stop(ClientError),
    /// 204: the stream ends without error.
    End,
}

/// An open event stream.
pub(crate) struct Connection {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    /// The parser of this connection's bytes, seeded with the cursor it resumed after.
    pub(crate) parser: Parser,
    /// When the answer arrived.
    pub(crate) opened_at: Instant,
}

/// Sends the request, resuming after `cursor` when it is not empty, and reads what the
/// answer means. Waits at most `patience` for the answer's headers.
pub(crate) async fn open(config: &Config, cursor: &str, patience: Duration) -> Opened {
    let response = match timeout(patience, request(config, cursor).send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            let reason = ReconnectReason::Network(describe(&error));
            return Opened::Retry {
                reason,
                minimum: None,
            };
        }
        Err(_) => {
            let reason = ReconnectReason::Network(format!("no answer within {patience:?}"));
            return Opened::Retry {
                reason,
                minimum: None,
            };
        }
    };
    let parser = Parser::new(config.event_size_limit).with_last_event_id(cursor);
    classify(response, parser).await
}

/// The request: the configured headers, `Accept`, and the cursor as `Last-Event-ID`.
fn request(config: &Config, cursor: &str) -> reqwest::RequestBuilder {
    let mut url = config.url.clone();
    let mut headers = config.headers.clone();
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if !cursor.is_empty() {
        match HeaderValue::from_str(cursor) {
            Ok(value) => {
                headers.insert("last-event-id", value);
            }
            // Not sendable as a header: the server also reads the cursor from the query.
            Err(_) => {
                url.query_pairs_mut().append_pair("lastEventId", cursor);
            }
        }
    }
    config.client.get(url).headers(headers)
}

/// Decides what an answer means, per the table in the module docs.
async fn classify(response: Response, parser: Parser) -> Opened {
    let status = response.status();
    match status.as_u16() {
        204 => Opened::End,
        200..=299 => {
            let content_type = header_text(&response, CONTENT_TYPE.as_str());
            let media_type = content_type.split(';').next().unwrap_or_default().trim();
            if media_type.eq_ignore_ascii_case("text/event-stream") {
                return Opened::Stream(Connection::new(response, parser));
            }
            let body = body_snippet(response).await;
            Opened::Stop(ClientError::NotEventStream {
                status,
                content_type,
                body,
            })
        }
        408 | 429 | 500..=599 => Opened::Retry {
            reason: ReconnectReason::Status(status.as_u16()),
            minimum: retry_after(&header_text(&response, RETRY_AFTER.as_str())),
        },
        _ => {
            let body = body_snippet(response).await;
            Opened::Stop(ClientError::Refused { status, body })
        }
    }
}

impl Connection {
    fn new(response: Response, parser: Parser) -> Connection {
        Connection {
            body: response.bytes_stream().boxed(),
            parser,
            opened_at: Instant::now(),
        }
    }

    /// Reads the next chunk into the parser. Returns why the connection is over, if it is:
    /// the body ended or failed, or nothing at all arrived within `idle`.
    pub(crate) async fn read(&mut self, idle: Duration) -> Option<ReconnectReason> {
        match timeout(idle, self.body.next()).await {
            Ok(Some(Ok(chunk))) => {
                self.parser.feed(&chunk);
                None
            }
            Ok(Some(Err(error))) => Some(ReconnectReason::Interrupted(describe(&error))),
            Ok(None) => Some(ReconnectReason::Ended),
            Err(_) => Some(ReconnectReason::Silent(idle)),
        }
    }
}

/// A header's value as text, empty when absent.
fn header_text(response: &Response, name: &str) -> String {
    let value = response.headers().get(name);
    value
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// `Retry-After` as a delay: whole seconds, or an HTTP date (a date in the past is no delay).
pub(crate) fn retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The start of a body, as text, for an error message.
async fn body_snippet(response: Response) -> String {
    let mut body = response.bytes_stream();
    let mut bytes = Vec::new();
    let read = async {
        while bytes.len() < BODY_SNIPPET_BYTES
            && let Some(Ok(chunk)) = body.next().await
        {
            bytes.extend_from_slice(&chunk);
        }
    };
    // A body that does not finish in time is quoted as far as it came.
    let _ = timeout(BODY_SNIPPET_WAIT, read).await;
    bytes.truncate(BODY_SNIPPET_BYTES);
    String::from_utf8_lossy(&bytes).trim().to_string()
}

/// An error with its chain of causes, which is where reqwest keeps the useful part.
fn describe(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(""), None);
        assert_eq!(retry_after("-1"), None);
        assert_eq!(retry_after("soon"), None);
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after(past), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        let delay = retry_after(&later).expect("a date");
        assert!(delay > Duration::from_secs(3500), "{delay:?}");
    }
}
