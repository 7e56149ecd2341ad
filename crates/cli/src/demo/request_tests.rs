//! Tests of the simulated request: its shape for every outcome, and the error rate.

use rand::SeedableRng as _;
use rand::rngs::StdRng;

use super::super::story::LogEntry;
use super::*;

fn story(outcome: Outcome) -> Story {
    tell(&mut StdRng::seed_from_u64(1), outcome)
}

fn services(story: &Story) -> Vec<Service> {
    story.spans.iter().map(|span| span.service).collect()
}

fn worst(story: &Story, service: Service) -> Severity {
    let in_service = |span: usize| story.spans[span].service == service;
    let levels = story.logs.iter().filter(|log| in_service(log.span));
    levels
        .map(|log| log.severity)
        .max()
        .expect("the service logged")
}

#[test]
fn a_completed_request_visits_every_service_once_without_warnings() {
    let story = story(Outcome::Completed);
    use Service::*;
    assert_eq!(services(&story), [Frontend, Checkout, Inventory, Payments]);
    let parents: Vec<Option<usize>> = story.spans.iter().map(|span| span.parent).collect();
    assert_eq!(parents, [None, Some(0), Some(1), Some(1)]);
    assert!(story.logs.iter().all(|log| log.severity <= Severity::Info));
    assert!(story.logs.iter().any(|log| log.severity == Severity::Debug));
}

#[test]
fn spans_enclose_their_children_and_their_log_lines() {
    let story = story(Outcome::PaymentTimeout);
    for span in &story.spans {
        let parent = span.parent.map(|index| &story.spans[index]);
        assert!(parent.is_none_or(|p| p.start_ms <= span.start_ms && span.end_ms <= p.end_ms));
    }
    for log in &story.logs {
        let span = &story.spans[log.span];
        assert!(
            span.start_ms <= log.at_ms && log.at_ms <= span.end_ms,
            "{log:?}"
        );
    }
    assert_eq!(story.elapsed_ms(), story.spans[0].end_ms);
}

#[test]
fn a_payment_timeout_logs_an_error_with_an_exception_stacktrace() {
    let story = story(Outcome::PaymentTimeout);
    assert_eq!(worst(&story, Service::Payments), Severity::Error);
    let has_trace = |log: &&LogEntry| {
        log.attributes
            .iter()
            .any(|(key, _)| *key == "exception.stacktrace")
    };
    assert_eq!(story.logs.iter().filter(has_trace).count(), 1);
    let failed = story.spans.iter().filter(|span| span.error.is_some());
    let failed: Vec<Service> = failed.map(|span| span.service).collect();
    assert_eq!(
        failed,
        [Service::Frontend, Service::Checkout, Service::Payments]
    );
}

#[test]
fn unavailable_stock_stops_the_order_before_payment_with_a_traceback() {
    let story = story(Outcome::StockUnavailable);
    use Service::*;
    assert_eq!(services(&story), [Frontend, Checkout, Inventory]);
    assert_eq!(worst(&story, Inventory), Severity::Error);
    assert!(
        story
            .logs
            .iter()
            .any(|log| log.body.contains("\nTraceback"))
    );
}

#[test]
fn a_declined_card_warns_without_errors() {
    let story = story(Outcome::CardDeclined);
    assert_eq!(worst(&story, Service::Payments), Severity::Warn);
    assert_eq!(worst(&story, Service::Frontend), Severity::Warn);
    assert!(story.spans.iter().all(|span| span.error.is_none()));
}

#[test]
fn the_error_rate_is_the_share_of_failed_requests() {
    let mut rng = StdRng::seed_from_u64(2);
    let draws = 10_000;
    let failed = (0..draws)
        .filter(|_| Outcome::draw(&mut rng, 0.1) != Outcome::Completed)
        .count();
    assert!((800..1200).contains(&failed), "{failed} of {draws}");
    assert_eq!(Outcome::draw(&mut rng, 0.0), Outcome::Completed);
}
