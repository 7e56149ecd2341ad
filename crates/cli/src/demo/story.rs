//! A request written down before it is sent: its spans and log lines on a simulated clock.
//!
//! The narrative in [`super::request`] opens and closes spans and logs lines while advancing a
//! clock by simulated latencies, without sleeping. Only when the request is complete does
//! [`super::fleet::Fleet::emit`] turn the story into OpenTelemetry spans and log records, placed
//! so that the request ends at the moment it is sent: no record carries a time in the future.

use opentelemetry::logs::{AnyValue, Severity};

/// The fictional services, in the order a request reaches them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Service {
    Frontend,
    Checkout,
    Payments,
    Inventory,
}

impl Service {
    /// Every service, in the order of [`Service::index`].
    pub(super) const ALL: [Service; 4] = [
        Service::Frontend,
        Service::Checkout,
        Service::Payments,
        Service::Inventory,
    ];

    /// The resource's `service.name`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::Checkout => "checkout",
            Service::Payments => "payments",
            Service::Inventory => "inventory",
        }
    }

    /// The resource's `service.version`.
    pub(super) fn version(self) -> &'static str {
        match self {
            Service::Frontend => "3.8.1",
            Service::Checkout => "2.14.0",
            Service::Payments => "1.22.4",
            Service::Inventory => "0.9.7",
        }
    }

    /// The position of this service in [`Service::ALL`].
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// One span of the story: a service handling its part of the request.
#[derive(Debug)]
pub(super) struct SpanEntry {
    pub(super) service: Service,
    /// The span name, such as `POST /v1/charges`.
    pub(super) name: &'static str,
    /// The index of the parent span in [`Story::spans`]; `None` for the root.
    pub(super) parent: Option<usize>,
    pub(super) start_ms: f64,
    pub(super) end_ms: f64,
    /// The span's error status description, when the service failed the call.
    pub(super) error: Option<&'static str>,
}

/// One log line of the story.
#[derive(Debug)]
pub(super) struct LogEntry {
    /// The index of the span it was logged in, in [`Story::spans`].
    pub(super) span: usize,
    pub(super) at_ms: f64,
    pub(super) severity: Severity,
    pub(super) body: String,
    pub(super) attributes: Vec<(&'static str, AnyValue)>,
}

/// A handle to an open span of a [`Story`].
#[derive(Clone, Copy, Debug)]
pub(super) struct SpanRef(usize);

/// The spans and log lines of one request, on a clock in milliseconds from its start.
#[derive(Debug, Default)]
pub(super) struct Story {
    pub(super) spans: Vec<SpanEntry>,
    pub(super) logs: Vec<LogEntry>,
    clock_ms: f64,
}

impl Story {
    /// How long the request took, in simulated milliseconds.
    pub(super) fn elapsed_ms(&self) -> f64 {
        self.clock_ms
    }

    /// Lets `ms` simulated milliseconds pass.
    pub(super) fn wait(&mut self, ms: f64) {
        debug_assert!(ms >= 0.0, "the clock only moves forward");
        self.clock_ms += ms;
    }

    /// Opens a span of `service` named `name`, now, as a child of `parent`.
    pub(super) fn open(
        &mut self,
        service: Service,
        name: &'static str,
        parent: Option<SpanRef>,
    ) -> SpanRef {
        self.spans.push(SpanEntry {
            service,
            name,
            parent: parent.map(|SpanRef(index)| index),
            start_ms: self.clock_ms,
            end_ms: self.clock_ms,
            error: None,
        });
        SpanRef(self.spans.len() - 1)
    }

    /// Closes `span` now, with an error status when `error` is given.
    pub(super) fn close(&mut self, span: SpanRef, error: Option<&'static str>) {
        let entry = &mut self.spans[span.0];
        entry.end_ms = self.clock_ms;
        entry.error = error;
    }

    /// Milliseconds from the start of `span` to now.
    pub(super) fn elapsed_since(&self, span: SpanRef) -> f64 {
        self.clock_ms - self.spans[span.0].start_ms
    }

    /// Logs `body` in `span`, now.
    pub(super) fn log(
        &mut self,
        span: SpanRef,
        severity: Severity,
        body: impl Into<String>,
        attributes: Vec<(&'static str, AnyValue)>,
    ) {
        self.logs.push(LogEntry {
            span: span.0,
            at_ms: self.clock_ms,
            severity,
            body: body.into(),
            attributes,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_logs_are_placed_on_the_simulated_clock() {
        let mut story = Story::default();
        let root = story.open(Service::Frontend, "POST /api/checkout", None);
        story.wait(5.0);
        let child = story.open(Service::Checkout, "POST /v1/orders", Some(root));
        story.log(child, Severity::Info, "creating order", Vec::new());
        story.wait(10.0);
        story.close(child, Some("payment failed"));
        story.close(root, None);

        assert_eq!(story.elapsed_ms(), 15.0);
        assert_eq!(story.spans[1].parent, Some(0));
        assert_eq!(
            (story.spans[1].start_ms, story.spans[1].end_ms),
            (5.0, 15.0)
        );
        assert_eq!(story.logs[0].at_ms, 5.0);
        assert_eq!(story.elapsed_since(child), 10.0);
    }
}
