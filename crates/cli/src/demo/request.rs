//! One simulated checkout request, as the four fictional services would log it.
//!
//! `frontend` takes `POST /api/checkout` and calls `checkout`, which reserves stock at
//! `inventory` and then charges the card at `payments`. Each service logs a few lines inside its
//! own span: mostly INFO, some DEBUG, and on a failed request WARN or ERROR lines, some with a
//! stack trace. The [`Outcome`] decides which way the request goes; latencies are drawn at
//! random with an occasional slow tail.

use opentelemetry::logs::{AnyValue, Severity};
use rand::Rng;
use rand::seq::IndexedRandom;

use super::stacktraces;
use super::story::{Service, SpanRef, Story};

/// How a request ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Stock reserved, card charged, order placed: 200.
    Completed,
    /// The card issuer declines: WARN lines and a 402, no stack trace.
    CardDeclined,
    /// The payment provider times out twice: ERROR with `exception.stacktrace`, then a 502.
    PaymentTimeout,
    /// The inventory database refuses the reservation: ERROR with a traceback, then a 503.
    StockUnavailable,
}

impl Outcome {
    /// Draws an outcome: a failure of a random kind with probability `error_rate`.
    pub(super) fn draw(rng: &mut impl Rng, error_rate: f64) -> Outcome {
        if !rng.random_bool(error_rate) {
            return Outcome::Completed;
        }
        let failures = [
            Outcome::CardDeclined,
            Outcome::PaymentTimeout,
            Outcome::StockUnavailable,
        ];
        *failures.choose(rng).expect("the list is not empty")
    }
}

/// What is being ordered, by whom.
struct Order {
    user_id: String,
    order_id: String,
    sku: &'static str,
    quantity: u32,
    /// The total in euros, rounded to cents.
    amount: f64,
}

/// The shop's catalogue: SKU and unit price in euros.
const PRODUCTS: [(&str, f64); 5] = [
    ("SKU-1042", 24.90),
    ("SKU-2210", 32.00),
    ("SKU-3307", 149.00),
    ("SKU-4415", 59.50),
    ("SKU-5120", 6.40),
];

impl Order {
    fn draw(rng: &mut impl Rng) -> Order {
        let (sku, unit_price) = *PRODUCTS.choose(rng).expect("the catalogue is not empty");
        let quantity = rng.random_range(1..=3);
        Order {
            user_id: format!("u-{}", rng.random_range(10_000..100_000)),
            order_id: format!("ord-{}", rng.random_range(100_000..1_000_000)),
            sku,
            quantity,
            amount: (unit_price * f64::from(quantity) * 100.0).round() / 100.0,
        }
    }
}

/// Writes down one request that ends with `outcome`.
pub(super) fn tell(rng: &mut impl Rng, outcome: Outcome) -> Story {
    let order = Order::draw(rng);
    let mut teller = Teller {
        story: Story::default(),
        rng,
        order,
        outcome,
    };
    teller.frontend();
    teller.story
}

/// The state of one request while its story is written.
struct Teller<'a, R> {
    story: Story,
    rng: &'a mut R,
    order: Order,
    outcome: Outcome,
}

impl<R: Rng> Teller<'_, R> {
    /// Lets a step of about `typical_ms` pass: 0.6 to 1.6 times that, one step in twenty slower.
    fn work(&mut self, typical_ms: f64) {
        let mut ms = typical_ms * self.rng.random_range(0.6..1.6);
        if self.rng.random_bool(0.05) {
            ms *= self.rng.random_range(2.0..6.0);
        }
        self.story.wait(ms);
    }

    /// The `latency_ms` attribute of `span` so far.
    fn latency(&self, span: SpanRef) -> AnyValue {
        AnyValue::Int(self.story.elapsed_since(span).round() as i64)
    }

    fn user(&self) -> AnyValue {
        self.order.user_id.clone().into()
    }

    fn order_id(&self) -> AnyValue {
        self.order.order_id.clone().into()
    }

    /// `frontend`: the public API the customer's browser calls.
    fn frontend(&mut self) {
        let span = self
            .story
            .open(Service::Frontend, "POST /api/checkout", None);
        let request = vec![
            ("http.method", "POST".into()),
            ("http.route", "/api/checkout".into()),
            ("user.id", self.user()),
            (
                "client.address",
                format!("203.0.113.{}", self.rng.random_range(2..250)).into(),
            ),
        ];
        self.story
            .log(span, Severity::Info, "request received", request);
        self.work(1.5);
        let session = vec![("user.id", self.user()), ("session.cache", "hit".into())];
        self.story
            .log(span, Severity::Debug, "session loaded", session);

        let status = self.checkout(span);
        self.work(0.8);
        let (severity, message) = match status {
            200 => (Severity::Info, "request completed"),
            400..500 => (Severity::Warn, "request failed"),
            _ => (Severity::Error, "request failed"),
        };
        let response = vec![
            ("http.method", "POST".into()),
            ("http.route", "/api/checkout".into()),
            ("http.status_code", AnyValue::Int(status)),
            ("latency_ms", self.latency(span)),
        ];
        self.story.log(span, severity, message, response);
        self.story
            .close(span, (status >= 500).then_some("upstream checkout failed"));
    }

    /// `checkout`: creates the order, reserves the stock, takes the payment.
    fn checkout(&mut self, parent: SpanRef) -> i64 {
        self.work(2.0);
        let span = self
            .story
            .open(Service::Checkout, "POST /v1/orders", Some(parent));
        let order = vec![
            ("order.id", self.order_id()),
            ("user.id", self.user()),
            ("product.sku", self.order.sku.into()),
            ("quantity", AnyValue::Int(self.order.quantity.into())),
        ];
        self.story
            .log(span, Severity::Info, "creating order", order);
        self.work(3.0);
        let priced = vec![
            ("order.id", self.order_id()),
            ("amount", self.order.amount.into()),
            ("currency", "EUR".into()),
        ];
        self.story.log(span, Severity::Debug, "cart priced", priced);

        let status = if self.inventory(span) {
            self.payments(span)
        } else {
            503
        };
        self.work(1.5);
        self.checkout_result(span, status);
        status
    }

    /// The line `checkout` logs once it knows how the order ended, and the end of its span.
    fn checkout_result(&mut self, span: SpanRef, status: i64) {
        let mut attributes = vec![
            ("order.id", self.order_id()),
            ("latency_ms", self.latency(span)),
        ];
        let (severity, message, error) = match self.outcome {
            Outcome::Completed => {
                attributes.push(("amount", self.order.amount.into()));
                (Severity::Info, "order placed", None)
            }
            Outcome::CardDeclined => (Severity::Warn, "order cancelled: card declined", None),
            Outcome::PaymentTimeout => (
                Severity::Error,
                "order failed: payment provider unavailable, reserved stock released",
                Some("payment failed"),
            ),
            Outcome::StockUnavailable => (
                Severity::Error,
                "order failed: could not reserve stock",
                Some("stock reservation failed"),
            ),
        };
        attributes.push(("http.status_code", AnyValue::Int(status)));
        self.story.log(span, severity, message, attributes);
        self.story.close(span, error);
    }

    /// `inventory`: reserves the ordered quantity; false when the reservation failed.
    fn inventory(&mut self, parent: SpanRef) -> bool {
        self.work(1.0);
        let span = self
            .story
            .open(Service::Inventory, "POST /v1/reservations", Some(parent));
        let reserve = vec![
            ("order.id", self.order_id()),
            ("product.sku", self.order.sku.into()),
            ("quantity", AnyValue::Int(self.order.quantity.into())),
        ];
        self.story
            .log(span, Severity::Info, "reserving stock", reserve);
        self.work(12.0);
        let query = vec![
            ("db.system", "postgresql".into()),
            ("db.operation", "UPDATE".into()),
            ("latency_ms", self.latency(span)),
        ];
        self.story
            .log(span, Severity::Debug, "stock query finished", query);

        if self.outcome == Outcome::StockUnavailable {
            let body = stacktraces::reservation_failure(self.order.sku, self.order.quantity);
            let failure = vec![
                ("order.id", self.order_id()),
                ("exception.type", stacktraces::RESERVATION_ERROR_TYPE.into()),
                ("http.status_code", AnyValue::Int(503)),
            ];
            self.story.log(span, Severity::Error, body, failure);
            self.story.close(span, Some("serialization failure"));
            return false;
        }
        let remaining = AnyValue::Int(self.rng.random_range(3..400));
        let reserved = vec![
            ("order.id", self.order_id()),
            ("stock.remaining", remaining),
        ];
        self.story
            .log(span, Severity::Info, "stock reserved", reserved);
        self.story.close(span, None);
        true
    }

    /// `payments`: charges the card through the payment provider; returns the HTTP status.
    fn payments(&mut self, parent: SpanRef) -> i64 {
        self.work(1.0);
        let span = self
            .story
            .open(Service::Payments, "POST /v1/charges", Some(parent));
        let charge = vec![
            ("order.id", self.order_id()),
            ("amount", self.order.amount.into()),
            ("currency", "EUR".into()),
            ("payment.provider", "acmepay".into()),
            ("card.brand", self.card_brand()),
        ];
        self.story
            .log(span, Severity::Info, "charging card", charge);
        match self.outcome {
            Outcome::CardDeclined => self.payment_declined(span),
            Outcome::PaymentTimeout => self.payment_timed_out(span),
            Outcome::Completed | Outcome::StockUnavailable => self.payment_authorized(span),
        }
    }

    fn card_brand(&mut self) -> AnyValue {
        let brands = ["visa", "mastercard", "amex"];
        (*brands.choose(self.rng).expect("the list is not empty")).into()
    }

    fn payment_authorized(&mut self, span: SpanRef) -> i64 {
        self.work(80.0);
        let answered = vec![
            ("payment.provider", "acmepay".into()),
            ("latency_ms", self.latency(span)),
        ];
        self.story
            .log(span, Severity::Debug, "provider answered", answered);
        let payment_id = format!("pay_{:012x}", self.rng.random_range(0..1_u64 << 48));
        let authorized = vec![
            ("order.id", self.order_id()),
            ("payment.id", payment_id.into()),
            ("amount", self.order.amount.into()),
        ];
        self.story
            .log(span, Severity::Info, "payment authorized", authorized);
        self.story.close(span, None);
        200
    }

    fn payment_declined(&mut self, span: SpanRef) -> i64 {
        self.work(60.0);
        let code = *["insufficient_funds", "do_not_honor", "expired_card"]
            .choose(self.rng)
            .expect("decline codes");
        let declined = vec![
            ("order.id", self.order_id()),
            ("decline.code", code.into()),
            ("http.status_code", AnyValue::Int(402)),
        ];
        self.story
            .log(span, Severity::Warn, "card declined", declined);
        self.story.close(span, None);
        402
    }

    fn payment_timed_out(&mut self, span: SpanRef) -> i64 {
        self.story.wait(2000.0);
        let retry = vec![
            ("payment.provider", "acmepay".into()),
            ("attempt", AnyValue::Int(1)),
            ("latency_ms", self.latency(span)),
        ];
        self.story.log(
            span,
            Severity::Warn,
            "provider call timed out, retrying",
            retry,
        );
        self.story.wait(2000.0);
        let failure = vec![
            ("order.id", self.order_id()),
            ("exception.type", stacktraces::PROVIDER_TIMEOUT_TYPE.into()),
            (
                "exception.message",
                stacktraces::PROVIDER_TIMEOUT_MESSAGE.into(),
            ),
            (
                "exception.stacktrace",
                stacktraces::PROVIDER_TIMEOUT_TRACE.into(),
            ),
            ("latency_ms", self.latency(span)),
        ];
        self.story.log(
            span,
            Severity::Error,
            "charge failed: provider did not answer",
            failure,
        );
        self.story.close(span, Some("payment provider timeout"));
        504
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
