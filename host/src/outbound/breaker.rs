//! A circuit breaker: after repeated failures, stop sending for a while, then let one probe
//! through to see whether the destination is back.

use std::time::{Duration, Instant};

/// Consecutive failures that open the circuit.
const FAILURES_TO_OPEN: u32 = 5;
/// How long the circuit first stays open; doubles after each failed probe.
const FIRST_OPEN: Duration = Duration::from_secs(1);
/// Longest the circuit stays open before the next probe.
const MAX_OPEN: Duration = Duration::from_secs(5);

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// No request is sent until `until`.
    Open { until: Instant },
    /// One probe is (or may be) in flight; the others wait for its result.
    HalfOpen { probing: bool },
}

/// One destination's breaker.
#[derive(Debug)]
pub struct Breaker {
    state: BreakerState,
    failures: u32,
    open_for: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Closed,
            failures: 0,
            open_for: FIRST_OPEN,
        }
    }
}

impl Breaker {
    /// The state, after letting an open circuit whose time is up become half-open.
    pub fn state(&mut self, now: Instant) -> BreakerState {
        if let BreakerState::Open { until } = self.state
            && now >= until
        {
            self.state = BreakerState::HalfOpen { probing: false };
        }
        self.state
    }

    /// How long a request must wait before it may be sent, if it may not be sent now. A
    /// request that may be sent is counted (as the probe, when half-open).
    pub fn admit(&mut self, now: Instant) -> Option<Duration> {
        match self.state(now) {
            BreakerState::Closed => None,
            BreakerState::Open { until } => Some(until - now),
            BreakerState::HalfOpen { probing: true } => Some(self.open_for.min(FIRST_OPEN)),
            BreakerState::HalfOpen { probing: false } => {
                self.state = BreakerState::HalfOpen { probing: true };
                None
            }
        }
    }

    /// Records a response that shows the destination works (any answer but a 5xx, 408 or 429).
    pub fn success(&mut self) {
        self.failures = 0;
        self.open_for = FIRST_OPEN;
        self.state = BreakerState::Closed;
    }

    /// Records a failure (no response, or a 5xx); opens the circuit when they repeat.
    pub fn failure(&mut self, now: Instant) {
        self.failures += 1;
        match self.state {
            BreakerState::HalfOpen { .. } => {
                self.open_for = (self.open_for * 2).min(MAX_OPEN);
                self.state = BreakerState::Open {
                    until: now + self.open_for,
                };
            }
            BreakerState::Closed if self.failures >= FAILURES_TO_OPEN => {
                self.state = BreakerState::Open {
                    until: now + self.open_for,
                };
            }
            _ => {}
        }
    }

    /// A request admitted as the probe went away without an answer (e.g. it was cancelled).
    pub fn abandoned(&mut self) {
        if self.state == (BreakerState::HalfOpen { probing: true }) {
            self.state = BreakerState::HalfOpen { probing: false };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_after_a_good_probe() {
        let mut b = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            assert_eq!(b.admit(t0), None);
            b.failure(t0);
        }
        assert!(b.admit(t0).is_some(), "open");
        let later = t0 + FIRST_OPEN;
        assert_eq!(b.admit(later), None, "the probe goes");
        assert!(b.admit(later).is_some(), "the others wait for the probe");
        b.failure(later);
        assert_eq!(
            b.state(later),
            BreakerState::Open {
                until: later + FIRST_OPEN * 2
            }
        );
        let again = later + FIRST_OPEN * 2;
        assert_eq!(b.admit(again), None);
        b.success();
        assert_eq!(b.admit(again), None);
        assert_eq!(b.admit(again), None, "closed: everyone goes");
    }
}
