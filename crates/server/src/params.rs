//! Query parameters shared by `GET /v1/stream`, `GET /v1/logs` and `GET /v1/traces/{id}`.
//!
//! Parameters are read from the raw query so that `service` may repeat
//! (`?service=a&service=b`) as well as list (`?service=a,b`). Every bad value is a 400 that
//! names the parameter and what it accepts. Unknown parameters are ignored.

use std::time::Duration;

use tracetail_model::event::now_nanos;
use tracetail_model::{Filter, Level, TraceId, check_cursor};
use tracetail_store::Located;

use crate::error::ApiError;
use crate::state::AppState;

/// The raw query as ordered pairs.
pub(crate) struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Splits and percent-decodes a raw query string.
    pub(crate) fn parse(raw: Option<&str>) -> QueryPairs {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned();
        QueryPairs(pairs.collect())
    }

    /// The last value of a parameter, if present and non-empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let found = self.0.iter().rev().find(|(key, _)| key == name);
        found
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// Every comma-separated value of every occurrence of a parameter.
    fn all(&self, name: &str) -> Vec<String> {
        let values = self.0.iter().filter(|(key, _)| key == name);
        let items = values.flat_map(|(_, value)| value.split(','));
        items
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The filter: `service`, `level`, `trace_id`, `q`.
    pub(crate) fn filter(&self) -> Result<Filter, ApiError> {
        let min_level = match self.get("level") {
            Some(text) => Some(text.parse::<Level>().map_err(|error| {
                ApiError::bad_request(format!("invalid level parameter: {error}"))
            })?),
            None => None,
        };
        let trace_id = match self.get("trace_id") {
            Some(text) => Some(parse_trace_id(text)?),
            None => None,
        };
        let filter = Filter {
            services: self.all("service"),
            min_level,
            trace_id,
            ..Filter::default()
        };
        Ok(filter.with_text(self.get("q")))
    }

    /// `limit`: a whole number from 1 to `max`; `default` when absent.
    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        let Some(text) = self.get("limit") else {
            return Ok(default);
        };
        match text.parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::bad_request(format!(
                "invalid limit parameter {text:?}: expected a whole number from 1 to {max}"
            ))),
        }
    }

    /// A time parameter (`since`, `until`) in nanoseconds since the Unix epoch.
    pub(crate) fn time(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|text| parse_time(name, text))
            .transpose()
    }
}

/// The sequence number of an `after` cursor; a cursor this store cannot place is a 400.
pub(crate) fn after_cursor(state: &AppState, cursor: &str) -> Result<u64, ApiError> {
    check_cursor(cursor).map_err(|error| ApiError::bad_request(format!("after: {error}")))?;
    match state.log.locate(cursor) {
        Located::Seq(seq) => Ok(seq),
        Located::Malformed => Err(ApiError::bad_request(format!(
            "after: {cursor:?} is not a cursor of this store (cursors look like \
             \"3fa2c0d1-42\": take them from events' ids or a page's next)"
        ))),
        Located::Foreign => Err(ApiError::bad_request(format!(
            "after: unknown cursor {cursor:?}: it is not from this store (was the data \
             directory replaced?)"
        ))),
    }
}

/// A trace id parameter: 32 hex digits, not all zero.
fn parse_trace_id(text: &str) -> Result<TraceId, ApiError> {
    let invalid = |error| ApiError::bad_request(format!("invalid trace_id parameter: {error}"));
    text.parse::<TraceId>().map_err(invalid)
}

/// A point in time: a duration back from now (`30s`, `5m`, `2h`, `7d`), an RFC 3339 time, or
/// Unix milliseconds.
pub(crate) fn parse_time(name: &str, text: &str) -> Result<u64, ApiError> {
    // Digits alone are Unix milliseconds (a duration needs its unit: "0" is not "0s ago").
    if let Ok(millis) = text.parse::<u64>() {
        return Ok(millis.saturating_mul(1_000_000));
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(now_nanos().saturating_sub(nanos(ago)));
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        let nanos = time.timestamp_nanos_opt().unwrap_or(0);
        return Ok(u64::try_from(nanos).unwrap_or(0));
    }
    Err(ApiError::bad_request(format!(
        "invalid {name} parameter {text:?}: expected a duration back from now (30s, 5m, 2h, 7d), \
         an RFC 3339 time, or Unix milliseconds"
    )))
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_may_repeat_and_list() {
        let pairs = QueryPairs::parse(Some("service=a,b&service=c&service="));
        let filter = pairs.filter().expect("valid filter");
        assert_eq!(filter.services, ["a", "b", "c"]);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let level = QueryPairs::parse(Some("level=loud"))
            .filter()
            .expect_err("bad level");
        assert!(level.message.contains("level"));
        let trace = QueryPairs::parse(Some("trace_id=abc"))
            .filter()
            .expect_err("bad trace");
        assert!(trace.message.contains("trace_id"));
        let since = QueryPairs::parse(Some("since=yesterday"))
            .time("since")
            .expect_err("bad");
        assert!(since.message.contains("since"));
    }

    #[test]
    fn times_are_durations_rfc3339_or_millis() {
        let ago = parse_time("since", "5m").expect("duration");
        let back = now_nanos() - ago;
        assert!((300_000_000_000..310_000_000_000).contains(&back), "{back}");
        let at = parse_time("since", "2026-01-01T01:00:00+01:00").expect("rfc3339");
        assert_eq!(at, 1_767_225_600_000_000_000);
        assert_eq!(parse_time("since", "1000").expect("millis"), 1_000_000_000);
        assert_eq!(parse_time("since", "0").expect("the epoch, not now"), 0);
    }
}
