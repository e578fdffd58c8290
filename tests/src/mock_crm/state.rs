//! The mutable state behind a running mock CRM: its counters and records, and the check of
//! a request against the configured limits and outage.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::config::MockCrmConfig;
use super::stats::{RequestRecord, Stats};

/// State shared between the handle and the connection tasks.
#[derive(Debug)]
pub(super) struct Shared {
    /// Immutable configuration.
    pub(super) config: MockCrmConfig,
    /// Mutable counters.
    pub(super) state: Mutex<State>,
}

impl Shared {
    /// Locks the state, ignoring poisoning (nothing panics while holding it).
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counters and records behind [`Shared::state`].
#[derive(Debug, Default)]
pub(super) struct State {
    /// See [`Stats::requests`].
    pub(super) requests: usize,
    /// See [`Stats::per_key`].
    pub(super) per_key: BTreeMap<String, u32>,
    /// See [`Stats::received`].
    pub(super) received: BTreeMap<String, Vec<Instant>>,
    /// See [`Stats::records`].
    pub(super) records: Vec<RequestRecord>,
    /// Email each non-empty key first created a user for.
    pub(super) key_emails: HashMap<String, String>,
    /// See [`Stats::user_ids`].
    pub(super) user_ids: BTreeMap<String, String>,
    /// See [`Stats::in_flight`].
    pub(super) in_flight: usize,
    /// See [`Stats::max_concurrency`].
    pub(super) max_concurrency: usize,
    /// See [`Stats::throttled`].
    pub(super) throttled: usize,
    /// See [`Stats::unavailable`].
    pub(super) unavailable: usize,
    /// See [`Stats::first_request`].
    pub(super) first_request: Option<Instant>,
    /// When each request accepted in the last second arrived (for the rate limit).
    pub(super) accepted: VecDeque<Instant>,
}

impl State {
    /// Copies the state into a [`Stats`].
    pub(super) fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests,
            per_key: self.per_key.clone(),
            received: self.received.clone(),
            records: self.records.clone(),
            users: self.user_ids.len(),
            user_ids: self.user_ids.clone(),
            in_flight: self.in_flight,
            max_concurrency: self.max_concurrency,
            throttled: self.throttled,
            unavailable: self.unavailable,
            first_request: self.first_request,
        }
    }

    /// The limit a request arriving at `now` breaks, if any (counting it when it does not).
    pub(super) fn check_limits(
        &mut self,
        config: &MockCrmConfig,
        now: Instant,
    ) -> Option<StatusCode> {
        let first = *self.first_request.get_or_insert(now);
        if let Some(outage) = config.outage {
            let since = now.duration_since(first);
            if since >= outage.start && since < outage.start + outage.length {
                self.unavailable += 1;
                return Some(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        // `in_flight` already counts this request.
        if config
            .max_concurrency
            .is_some_and(|max| self.in_flight > max)
        {
            self.throttled += 1;
            return Some(StatusCode::TOO_MANY_REQUESTS);
        }
        if let Some(rate) = config.rate_limit {
            while self
                .accepted
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                self.accepted.pop_front();
            }
            if self.accepted.len() >= rate {
                self.throttled += 1;
                return Some(StatusCode::TOO_MANY_REQUESTS);
            }
            self.accepted.push_back(now);
        }
        None
    }
}
