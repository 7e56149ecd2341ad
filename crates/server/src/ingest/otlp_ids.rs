//! The trace context of OTLP records: validated, and never a reason to lose a record.
//!
//! An id of the wrong length or all zeros (or, in OTLP/JSON, not hex) is dropped, the record is
//! stored anyway, and [`UnlinkedIds`] counts it for the `partialSuccess` warning. A bad trace id
//! drops the span id too (a span means nothing outside its trace); a bad span id keeps a valid
//! trace id, so the record still shows up in its trace. Empty ids mean "no id", as in OTLP.

use tracetail_model::{IdError, SpanId, TraceId};

/// How many distinct id problems an OTLP answer quotes.
const QUOTED_PROBLEMS: usize = 3;

/// A record's trace context after validation.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Ids {
    /// The trace, when sent and valid.
    pub(super) trace_id: Option<TraceId>,
    /// The span, when sent and valid (and the trace id, if sent, was valid too).
    pub(super) span_id: Option<SpanId>,
    /// Why an id that was sent was dropped.
    pub(super) problem: Option<IdError>,
}

impl Ids {
    /// Ids from protobuf bytes; empty means absent.
    pub(crate) fn from_bytes(trace_id: &[u8], span_id: &[u8]) -> Ids {
        let trace = (!trace_id.is_empty()).then(|| TraceId::from_bytes(trace_id));
        let span = (!span_id.is_empty()).then(|| SpanId::from_bytes(span_id));
        Ids::checked(trace, span)
    }

    /// Ids from OTLP/JSON hex, in either case; empty means absent.
    pub(crate) fn from_hex(trace_id: &str, span_id: &str) -> Ids {
        let trace = (!trace_id.is_empty()).then(|| TraceId::from_hex(trace_id));
        let span = (!span_id.is_empty()).then(|| SpanId::from_hex(span_id));
        Ids::checked(trace, span)
    }

    fn checked(
        trace: Option<Result<TraceId, IdError>>,
        span: Option<Result<SpanId, IdError>>,
    ) -> Ids {
        match (trace.transpose(), span.transpose()) {
            (Err(problem), _) => Ids {
                trace_id: None,
                span_id: None,
                problem: Some(problem),
            },
            (Ok(trace_id), Err(problem)) => Ids {
                trace_id,
                span_id: None,
                problem: Some(problem),
            },
            (Ok(trace_id), Ok(span_id)) => Ids {
                trace_id,
                span_id,
                problem: None,
            },
        }
    }
}

/// Records kept after dropping ids they carried: counted, and a few problems quoted.
#[derive(Debug, Default)]
pub(crate) struct UnlinkedIds {
    count: usize,
    quoted: Vec<String>,
}

impl UnlinkedIds {
    /// Counts one record that lost an id, quoting the problem if it is new.
    pub(crate) fn note(&mut self, problem: IdError) {
        self.count += 1;
        let text = problem.to_string();
        if self.quoted.len() < QUOTED_PROBLEMS && !self.quoted.contains(&text) {
            self.quoted.push(text);
        }
    }

    /// The warning for OTLP `partialSuccess.errorMessage`; `None` when every id was fine.
    pub(crate) fn message(&self) -> Option<String> {
        self.describe("log record", "kept with invalid ids removed")
    }

    /// How many were noted.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// `{count} {noun}s {what}: {quoted problems}`; `None` when none was noted.
    pub(crate) fn describe(&self, noun: &str, what: &str) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let plural = if self.count == 1 { "" } else { "s" };
        let problems = self.quoted.join("; ");
        Some(format!("{} {noun}{plural} {what}: {problems}", self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_span_id_keeps_a_valid_trace_id() {
        let ids = Ids::from_bytes(&[1; 16], &[0; 8]);
        assert_eq!(ids.trace_id, Some(TraceId([1; 16])));
        assert_eq!(ids.span_id, None);
        let mut unlinked = UnlinkedIds::default();
        unlinked.note(ids.problem.expect("a problem"));
        let message = unlinked.message();
        assert_eq!(
            message.expect("warning"),
            "1 log record kept with invalid ids removed: \
            span_id is all zeros"
        );
    }

    #[test]
    fn hex_ids_are_read_in_either_case_and_bad_hex_is_dropped() {
        let ids = Ids::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7");
        assert_eq!(
            ids.trace_id.expect("valid").to_hex(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(ids.span_id.expect("valid").to_hex(), "00f067aa0ba902b7");
        assert_eq!(ids.problem, None);

        let bad = Ids::from_hex("zz", "");
        assert_eq!(bad.trace_id, None);
        assert_eq!(
            bad.problem.expect("bad hex").to_string(),
            "trace_id \"zz\" is not hexadecimal"
        );
        assert_eq!(Ids::from_hex("", ""), Ids::default());
    }

    #[test]
    fn the_warning_quotes_a_few_distinct_problems() {
        let mut unlinked = UnlinkedIds::default();
        assert_eq!(unlinked.message(), None);
        for length in [1, 2, 1, 3, 4] {
            unlinked.note(TraceId::from_bytes(&vec![1; length]).expect_err("too short"));
        }
        assert_eq!(
            unlinked.message().expect("a warning"),
            "5 log records kept with invalid ids removed: trace_id must be 16 bytes, got 1; \
             trace_id must be 16 bytes, got 2; trace_id must be 16 bytes, got 3"
        );
    }
}
