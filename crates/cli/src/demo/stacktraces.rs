//! The stack traces the failing fictional services log, in the shapes real runtimes print them.
//!
//! `payments` fails like a JVM service and reports its trace in the `exception.stacktrace`
//! attribute, as OpenTelemetry's exception conventions ask; `inventory` fails like a Python
//! service that puts the traceback in the message itself, as many logging set-ups do.

/// The `exception.type` of a payment provider timeout.
pub(super) const PROVIDER_TIMEOUT_TYPE: &str = "java.net.SocketTimeoutException";

/// The `exception.message` of a payment provider timeout.
pub(super) const PROVIDER_TIMEOUT_MESSAGE: &str = "Read timed out";

/// The `exception.stacktrace` of a payment provider timeout.
pub(super) const PROVIDER_TIMEOUT_TRACE: &str = "\
java.net.SocketTimeoutException: Read timed out
\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)
\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:314)
\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)
\tat com.acmepay.client.HttpTransport.readResponse(HttpTransport.java:214)
\tat com.acmepay.client.AcmePayClient.authorize(AcmePayClient.java:97)
\tat shop.payments.charge.ChargeService.charge(ChargeService.java:63)
\tat shop.payments.api.ChargeController.create(ChargeController.java:41)
\t... 38 more";

/// The `exception.type` of a failed stock reservation.
pub(super) const RESERVATION_ERROR_TYPE: &str = "asyncpg.exceptions.SerializationError";

/// The message `inventory` logs when a reservation fails: a summary line, then the traceback.
pub(super) fn reservation_failure(sku: &str, quantity: u32) -> String {
    format!(
        "reservation failed for {sku}: could not serialize access due to concurrent update
Traceback (most recent call last):
  File \"/app/inventory/api/reservations.py\", line 54, in create_reservation
    reservation = await stock.reserve(sku, quantity={quantity})
  File \"/app/inventory/stock.py\", line 88, in reserve
    row = await conn.fetchrow(RESERVE_SQL, sku, quantity)
  File \"/usr/local/lib/python3.12/site-packages/asyncpg/connection.py\", line 748, in fetchrow
    data = await self._execute(query, args, 1, timeout)
{RESERVATION_ERROR_TYPE}: could not serialize access due to concurrent update"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_span_several_lines_and_name_their_exception() {
        assert!(PROVIDER_TIMEOUT_TRACE.lines().count() > 5);
        assert!(PROVIDER_TIMEOUT_TRACE.starts_with(PROVIDER_TIMEOUT_TYPE));
        let message = reservation_failure("SKU-3307", 2);
        assert!(message.contains("Traceback (most recent call last):\n"));
        assert!(message.ends_with("concurrent update"));
    }
}
