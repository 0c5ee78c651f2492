//! How fast one connection may send: a token bucket kept as a single instant per connection,
//! the generic cell rate algorithm (GCRA), so that every handler instance can share it through
//! one conditional write on the connection's own row.
//!
//! The bucket holds `burst` messages and refills at `per_sec`. Instead of a token count and a
//! refill time, the row keeps `allowanceAt`: the instant the bucket would be full again if
//! nothing more were sent. A message at `now` is allowed when `allowanceAt` is at most
//! `(burst - 1)` message intervals ahead of `now`, and moves it one interval on from
//! `max(allowanceAt, now)`.
//!
//! ```
//! use quiz_store::{MessageRate, RateDecision};
//!
//! let rate = MessageRate::new(2, 1.0); // a burst of 2, then 1 per second
//! let first = rate.decide(None, 0);
//! assert_eq!(first, RateDecision::Admit { allowance_at: 1_000_000 });
//! assert_eq!(rate.decide(Some(1_000_000), 0), RateDecision::Admit { allowance_at: 2_000_000 });
//! assert_eq!(rate.decide(Some(2_000_000), 0), RateDecision::Refuse { retry_after_us: 1_000_000 });
//! ```

use crate::Connection;

/// Microseconds since the Unix epoch.
pub type Micros = u64;

/// How many refused frames within one [`REFUSAL_WINDOW_MS`] disconnect a connection.
pub const MAX_REFUSALS_PER_WINDOW: u32 = 50;
/// The window refused frames are counted in.
pub const REFUSAL_WINDOW_MS: u64 = 60_000;

/// A connection's message limit: a burst, then a sustained rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRate {
    /// The time one message uses up.
    pub interval_us: Micros,
    /// How far ahead of now the allowance may run: `(burst - 1)` intervals.
    pub tolerance_us: Micros,
}

/// Whether a message may go through, and what the allowance becomes if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Admit { allowance_at: Micros },
    Refuse { retry_after_us: Micros },
}

/// What [`crate::Store::admit_message`] found: the decision, and the connection's row as the
/// same request read it (so a message needs no read of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAdmission {
    pub decision: Admission,
    pub connection: Connection,
}

/// Whether a message is within the connection's allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the limit: the next message is allowed after this long.
    Refused {
        retry_after_us: Micros,
    },
}

impl MessageRate {
    /// A burst of `burst` messages (at least 1), then `per_sec` messages a second (more than 0).
    pub fn new(burst: u32, per_sec: f64) -> Self {
        let interval_us = (1_000_000.0 / per_sec.max(1e-6)).round() as Micros;
        MessageRate {
            interval_us: interval_us.max(1),
            tolerance_us: interval_us.saturating_mul(Micros::from(burst.max(1) - 1)),
        }
    }

    /// The decision for a message at `now`, given the stored allowance (`None` when the row has
    /// none yet: a full bucket).
    pub fn decide(&self, allowance_at: Option<Micros>, now: Micros) -> RateDecision {
        let at = allowance_at.unwrap_or(0);
        let limit = now.saturating_add(self.tolerance_us);
        if at > limit {
            return RateDecision::Refuse {
                retry_after_us: at - limit,
            };
        }
        RateDecision::Admit {
            allowance_at: at.max(now).saturating_add(self.interval_us),
        }
    }
}

/// The refusal window `now` falls in.
pub fn refusal_window(now_ms: u64) -> u64 {
    now_ms / REFUSAL_WINDOW_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_sustained_rate() {
        let rate = MessageRate::new(10, 3.0);
        let mut at = None;
        for i in 0..10 {
            match rate.decide(at, 0) {
                RateDecision::Admit { allowance_at } => at = Some(allowance_at),
                refused => panic!("message {i} of the burst refused: {refused:?}"),
            }
        }
        let RateDecision::Refuse { retry_after_us } = rate.decide(at, 0) else {
            panic!("the 11th message at once must be refused");
        };
        assert_eq!(retry_after_us, 333_333);
        assert!(matches!(
            rate.decide(at, 333_332),
            RateDecision::Refuse { .. }
        ));
        assert!(matches!(
            rate.decide(at, 333_333),
            RateDecision::Admit { .. }
        ));
    }

    #[test]
    fn an_idle_connection_gets_its_whole_burst_back() {
        let rate = MessageRate::new(3, 1.0);
        let spent = Some(3_000_000);
        assert!(matches!(rate.decide(spent, 0), RateDecision::Refuse { .. }));
        // Long after: the allowance is in the past, so it starts again from now.
        assert_eq!(
            rate.decide(spent, 10_000_000),
            RateDecision::Admit {
                allowance_at: 11_000_000
            }
        );
    }

    #[test]
    fn degenerate_settings_stay_usable() {
        let rate = MessageRate::new(0, 0.0);
        assert!(rate.interval_us > 0);
        assert_eq!(rate.tolerance_us, 0);
        assert!(matches!(rate.decide(None, 5), RateDecision::Admit { .. }));
    }
}
