//! How a deployment's retry and rerun policies are stored.
//!
//! The policies users write (JSON, `outbound::Policy`) are converted to these at deploy time
//! and back when used: the API's shape can change without touching stored deployments, and
//! these types change only with a new format. Field order is the encoding; `formats` pins it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A stored retry policy (see `outbound::RetryPolicy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRetry {
    /// Most attempts in all.
    pub max_attempts: u32,
    /// The first backoff's upper bound, in ms.
    pub initial_delay_ms: u64,
    /// Largest backoff, in ms.
    pub max_delay_ms: u64,
    /// No new attempt starts later than this many ms after the first.
    pub deadline_ms: u64,
}

/// A stored deployment policy: for all functions, and per function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// Retry policy of every function's HTTP calls.
    pub retry: Option<StoredRetry>,
    /// How every function is run again after a trap or a retryable error.
    pub rerun: Option<StoredRetry>,
    /// Overrides per function name.
    pub functions: BTreeMap<String, StoredFunctionPolicy>,
}

/// The stored policies of one function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFunctionPolicy {
    /// Retry policy of this function's HTTP calls.
    pub retry: Option<StoredRetry>,
    /// How this function is run again.
    pub rerun: Option<StoredRetry>,
}
