//! [`ClientError`]: everything that can go wrong in a subscription, each carrying the input
//! that caused it.
//!
//! Errors are of two kinds. *Terminal* ones (a bad builder argument, an answer that retrying
//! cannot fix) end the stream: it yields the error and then `None`. The others concern one
//! event (too large, undecodable): the stream yields the error in the event's place and goes
//! on. [`ClientError::is_terminal`] tells them apart. Network trouble is neither: the stream
//! reconnects and says so with [`crate::ClientEvent::Reconnecting`].

use reqwest::StatusCode;

use crate::parser::EventTooLarge;

/// Why a subscription could not be built, or what went wrong while it ran.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL does not parse or is not `http`/`https`.
    #[error("invalid server url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header given to the builder is not a valid HTTP header.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("building the http client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// The server refused the stream with a status that retrying will not change (401, 403,
    /// 404, other 4xx, unfollowed 3xx). Terminal.
    #[error("server refused the stream: {status}: {body}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// The start of the answer's body, for the message a person reads.
        body: String,
    },
    /// The server answered with something other than `text/event-stream`, such as a proxy's
    /// HTML page. Terminal.
    #[error(
        "server answered {status} with content type {content_type:?}, not text/event-stream: {body}"
    )]
    NotEventStream {
        /// The status.
        status: StatusCode,
        /// The `Content-Type` header (empty when there was none).
        content_type: String,
        /// The start of the answer's body.
        body: String,
    },
    /// One event passed the size limit and was skipped. The stream goes on.
    #[error(transparent)]
    EventTooLarge(#[from] EventTooLarge),
    /// One event's data is not what its type promises. The stream goes on.
    #[error("event {event_type:?} with id {id:?} has invalid data ({source}): {data:?}")]
    Decode {
        /// The event type.
        event_type: String,
        /// The stream's last event ID at the event.
        id: String,
        /// The start of the data.
        data: String,
        /// What the JSON decoder said.
        source: serde_json::Error,
    },
}

impl ClientError {
    /// Whether the stream ends after this error.
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self,
            ClientError::EventTooLarge(_) | ClientError::Decode { .. }
        )
    }

    /// The HTTP status of an answer that stopped the stream, if that is what happened.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Refused { status, .. } | ClientError::NotEventStream { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}
