//! One destination (tenant, host:port): an AIMD concurrency limit, a circuit breaker, an
//! optional fixed rate limit, and the queue of requests waiting for a permit.
//!
//! A request gets a [`Permit`] at once when the destination has room. Otherwise it waits in
//! memory if the queue is short; when it is long (or the circuit is open, or the rate limit
//! has no token soon) it is told how long to wait instead ([`Admit::Wait`]), so that its
//! invocation can suspend and free its execution slot: requests over a destination's limit
//! never hold up calls to other destinations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Notify;

use super::breaker::{Breaker, BreakerState};

pub use crate::metrics::DestinationStats;

/// The concurrency limit a destination starts with.
const INITIAL_LIMIT: f64 = 8.0;
/// The highest concurrency limit.
const MAX_LIMIT: f64 = 512.0;
/// Multiplicative decrease on overload.
const DECREASE: f64 = 0.5;
/// At most one decrease per this long (the answers to one burst count once).
const DECREASE_COOLDOWN: Duration = Duration::from_millis(250);
/// Longest a request waits in memory for a permit; longer waits are handed back.
const MAX_QUEUE_WAIT: Duration = Duration::from_secs(1);
/// Longest wait handed back for lack of room: those handed back look again at least this
/// often, so a limit that recovers (e.g. after an outage) is used at once.
const MAX_HANDED_BACK: Duration = Duration::from_secs(5);

/// What an attempt's outcome says about the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It answered normally: additive increase; closes the breaker.
    Success,
    /// It is overloaded (429, or a timeout): multiplicative decrease.
    Overloaded,
    /// It is failing (no connection, 5xx): multiplicative decrease and a breaker failure.
    Failed,
}

/// The answer to a request for a permit.
pub enum Admit {
    /// Send now; drop the permit when the exchange is over.
    Go(Permit),
    /// Do not send before this long has passed (the circuit is open, or the queue is long).
    Wait(Duration),
}

/// One destination.
pub struct Destination {
    state: Mutex<State>,
    freed: Notify,
}

struct State {
    limit: f64,
    in_flight: u32,
    queued: u32,
    last_decrease: Instant,
    breaker: Breaker,
    /// Mean time of an exchange, for estimating waits.
    latency: Duration,
    /// Fixed rate limit: requests per second, and when the next one may start.
    rate: Option<f64>,
    next_start: Instant,
    /// When the next request handed back for lack of room should come back.
    next_deferred: Instant,
}

impl Destination {
    fn new(rate: Option<f64>) -> Self {
        let now = Instant::now();
        Destination {
            state: Mutex::new(State {
                limit: INITIAL_LIMIT,
                in_flight: 0,
                queued: 0,
                last_decrease: now,
                breaker: Breaker::default(),
                latency: Duration::from_millis(100),
                rate,
                next_start: now,
                next_deferred: now,
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for a permit to send one request.
    pub async fn admit(self: &Arc<Self>) -> Admit {
        loop {
            let wait = match self.try_admit() {
                Ok(answer) => return answer,
                Err(wait) => wait,
            };
            let _queued = Queued(self);
            if wait.is_zero() {
                self.freed.notified().await;
            } else {
                tokio::select! {
                    () = self.freed.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    /// A permit or a wait to hand back; `Err(wait)` queues the request in memory (counted
    /// in `queued`), to look again when a permit is freed or after `wait` (the rate limit).
    fn try_admit(self: &Arc<Self>) -> Result<Admit, Duration> {
        let mut s = self.lock();
        let now = Instant::now();
        if let Some(open) = s.breaker.admit(now) {
            return Ok(Admit::Wait(open));
        }
        let rate_wait = s.next_start.saturating_duration_since(now);
        if f64::from(s.in_flight) < s.limit.floor() && rate_wait.is_zero() {
            s.in_flight += 1;
            if let Some(rate) = s.rate {
                s.next_start = now.max(s.next_start) + Duration::from_secs_f64(1.0 / rate);
            }
            return Ok(Admit::Go(Permit {
                destination: self.clone(),
                started: now,
                answered: false,
            }));
        }
        // Estimated wait for a permit: the queue ahead drains `limit` per exchange.
        let ahead = f64::from(s.queued + 1);
        let estimate = s.latency.mul_f64(ahead / s.limit.max(1.0)).max(rate_wait);
        if estimate > MAX_QUEUE_WAIT {
            // Hand it back with its own slot in a virtual queue, so that those handed back
            // come back spread over time rather than all at once.
            let spacing = s.latency.mul_f64(1.0 / s.limit.max(1.0));
            let at = (now.max(s.next_deferred) + spacing).min(now + MAX_HANDED_BACK);
            s.next_deferred = at;
            let jitter = rand::rng().random_range(0.9..1.1);
            return Ok(Admit::Wait((at - now).max(MAX_QUEUE_WAIT).mul_f64(jitter)));
        }
        s.queued += 1;
        Err(rate_wait)
    }

    /// Records what the exchange of `permit` says about the destination, and releases it.
    pub fn record(&self, mut permit: Permit, verdict: Verdict) {
        let elapsed = permit.started.elapsed();
        {
            let mut s = self.lock();
            let now = Instant::now();
            match verdict {
                Verdict::Success => {
                    s.limit = (s.limit + 1.0 / s.limit).min(MAX_LIMIT);
                    s.latency = s.latency.mul_f64(0.9) + elapsed.mul_f64(0.1);
                    s.breaker.success();
                }
                Verdict::Overloaded | Verdict::Failed => {
                    if now.duration_since(s.last_decrease) >= DECREASE_COOLDOWN {
                        s.limit = (s.limit * DECREASE).max(1.0);
                        s.last_decrease = now;
                    }
                    if verdict == Verdict::Failed {
                        s.breaker.failure(now);
                    } else {
                        s.breaker.abandoned();
                    }
                }
            }
        }
        permit.answered = true;
    }

    fn snapshot(&self, tenant: &str, destination: &str) -> DestinationStats {
        let mut s = self.lock();
        let breaker = match s.breaker.state(Instant::now()) {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        };
        DestinationStats {
            tenant: tenant.to_string(),
            destination: destination.to_string(),
            limit: s.limit,
            in_flight: s.in_flight,
            queued: s.queued,
            breaker,
        }
    }
}

/// One request waiting in memory; leaves the queue when dropped (also when its task is).
struct Queued<'a>(&'a Destination);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.queued = s.queued.saturating_sub(1);
    }
}

/// The right to send one request to a destination; dropping it unanswered (e.g. when the
/// invocation is cancelled mid-request) gives it back without a verdict.
pub struct Permit {
    destination: Arc<Destination>,
    started: Instant,
    answered: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.destination.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if !self.answered {
            s.breaker.abandoned();
        }
        drop(s);
        self.destination.freed.notify_one();
    }
}

/// Every destination of this host, by (tenant, `host:port`).
#[derive(Default)]
pub struct Destinations {
    map: Mutex<HashMap<(String, String), Arc<Destination>>>,
    /// Fixed rate limits (requests per second) by `host:port`.
    rates: HashMap<String, f64>,
}

impl Destinations {
    /// A registry applying `rates` (requests per second by `host:port`).
    pub fn new(rates: HashMap<String, f64>) -> Self {
        Destinations {
            map: Mutex::new(HashMap::new()),
            rates,
        }
    }

    /// The destination `host_port` of `tenant`.
    pub fn get(&self, tenant: &str, host_port: &str) -> Arc<Destination> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry((tenant.to_string(), host_port.to_string()))
            .or_insert_with(|| Arc::new(Destination::new(self.rates.get(host_port).copied())))
            .clone()
    }

    /// A snapshot of every destination.
    pub fn stats(&self) -> Vec<DestinationStats> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<_> = map
            .iter()
            .map(|((tenant, dest), d)| d.snapshot(tenant, dest))
            .collect();
        out.sort_by(|a, b| (&a.tenant, &a.destination).cmp(&(&b.tenant, &b.destination)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_rate_limit_spaces_the_requests() {
        let dest = Arc::new(Destination::new(Some(20.0)));
        let started = Instant::now();
        for _ in 0..5 {
            let Admit::Go(permit) = dest.admit().await else {
                panic!("a short wait is spent in memory")
            };
            dest.record(permit, Verdict::Success);
        }
        // Five requests at 20/s: the last starts 4 × 50 ms after the first.
        assert!(
            started.elapsed() >= Duration::from_millis(195),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_limit_grows_on_success_and_halves_on_overload() {
        let dest = Arc::new(Destination::new(None));
        let mut permits = Vec::new();
        for _ in 0..8 {
            match dest.admit().await {
                Admit::Go(p) => permits.push(p),
                Admit::Wait(_) => panic!("room for the initial limit"),
            }
        }
        for p in permits {
            dest.record(p, Verdict::Success);
        }
        let grown = dest.lock().limit;
        assert!(grown > INITIAL_LIMIT, "{grown}");
        let Admit::Go(p) = dest.admit().await else {
            panic!("room")
        };
        dest.lock().last_decrease = Instant::now() - DECREASE_COOLDOWN;
        dest.record(p, Verdict::Overloaded);
        let halved = dest.lock().limit;
        assert!((halved - grown * DECREASE).abs() < 1e-9, "{halved}");
        assert_eq!(dest.lock().in_flight, 0);
    }

    #[tokio::test]
    async fn over_the_limit_a_request_waits_for_a_permit_then_a_long_queue_is_handed_back() {
        let dest = Arc::new(Destination::new(None));
        let mut permits = Vec::new();
        while let Admit::Go(p) = tokio::time::timeout(Duration::from_millis(50), dest.admit())
            .await
            .unwrap_or(Admit::Wait(Duration::ZERO))
        {
            permits.push(p);
        }
        assert_eq!(permits.len(), 8);
        // A waiter gets the permit an exchange gives back.
        let waiter = tokio::spawn({
            let dest = dest.clone();
            async move { matches!(dest.admit().await, Admit::Go(_)) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        dest.record(permits.pop().expect("permit"), Verdict::Success);
        assert!(waiter.await.expect("waiter"));
        let Admit::Go(refill) = dest.admit().await else {
            panic!("the waiter's permit is free again")
        };
        permits.push(refill);
        // With a slow destination and a long queue, requests are handed back to wait.
        dest.lock().latency = Duration::from_secs(10);
        assert!(matches!(dest.admit().await, Admit::Wait(d) if d >= Duration::from_millis(900)));
    }
}
