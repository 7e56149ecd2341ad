//! How long a subscription waits before it reconnects.
//!
//! Exponential backoff with full jitter: the n-th attempt in a row waits a random time in
//! `[0, min(max, initial × 2^(n-1))]`, so with the defaults the ceilings run 1, 2, 4, 8, 16,
//! 30, 30… seconds, and many clients dropped at once by one server spread out instead of
//! returning together.
//!
//! The server may ask for more: its `retry:` field (kept across connections) and the
//! `Retry-After` header of a 429 or 503 are *minimum* delays, never maximums. A minimum is
//! honoured up to [`MAX_SERVER_DELAY`], so one bad header cannot park a client for days.
//!
//! **When the count starts over.** After a connection that stayed up for
//! [`BackoffPolicy::stable_after`] (10 s) or delivered at least one event other than `open` and
//! `heartbeat`. Both of those are sent by a server that is up but may be unable to serve (it
//! crashes right after `open`, say), so they alone do not count as health; a server that
//! answers 200 and closes at once therefore meets growing delays, not a tight loop. A
//! `heartbeat` proves the connection was up for a heartbeat interval, which the duration rule
//! covers already.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The longest minimum delay a server can impose with `retry:` or `Retry-After`: 5 minutes.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(300);

/// The reconnect policy of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The ceiling of the first attempt's delay; it doubles with each attempt in a row.
    /// Default 1 s.
    pub initial: Duration,
    /// The largest ceiling. Default 30 s.
    pub max: Duration,
    /// A connection that lasts this long resets the attempt count. Default 10 s.
    pub stable_after: Duration,
    /// How the delay is drawn below its ceiling. Default [`Jitter::Full`].
    pub jitter: Jitter,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }
}

/// How a delay is drawn below its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Uniformly at random in `[0, ceiling]`, from the operating system's entropy.
    Full,
    /// Like [`Jitter::Full`], from a generator seeded with this number, for runs that must
    /// repeat exactly (tests, simulations).
    Seeded(u64),
    /// Exactly the ceiling. Predictable, and for that reason a bad choice for many clients of
    /// one server.
    None,
}

/// The reconnect state of one subscription: how many attempts in a row, and the random source.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: BackoffPolicy,
    /// Attempts since the last healthy connection.
    attempt: u32,
    rng: StdRng,
}

impl Backoff {
    /// A fresh state for `policy`.
    pub(crate) fn new(policy: BackoffPolicy) -> Backoff {
        let rng = match policy.jitter {
            Jitter::Seeded(seed) => StdRng::seed_from_u64(seed),
            Jitter::Full | Jitter::None => StdRng::from_os_rng(),
        };
        Backoff {
            policy,
            attempt: 0,
            rng,
        }
    }

    /// Records how a connection went: one that lasted or delivered resets the attempt count.
    pub(crate) fn connection_ended(&mut self, lasted: Duration, delivered: bool) {
        if delivered || lasted >= self.policy.stable_after {
            self.attempt = 0;
        }
    }

    /// Counts one more attempt and draws its delay, raised to `minimum` (capped at
    /// [`MAX_SERVER_DELAY`]) when the server asked for that. Returns the attempt number and
    /// the delay.
    pub(crate) fn next_delay(&mut self, minimum: Option<Duration>) -> (u32, Duration) {
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = self.ceiling(self.attempt);
        let drawn = match self.policy.jitter {
            Jitter::None => ceiling,
            Jitter::Full | Jitter::Seeded(_) => {
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(self.rng.random_range(0..=nanos))
            }
        };
        let floor = minimum.unwrap_or_default().min(MAX_SERVER_DELAY);
        (self.attempt, drawn.max(floor))
    }

    /// The ceiling of attempt `attempt` (1-based): `initial` doubled per attempt, up to `max`.
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let ceiling = self.policy.initial.saturating_mul(1 << doublings);
        ceiling.min(self.policy.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    fn policy(jitter: Jitter) -> BackoffPolicy {
        BackoffPolicy {
            jitter,
            ..BackoffPolicy::default()
        }
    }

    #[test]
    fn ceilings_double_from_one_second_and_stop_at_thirty() {
        let mut backoff = Backoff::new(policy(Jitter::None));
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay(None).1.as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff.ceiling(u32::MAX), secs(30));
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_ceiling_and_varies() {
        let mut backoff = Backoff::new(policy(Jitter::Seeded(7)));
        let mut seen = Vec::new();
        for attempt in 1..=40 {
            let (counted, delay) = backoff.next_delay(None);
            assert_eq!(counted, attempt);
            assert!(delay <= backoff.ceiling(attempt), "{delay:?} at {attempt}");
            seen.push(delay);
        }
        seen.dedup();
        assert!(seen.len() > 30, "jitter should vary: {seen:?}");
    }

    #[test]
    fn the_same_seed_draws_the_same_delays() {
        let draw = || {
            let mut backoff = Backoff::new(policy(Jitter::Seeded(42)));
            (0..10)
                .map(|_| backoff.next_delay(None).1)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn a_server_minimum_raises_the_delay_but_is_capped() {
        let mut backoff = Backoff::new(policy(Jitter::None));
        assert_eq!(backoff.next_delay(Some(secs(3))), (1, secs(3)));
        assert_eq!(backoff.next_delay(Some(secs(1))), (2, secs(2)));
        assert_eq!(backoff.next_delay(Some(secs(86_400))).1, MAX_SERVER_DELAY);
    }

    #[test]
    fn only_a_lasting_or_delivering_connection_resets_the_count() {
        let mut backoff = Backoff::new(policy(Jitter::None));
        backoff.next_delay(None);
        backoff.next_delay(None);

        backoff.connection_ended(secs(9), false);
        assert_eq!(backoff.next_delay(None), (3, secs(4)));

        backoff.connection_ended(secs(10), false);
        assert_eq!(backoff.next_delay(None), (1, secs(1)));

        backoff.connection_ended(Duration::ZERO, true);
        assert_eq!(backoff.next_delay(None), (1, secs(1)));
    }
}
