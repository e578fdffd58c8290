//! What a mock CRM recorded: every request to [`USERS_PATH`](super::USERS_PATH) and the counters derived from
//! them, as a snapshot ([`Stats`]) and as the `GET /stats` body ([`StatsSummary`]).

use std::collections::BTreeMap;
use std::time::Instant;

use hyper::StatusCode;
use serde::{Deserialize, Serialize};

/// What the mock saw of one request to [`USERS_PATH`](super::USERS_PATH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `Idempotency-Key` header (lossily decoded), `""` if absent.
    pub key: String,
    /// The body's `Email` field, if it had a string one.
    pub email: Option<String>,
    /// Status answered; `None` while in flight or if the client went away.
    pub status: Option<StatusCode>,
    /// When the request's headers were received.
    pub received: Instant,
    /// When the response was handed to the connection; `None` as for `status`.
    pub responded: Option<Instant>,
}

/// Snapshot of everything a [`MockCrm`](super::MockCrm) has seen.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests to [`USERS_PATH`](super::USERS_PATH), whatever their outcome.
    pub requests: usize,
    /// Request count per idempotency key (`""` for requests without one).
    pub per_key: BTreeMap<String, u32>,
    /// Receive instants per idempotency key, in arrival order.
    pub received: BTreeMap<String, Vec<Instant>>,
    /// Every request, in arrival order.
    pub records: Vec<RequestRecord>,
    /// Distinct users created (by email).
    pub users: usize,
    /// Id of every created user, by email.
    pub user_ids: BTreeMap<String, String>,
    /// Requests currently being handled.
    pub in_flight: usize,
    /// Highest number of requests handled at once.
    pub max_concurrency: usize,
    /// Requests answered 429 (over the concurrency or rate limit).
    pub throttled: usize,
    /// Requests answered 503 (outage).
    pub unavailable: usize,
    /// When the first request arrived.
    pub first_request: Option<Instant>,
}

impl Stats {
    /// Number of non-empty idempotency keys that got exactly one 201 and no other 2xx.
    pub fn delivered_once(&self) -> usize {
        let mut created: BTreeMap<&str, u32> = BTreeMap::new();
        for record in &self.records {
            if record.status == Some(StatusCode::CREATED) && !record.key.is_empty() {
                *created.entry(&record.key).or_default() += 1;
            }
        }
        created.values().filter(|&&n| n == 1).count()
    }

    /// Highest number of requests in flight at once among those received at or after
    /// `from` (from the request records).
    pub fn peak_concurrency_since(&self, from: Instant) -> usize {
        let mut events: Vec<(Instant, i32)> = Vec::new();
        for r in &self.records {
            if r.received >= from {
                events.push((r.received, 1));
                events.push((r.responded.unwrap_or(r.received), -1));
            }
        }
        events.sort();
        let (mut now, mut peak) = (0i32, 0i32);
        for (_, delta) in events {
            now += delta;
            peak = peak.max(now);
        }
        peak.max(0) as usize
    }

    /// Number of requests seen with idempotency key `key`.
    pub fn count(&self, key: &str) -> u32 {
        self.per_key.get(key).copied().unwrap_or(0)
    }

    /// Number of distinct non-empty idempotency keys.
    pub fn distinct_keys(&self) -> usize {
        self.keyed().count()
    }

    /// Number of non-empty idempotency keys seen more than once.
    pub fn duplicate_keys(&self) -> usize {
        self.keyed().filter(|&(_, &n)| n > 1).count()
    }

    /// Number of requests beyond the first per non-empty idempotency key.
    pub fn duplicate_requests(&self) -> usize {
        self.keyed()
            .map(|(_, &n)| n.saturating_sub(1) as usize)
            .sum()
    }

    /// Number of requests without an idempotency key.
    pub fn unkeyed_requests(&self) -> usize {
        self.count("") as usize
    }

    /// The counters served by `GET /stats`.
    pub fn summary(&self) -> StatsSummary {
        StatsSummary {
            requests: self.requests,
            distinct_keys: self.distinct_keys(),
            duplicate_keys: self.duplicate_keys(),
            duplicate_requests: self.duplicate_requests(),
            unkeyed_requests: self.unkeyed_requests(),
            users: self.users,
            in_flight: self.in_flight,
            max_concurrency: self.max_concurrency,
            throttled: self.throttled,
            unavailable: self.unavailable,
        }
    }

    /// Per-key counts without the `""` (no key) entry.
    fn keyed(&self) -> impl Iterator<Item = (&String, &u32)> {
        self.per_key.iter().filter(|(k, _)| !k.is_empty())
    }
}

/// The JSON body of `GET /stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatsSummary {
    /// See [`Stats::requests`].
    pub requests: usize,
    /// See [`Stats::distinct_keys`].
    pub distinct_keys: usize,
    /// See [`Stats::duplicate_keys`].
    pub duplicate_keys: usize,
    /// See [`Stats::duplicate_requests`].
    pub duplicate_requests: usize,
    /// See [`Stats::unkeyed_requests`].
    pub unkeyed_requests: usize,
    /// See [`Stats::users`].
    pub users: usize,
    /// See [`Stats::in_flight`].
    pub in_flight: usize,
    /// See [`Stats::max_concurrency`].
    pub max_concurrency: usize,
    /// See [`Stats::throttled`].
    #[serde(default)]
    pub throttled: usize,
    /// See [`Stats::unavailable`].
    #[serde(default)]
    pub unavailable: usize,
}

impl StatsSummary {
    /// This summary as a one-line JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    }
}
