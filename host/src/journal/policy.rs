//! How a deployment's retry and rerun policies are stored.
//!
//! The policies users write (JSON, `outbound::Policy`) are converted to these at deploy time
//! and back when used: the API's shape can change without touching stored deployments, and
//! these types change only with a new format. Field order is the encoding; `formats` pins it.
//! Deployments written before `on_exhausted` existed decode as [`StoredPolicyV1`].

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

/// What happens to an invocation when the host's attempts run out: the attempts at an HTTP
/// step, or the reruns of a function that traps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exhausted {
    /// The step returns its last outcome to the function (an HTTP step), or the invocation
    /// fails (reruns).
    #[default]
    Fail,
    /// The invocation is paused at that point, to be resumed (with fresh attempts) once what
    /// failed is fixed.
    Pause,
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
    /// What every function does when the host's attempts run out.
    pub on_exhausted: Option<Exhausted>,
}

/// The stored policies of one function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFunctionPolicy {
    /// Retry policy of this function's HTTP calls.
    pub retry: Option<StoredRetry>,
    /// How this function is run again.
    pub rerun: Option<StoredRetry>,
    /// What this function does when the host's attempts run out.
    pub on_exhausted: Option<Exhausted>,
}

/// A deployment policy as format 1 stored it, before `on_exhausted`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicyV1 {
    pub(super) retry: Option<StoredRetry>,
    pub(super) rerun: Option<StoredRetry>,
    pub(super) functions: BTreeMap<String, StoredFunctionPolicyV1>,
}

/// A function's policies as format 1 stored them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFunctionPolicyV1 {
    pub(super) retry: Option<StoredRetry>,
    pub(super) rerun: Option<StoredRetry>,
}

impl From<StoredPolicyV1> for StoredPolicy {
    fn from(old: StoredPolicyV1) -> Self {
        StoredPolicy {
            retry: old.retry,
            rerun: old.rerun,
            functions: old
                .functions
                .into_iter()
                .map(|(name, f)| {
                    let policy = StoredFunctionPolicy {
                        retry: f.retry,
                        rerun: f.rerun,
                        on_exhausted: None,
                    };
                    (name, policy)
                })
                .collect(),
            on_exhausted: None,
        }
    }
}
