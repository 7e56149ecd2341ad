//! [`Filter`]: which events a stream or a query wants.
//!
//! The same filter runs on the live path (once per event per subscriber, so it allocates
//! nothing for ASCII search text) and on replay from a store.

use crate::event::EventView;
use crate::ids::TraceId;
use crate::level::Level;

/// A conjunction of conditions; an empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Accepted services; empty means any.
    pub services: Vec<String>,
    /// The least severe level accepted.
    pub min_level: Option<Level>,
    /// Only this trace.
    pub trace_id: Option<TraceId>,
    /// Case-insensitive substring of the message. Must be lower-case: set it with
    /// [`Filter::with_text`].
    pub text: Option<String>,
}

impl Filter {
    /// Sets the text condition (case-insensitive substring of the message).
    #[must_use]
    pub fn with_text(mut self, text: Option<&str>) -> Filter {
        self.text = text.filter(|t| !t.is_empty()).map(str::to_lowercase);
        self
    }

    /// The text condition, lower-case.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Whether an event with these fields passes.
    pub fn matches(
        &self,
        service: &str,
        level: Level,
        trace_id: Option<TraceId>,
        message: &str,
    ) -> bool {
        if self.min_level.is_some_and(|min| level < min) {
            return false;
        }
        if self.trace_id.is_some() && self.trace_id != trace_id {
            return false;
        }
        if !self.services.is_empty() && !self.services.iter().any(|s| s == service) {
            return false;
        }
        match &self.text {
            Some(needle) => contains_ignore_case(message, needle),
            None => true,
        }
    }

    /// Whether a stored event passes.
    pub fn matches_view(&self, view: &EventView<'_>) -> bool {
        self.matches(&view.service, view.level.0, view.trace_id(), &view.message)
    }
}

/// Case-insensitive `haystack.contains(needle)` for a lower-case needle.
///
/// An ASCII needle is matched without allocating; anything else lowercases the haystack.
fn contains_ignore_case(haystack: &str, lower_needle: &str) -> bool {
    if !lower_needle.is_ascii() || !haystack.is_ascii() {
        return haystack.to_lowercase().contains(lower_needle);
    }
    let needle = lower_needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filter_matches_everything() {
        assert!(Filter::default().matches("a", Level::Trace, None, ""));
    }

    #[test]
    fn each_condition_narrows() {
        let filter = Filter {
            services: vec!["api".into(), "db".into()],
            min_level: Some(Level::Warn),
            ..Filter::default()
        }
        .with_text(Some("TimeOut"));
        assert!(filter.matches("db", Level::Error, None, "query timeout after 3s"));
        assert!(!filter.matches("web", Level::Error, None, "query timeout"));
        assert!(!filter.matches("db", Level::Info, None, "query timeout"));
        assert!(!filter.matches("db", Level::Error, None, "query ok"));
    }

    #[test]
    fn text_match_ignores_case_beyond_ascii() {
        let filter = Filter::default().with_text(Some("ÄRGER"));
        assert!(filter.matches("x", Level::Info, None, "großer Ärger hier"));
    }

    #[test]
    fn trace_condition_requires_the_same_trace() {
        let filter = Filter {
            trace_id: Some(TraceId([1; 16])),
            ..Filter::default()
        };
        assert!(filter.matches("x", Level::Info, Some(TraceId([1; 16])), ""));
        assert!(!filter.matches("x", Level::Info, Some(TraceId([2; 16])), ""));
        assert!(!filter.matches("x", Level::Info, None, ""));
    }
}
