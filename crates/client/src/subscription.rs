//! [`Subscription`]: what to stream from which server, checked once by
//! [`SubscriptionBuilder::build`] and then opened as often as needed with
//! [`Subscription::stream`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracetail_model::{Level, TraceId};

use crate::backoff::BackoffPolicy;
use crate::error::ClientError;
use crate::parser::DEFAULT_EVENT_SIZE_LIMIT;
use crate::stream::EventStream;

/// The heartbeat interval assumed until `event: open` says otherwise: the server's default.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// A checked subscription: the stream URL with its filters, the headers, and the policies.
/// Cheap to clone; each [`Subscription::stream`] is an independent stream.
#[derive(Debug, Clone)]
pub struct Subscription {
    config: Arc<Config>,
}

/// Everything a running stream needs, shared by its connections.
#[derive(Debug)]
pub(crate) struct Config {
    /// `…/v1/stream` with the filter parameters.
    pub(crate) url: Url,
    /// Headers sent on every request (`Authorization`, say).
    pub(crate) headers: HeaderMap,
    pub(crate) client: reqwest::Client,
    pub(crate) event_size_limit: usize,
    pub(crate) backoff: BackoffPolicy,
    /// The cursor to resume after on the first connection; empty for none.
    pub(crate) last_event_id: String,
    pub(crate) heartbeat: Duration,
}

impl Subscription {
    /// Starts describing a subscription to the server at `server_url`, such as
    /// `http://127.0.0.1:4318` (the stream is at `/v1/stream` below it).
    pub fn builder(server_url: impl Into<String>) -> SubscriptionBuilder {
        SubscriptionBuilder {
            server_url: server_url.into(),
            services: Vec::new(),
            level: None,
            trace_id: None,
            query: None,
            since: None,
            last_event_id: None,
            headers: Vec::new(),
            event_size_limit: DEFAULT_EVENT_SIZE_LIMIT,
            backoff: BackoffPolicy::default(),
            heartbeat: DEFAULT_HEARTBEAT,
            client: None,
        }
    }

    /// The stream URL, filters included.
    pub fn url(&self) -> &Url {
        &self.config.url
    }

    /// Opens the stream. Nothing happens until it is polled; dropping it closes the
    /// connection and cancels any pending reconnect.
    pub fn stream(&self) -> EventStream {
        EventStream::new(self.config.clone())
    }
}

/// Builds a [`Subscription`]. Every setter has a default; only the server URL is required.
#[derive(Debug)]
#[must_use]
pub struct SubscriptionBuilder {
    server_url: String,
    services: Vec<String>,
    level: Option<Level>,
    trace_id: Option<TraceId>,
    query: Option<String>,
    since: Option<String>,
    last_event_id: Option<String>,
    headers: Vec<(String, String)>,
    event_size_limit: usize,
    backoff: BackoffPolicy,
    heartbeat: Duration,
    client: Option<reqwest::Client>,
}

impl SubscriptionBuilder {
    /// Adds a service to accept; call once per service. Default: every service.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.services.push(service.into());
        self
    }

    /// Accepts only this level and more severe ones. Default: every level.
    pub fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    /// Follows one trace: its stored logs and spans first, then live. Default: none.
    pub fn trace_id(mut self, trace_id: TraceId) -> Self {
        self.trace_id = Some(trace_id);
        self
    }

    /// Accepts only messages containing `text`, in any case (the `q` parameter). Default: none.
    pub fn query(mut self, text: impl Into<String>) -> Self {
        self.query = Some(text.into());
        self
    }

    /// Replays from a point in time when there is no cursor yet: a duration back from now
    /// (`5m`), an RFC 3339 time, or Unix milliseconds, checked by the server. Default: live
    /// only.
    pub fn since(mut self, since: impl Into<String>) -> Self {
        self.since = Some(since.into());
        self
    }

    /// Resumes after this cursor (exclusive) on the first connection, as a saved
    /// `Last-Event-ID`. Default: none.
    pub fn last_event_id(mut self, cursor: impl Into<String>) -> Self {
        self.last_event_id = Some(cursor.into());
        self
    }

    /// Sends a header on every request, such as `Authorization: Bearer …`. Default: none.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The most data one event may carry, in bytes; larger events are skipped with
    /// [`ClientError::EventTooLarge`]. Default 16 MiB.
    pub fn event_size_limit(mut self, bytes: usize) -> Self {
        self.event_size_limit = bytes;
        self
    }

    /// The reconnect policy. Default: [`BackoffPolicy::default`].
    pub fn backoff(mut self, policy: BackoffPolicy) -> Self {
        self.backoff = policy;
        self
    }

    /// The heartbeat interval assumed until the server's `open` event states its own; the
    /// idle watchdog reconnects after three intervals without a byte. Default 15 s.
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// The HTTP client to use, for proxies or TLS settings. Default: a plain client.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the URL and headers and makes the subscription.
    pub fn build(self) -> Result<Subscription, ClientError> {
        let url = self.stream_url()?;
        let headers = header_map(&self.headers)?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .build()
                .map_err(ClientError::HttpClient)?,
        };
        let config = Config {
            url,
            headers,
            client,
            event_size_limit: self.event_size_limit,
            backoff: self.backoff,
            last_event_id: self.last_event_id.unwrap_or_default(),
            heartbeat: self.heartbeat,
        };
        Ok(Subscription {
            config: Arc::new(config),
        })
    }

    /// `{server_url}/v1/stream?service=…&level=…&trace_id=…&q=…&since=…`.
    fn stream_url(&self) -> Result<Url, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: self.server_url.clone(),
            reason,
        };
        let mut base = Url::parse(&self.server_url).map_err(|error| invalid(error.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme {:?} is not http or https",
                base.scheme()
            )));
        }
        // A base path is a directory: `http://host/tracetail` streams `/tracetail/v1/stream`.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut url = base
            .join("v1/stream")
            .map_err(|error| invalid(error.to_string()))?;
        self.append_filters(&mut url);
        Ok(url)
    }

    /// The filter parameters, in a fixed order; no query at all when there are none.
    fn append_filters(&self, url: &mut Url) {
        let mut pairs = url.query_pairs_mut();
        pairs.clear();
        for service in &self.services {
            pairs.append_pair("service", service);
        }
        if let Some(level) = self.level {
            pairs.append_pair("level", level.as_str());
        }
        if let Some(trace_id) = self.trace_id {
            pairs.append_pair("trace_id", &trace_id.to_hex());
        }
        let text_params = [("q", &self.query), ("since", &self.since)];
        for (name, value) in text_params {
            if let Some(value) = value {
                pairs.append_pair(name, value);
            }
        }
        drop(pairs);
        if url.query() == Some("") {
            url.set_query(None);
        }
    }
}

/// Checks the builder's headers.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, ClientError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let invalid = |reason: String| ClientError::InvalidHeader {
            name: name.clone(),
            reason,
        };
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|error| invalid(error.to_string()))?;
        let header_value =
            HeaderValue::from_str(value).map_err(|error| invalid(error.to_string()))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_query_parameters_with_services_repeated() {
        let trace_id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().expect("id");
        let subscription = Subscription::builder("http://127.0.0.1:4318")
            .service("checkout")
            .service("cart api")
            .level(Level::Warn)
            .trace_id(trace_id)
            .query("timed out")
            .since("5m")
            .build()
            .expect("valid");
        assert_eq!(
            subscription.url().as_str(),
            "http://127.0.0.1:4318/v1/stream?service=checkout&service=cart+api&level=WARN\
             &trace_id=4bf92f3577b34da6a3ce929d0e0e4736&q=timed+out&since=5m"
        );
    }

    #[test]
    fn a_base_path_is_kept_and_no_filters_means_no_query() {
        let url = |base: &str| {
            let subscription = Subscription::builder(base).build().expect("valid");
            subscription.url().to_string()
        };
        assert_eq!(url("http://h:1"), "http://h:1/v1/stream");
        assert_eq!(url("http://h:1/logs"), "http://h:1/logs/v1/stream");
        assert_eq!(url("http://h:1/logs/"), "http://h:1/logs/v1/stream");
    }

    #[test]
    fn bad_urls_and_headers_are_refused_with_the_input() {
        let error = Subscription::builder("ftp://h")
            .build()
            .expect_err("scheme");
        assert!(error.to_string().contains("ftp://h"), "{error}");
        let error = Subscription::builder("not a url").build().expect_err("url");
        assert!(matches!(error, ClientError::InvalidUrl { .. }), "{error}");
        let error = Subscription::builder("http://h")
            .header("bad name", "x")
            .build()
            .expect_err("header");
        assert!(error.to_string().contains("bad name"), "{error}");
    }
}
