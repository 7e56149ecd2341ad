//! Which hub a run drives, and where it publishes and subscribes.
//!
//! The generator measures tracetail and, for comparison, nginx with the Nchan module. They
//! differ only in URLs and in what a publish body looks like, so everything else in the crate
//! works with a [`Target`] and asks it. Every address must be on this machine: a load
//! generator pointed elsewhere by a typo would be a denial-of-service tool.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result, bail};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::wire::http1;

/// The hub under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// tracetail at `base_url` (`POST /v1/events`, `POST /v1/logs`, `GET /v1/stream`).
    Tracetail {
        /// Scheme, host and port, e.g. `http://127.0.0.1:4318`.
        base_url: Url,
        /// Query string for `/v1/stream`, e.g. `service=tracetail-bench`; empty for none.
        stream_query: String,
    },
    /// nginx + Nchan: publish with `POST pub_url`, subscribe with an EventSource on `sub_url`.
    Nchan {
        /// E.g. `http://127.0.0.1:8080/pub?id=bench`.
        pub_url: Url,
        /// E.g. `http://127.0.0.1:8080/sub/bench`.
        sub_url: Url,
    },
}

/// Where and how a subscriber connects; what worker processes are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamEndpoint {
    /// The resolved server address.
    pub(crate) addr: SocketAddr,
    /// The `Host` header value.
    pub(crate) host: String,
    /// Path and query of the `GET`.
    pub(crate) path: String,
    /// Whether a subscriber counts as connected only at the stream's first event (tracetail's
    /// `open`, sent once the subscription is live) rather than at the response head.
    pub(crate) ready_on_first_event: bool,
    /// The `Last-Event-ID` to resume after, for a reconnecting subscriber.
    #[serde(default)]
    pub(crate) last_event_id: Option<String>,
}

impl Target {
    /// Builds a target from the command-line URLs: Nchan when both Nchan URLs are given.
    pub(crate) fn from_urls(
        url: &str,
        stream_query: &str,
        nchan_pub: Option<&str>,
        nchan_sub: Option<&str>,
    ) -> Result<Self> {
        match (nchan_pub, nchan_sub) {
            (Some(pub_url), Some(sub_url)) => Ok(Target::Nchan {
                pub_url: parse_url(pub_url)?,
                sub_url: parse_url(sub_url)?,
            }),
            (None, None) => Ok(Target::Tracetail {
                base_url: parse_url(url)?,
                stream_query: stream_query.trim_start_matches('?').to_owned(),
            }),
            _ => bail!("--nchan-pub and --nchan-sub go together: give both or neither"),
        }
    }

    /// A short name for reports.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Target::Tracetail { .. } => "tracetail",
            Target::Nchan { .. } => "nchan",
        }
    }

    /// The URL that accepts published events.
    pub(crate) fn publish_url(&self, otlp: bool) -> Url {
        match self {
            Target::Tracetail { base_url, .. } if otlp => join(base_url, "/v1/logs"),
            Target::Tracetail { base_url, .. } => join(base_url, "/v1/events"),
            Target::Nchan { pub_url, .. } => pub_url.clone(),
        }
    }

    /// The stream URL subscribers open.
    pub(crate) fn stream_url(&self) -> Url {
        match self {
            Target::Tracetail {
                base_url,
                stream_query,
            } => {
                let mut url = join(base_url, "/v1/stream");
                url.set_query((!stream_query.is_empty()).then_some(stream_query.as_str()));
                url
            }
            Target::Nchan { sub_url, .. } => sub_url.clone(),
        }
    }

    /// Resolves the stream URL into what a raw-socket subscriber needs.
    pub(crate) async fn stream_endpoint(&self) -> Result<StreamEndpoint> {
        let url = self.stream_url();
        let addr = resolve_loopback(&url).await?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let ready_on_first_event = matches!(self, Target::Tracetail { .. });
        Ok(StreamEndpoint {
            addr,
            host,
            path,
            ready_on_first_event,
            last_event_id: None,
        })
    }
}

impl StreamEndpoint {
    /// The request bytes every subscriber sends.
    pub(crate) fn request(&self) -> Vec<u8> {
        http1::stream_request(&self.host, &self.path, self.last_event_id.as_deref())
    }
}

/// Checks that `url` is plain HTTP to a loopback address and returns the resolved address.
pub(crate) async fn resolve_loopback(url: &Url) -> Result<SocketAddr> {
    let host = url
        .host_str()
        .with_context(|| format!("{url} has no host"))?;
    let port = url
        .port_or_known_default()
        .with_context(|| format!("{url} has no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving {host}"))?
        .collect();
    let Some(addr) = addrs.iter().copied().find(|addr| is_loopback(addr.ip())) else {
        bail!("{url} is not on this machine: the generator only loads loopback addresses");
    };
    Ok(addr)
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn parse_url(text: &str) -> Result<Url> {
    let url = Url::parse(text).with_context(|| format!("parsing URL {text:?}"))?;
    if url.scheme() != "http" {
        bail!("{text}: only http:// URLs are supported (no TLS on loopback)");
    }
    Ok(url)
}

fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracetail_urls_are_built_from_the_base() {
        let target =
            Target::from_urls("http://127.0.0.1:4318/", "?service=a", None, None).expect("valid");
        assert_eq!(
            target.publish_url(false).as_str(),
            "http://127.0.0.1:4318/v1/events"
        );
        assert_eq!(
            target.publish_url(true).as_str(),
            "http://127.0.0.1:4318/v1/logs"
        );
        assert_eq!(
            target.stream_url().as_str(),
            "http://127.0.0.1:4318/v1/stream?service=a"
        );
    }

    #[test]
    fn nchan_needs_both_urls() {
        let pub_url = Some("http://127.0.0.1:8080/pub?id=bench");
        let sub_url = Some("http://127.0.0.1:8080/sub/bench");
        let target = Target::from_urls("", "", pub_url, sub_url).expect("valid");
        assert_eq!(
            target.publish_url(false).as_str(),
            "http://127.0.0.1:8080/pub?id=bench"
        );
        assert_eq!(
            target.stream_url().as_str(),
            "http://127.0.0.1:8080/sub/bench"
        );
        assert!(Target::from_urls("", "", pub_url, None).is_err());
        assert!(Target::from_urls("https://127.0.0.1:1", "", None, None).is_err());
    }

    #[tokio::test]
    async fn endpoint_is_resolved_and_only_loopback_is_allowed() {
        let target = Target::from_urls("http://localhost:4318", "", None, None).expect("valid");
        let endpoint = target.stream_endpoint().await.expect("localhost resolves");
        assert!(endpoint.addr.ip().is_loopback() && endpoint.ready_on_first_event);
        assert_eq!(
            (endpoint.host.as_str(), endpoint.path.as_str()),
            ("localhost:4318", "/v1/stream")
        );

        let outside = Url::parse("http://192.0.2.1:80/").expect("url");
        assert!(resolve_loopback(&outside).await.is_err());
    }
}
