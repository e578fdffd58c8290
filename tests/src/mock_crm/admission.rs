//! Admission of a request to [`USERS_PATH`](super::USERS_PATH): counted on arrival, its outcome recorded, and
//! out of the in-flight count when it is done.

use std::sync::Arc;
use std::time::Instant;

use hyper::StatusCode;

use super::state::Shared;
use super::stats::RequestRecord;

/// One counted, in-flight request to [`USERS_PATH`](super::USERS_PATH); leaves the in-flight count on drop.
#[derive(Debug)]
pub(super) struct Admission {
    /// Where to report.
    shared: Arc<Shared>,
    /// Index of this request's [`RequestRecord`].
    record: usize,
}

impl Admission {
    /// Counts a request that arrived at `received` with idempotency key `key`.
    pub(super) fn admit(shared: &Arc<Shared>, key: String, received: Instant) -> Self {
        let mut state = shared.lock();
        state.requests += 1;
        let count = state.per_key.entry(key.clone()).or_default();
        *count = count.saturating_add(1);
        state
            .received
            .entry(key.clone())
            .or_default()
            .push(received);
        state.in_flight += 1;
        state.max_concurrency = state.max_concurrency.max(state.in_flight);
        let record = state.records.len();
        state.records.push(RequestRecord {
            key,
            email: None,
            status: None,
            received,
            responded: None,
        });
        Self {
            shared: Arc::clone(shared),
            record,
        }
    }

    /// Records the outcome; the in-flight count drops when `self` does.
    pub(super) fn finish(self, email: Option<String>, status: StatusCode) {
        let mut state = self.shared.lock();
        if let Some(record) = state.records.get_mut(self.record) {
            record.email = email;
            record.status = Some(status);
            record.responded = Some(Instant::now());
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}
