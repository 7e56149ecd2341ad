//! The filter flags `tail` and `query` share, and their two destinations: a
//! [`SubscriptionBuilder`] for the live stream and query parameters for `GET /v1/logs`.
//!
//! Level and trace id are checked here, so a typo is a usage error before any request; the
//! server checks the rest (`--since`, `--until`) and its 400 names the bad one.

use clap::Args;
use serde_json::Value;
use tracetail_client::{Level, SubscriptionBuilder, TraceId};

/// Which events to show.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct FilterArgs {
    /// Only events of this service; repeat the flag for more than one.
    #[arg(short = 's', long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Only events of this level or a more severe one: trace, debug, info, warn, error, fatal.
    #[arg(short = 'l', long, value_name = "LEVEL")]
    level: Option<Level>,
    /// Only events of this trace (32 hex digits).
    #[arg(short = 't', long = "trace", value_name = "TRACE_ID")]
    trace_id: Option<TraceId>,
    /// Only events whose message contains this text, in any case.
    #[arg(short = 'q', long = "grep", value_name = "TEXT")]
    grep: Option<String>,
}

impl FilterArgs {
    /// Whether the stream follows one trace, which the server replays from its start.
    pub(crate) fn follows_a_trace(&self) -> bool {
        self.trace_id.is_some()
    }

    /// Whether a span of a `--trace` stream passes the filters, which the server applies to
    /// log events only: its service must be one of `--service`, and with `--level error` or
    /// `fatal` only failed spans (status `ERROR`) show; lower levels show every span.
    pub(crate) fn shows_span(&self, span: &Value) -> bool {
        let service = span["service"].as_str().unwrap_or_default();
        if !self.services.is_empty() && !self.services.iter().any(|name| name == service) {
            return false;
        }
        let failed = span["status"]["code"] == "ERROR";
        failed || self.level.is_none_or(|level| level < Level::Error)
    }

    /// Adds the filters to a live subscription.
    pub(crate) fn apply(&self, mut builder: SubscriptionBuilder) -> SubscriptionBuilder {
        for service in &self.services {
            builder = builder.service(service);
        }
        if let Some(level) = self.level {
            builder = builder.level(level);
        }
        if let Some(trace_id) = self.trace_id {
            builder = builder.trace_id(trace_id);
        }
        if let Some(text) = &self.grep {
            builder = builder.query(text);
        }
        builder
    }

    /// The filters as `GET /v1/logs` parameters, in the stream's order.
    pub(crate) fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = self
            .services
            .iter()
            .map(|service| ("service", service.clone()))
            .collect();
        if let Some(level) = self.level {
            pairs.push(("level", level.as_str().to_string()));
        }
        if let Some(trace_id) = self.trace_id {
            pairs.push(("trace_id", trace_id.to_hex()));
        }
        if let Some(text) = &self.grep {
            pairs.push(("q", text.clone()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use tracetail_client::Subscription;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        filters: FilterArgs,
    }

    fn parse(args: &[&str]) -> Result<FilterArgs, clap::Error> {
        Flags::try_parse_from([&["tail"], args].concat()).map(|flags| flags.filters)
    }

    #[test]
    fn short_and_long_flags_reach_the_stream_url_and_the_query() {
        let filters = parse(&[
            "-s",
            "checkout",
            "--service",
            "cart",
            "-l",
            "warning",
            "-t",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "-q",
            "timed out",
        ])
        .expect("valid flags");
        let builder = filters.apply(Subscription::builder("http://h:1"));
        assert_eq!(
            builder.build().expect("valid").url().as_str(),
            "http://h:1/v1/stream?service=checkout&service=cart&level=WARN\
             &trace_id=4bf92f3577b34da6a3ce929d0e0e4736&q=timed+out"
        );
        let pairs = filters.query_pairs();
        assert_eq!(pairs[2], ("level", "WARN".to_string()));
        assert_eq!(pairs.len(), 5);
    }

    #[test]
    fn spans_pass_by_service_and_only_failed_ones_pass_a_level_of_error() {
        let ok = serde_json::json!({"service": "cart", "status": {"code": "OK"}});
        let failed = serde_json::json!({"service": "cart", "status": {"code": "ERROR"}});
        let shows = |args: &[&str], span: &Value| parse(args).expect("valid").shows_span(span);
        assert!(shows(&[], &ok));
        assert!(shows(&["-s", "cart", "-l", "warn"], &ok));
        assert!(!shows(&["-s", "checkout"], &failed));
        assert!(!shows(&["-l", "error"], &ok));
        assert!(shows(&["-l", "fatal"], &failed));
    }

    #[test]
    fn a_bad_level_or_trace_id_is_a_usage_error_naming_the_flag() {
        let error = parse(&["--level", "loud"]).expect_err("bad level");
        assert!(error.to_string().contains("--level"), "{error}");
        let error = parse(&["--trace", "xyz"]).expect_err("bad trace id");
        assert!(error.to_string().contains("--trace"), "{error}");
    }
}
