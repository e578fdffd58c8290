//! The retry policy of journaled HTTP calls: which outcomes are transient, and how long to
//! wait before the next attempt.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use crate::journal::Exhausted;
use crate::journal::{
    HttpError, HttpOutcome, HttpResponse, StoredFunctionPolicy, StoredPolicy, StoredRetry,
};

/// How a journaled HTTP call is retried when it fails transiently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Most attempts in all (1 means no retry).
    pub max_attempts: u32,
    /// The first backoff's upper bound, in ms; each next one doubles, up to `max_delay_ms`.
    pub initial_delay_ms: u64,
    /// Largest backoff, in ms (a longer `Retry-After` is still honoured).
    pub max_delay_ms: u64,
    /// No new attempt starts later than this many ms after the first.
    pub deadline_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 30,
            initial_delay_ms: 200,
            max_delay_ms: 30_000,
            deadline_ms: 15 * 60 * 1000,
        }
    }
}

/// The policies a deployment sets: for all its functions, and per function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Retry policy of HTTP calls of every function (else the host default).
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// How functions that trap or return a retryable error are run again (else
    /// [`RetryPolicy::rerun_default`]).
    #[serde(default)]
    pub rerun: Option<RetryPolicy>,
    /// Overrides per function name.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionPolicy>,
    /// What every function does when the host's attempts run out (else `fail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<Exhausted>,
}

/// The policies of one function.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionPolicy {
    /// Retry policy of this function's HTTP calls.
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// How this function is run again after a trap or a retryable error.
    #[serde(default)]
    pub rerun: Option<RetryPolicy>,
    /// What this function does when the host's attempts run out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<Exhausted>,
}

impl Policy {
    /// The retry policy of `function`.
    pub fn retry_for(&self, function: &str) -> RetryPolicy {
        self.functions
            .get(function)
            .and_then(|f| f.retry.clone())
            .or_else(|| self.retry.clone())
            .unwrap_or_default()
    }

    /// How `function` is run again after a trap or a retryable error.
    pub fn rerun_for(&self, function: &str) -> RetryPolicy {
        self.functions
            .get(function)
            .and_then(|f| f.rerun.clone())
            .or_else(|| self.rerun.clone())
            .unwrap_or_else(RetryPolicy::rerun_default)
    }

    /// What `function` does when the host's attempts at a step, or its reruns, run out.
    pub fn exhausted_for(&self, function: &str) -> Exhausted {
        self.functions
            .get(function)
            .and_then(|f| f.on_exhausted)
            .or(self.on_exhausted)
            .unwrap_or_default()
    }

    /// Checks every policy, and that the functions named exist in `exported`.
    pub fn validate(&self, exported: &[String]) -> Result<(), String> {
        for (name, policy) in [("retry", &self.retry), ("rerun", &self.rerun)] {
            if let Some(policy) = policy {
                policy
                    .validate()
                    .map_err(|e| format!("policy: `{name}`: {e}"))?;
            }
        }
        for (name, function) in &self.functions {
            if !exported.contains(name) {
                return Err(format!(
                    "policy: `functions.{name}`: the component exports no function `{name}`; it exports: {}",
                    exported.join(", ")
                ));
            }
            for policy in [&function.retry, &function.rerun].into_iter().flatten() {
                policy
                    .validate()
                    .map_err(|e| format!("policy: `functions.{name}`: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Why a retry policy was refused.
#[derive(Debug, thiserror::Error)]
#[error("retry policy: `{field}` {problem}")]
pub struct PolicyError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl RetryPolicy {
    /// The default for running a function again after a trap or a retryable error: 3 runs in
    /// all, 1 s then up to 10 s apart, within 15 minutes.
    pub fn rerun_default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_delay_ms: 1000,
            max_delay_ms: 10_000,
            deadline_ms: 15 * 60 * 1000,
        }
    }

    /// Checks the fields make sense together.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field, problem: &str| {
            Err(PolicyError {
                field,
                problem: problem.to_string(),
            })
        };
        if self.max_attempts == 0 || self.max_attempts > 1000 {
            return bad("max_attempts", "must be between 1 and 1000");
        }
        if self.initial_delay_ms == 0 {
            return bad("initial_delay_ms", "must be at least 1");
        }
        if self.max_delay_ms < self.initial_delay_ms {
            return bad("max_delay_ms", "must be at least `initial_delay_ms`");
        }
        if self.deadline_ms == 0 {
            return bad("deadline_ms", "must be at least 1");
        }
        Ok(())
    }

    /// The wait before the next attempt after `failed` failed attempts: full jitter over an
    /// exponentially growing bound, but never less than the server's `Retry-After`.
    pub fn backoff(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = failed.saturating_sub(1).min(30);
        let bound = self
            .initial_delay_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_delay_ms);
        let jitter = Duration::from_millis(rand::rng().random_range(0..=bound));
        match retry_after {
            // Spread the retries a little so they do not all arrive at once.
            Some(after) => after + jitter.min(Duration::from_millis(self.initial_delay_ms)),
            None => jitter,
        }
    }
}

/// Whether an outcome is worth another attempt: no response (connect, timeout, transport),
/// or 408, 429, 500, 502, 503, 504.
pub fn transient(outcome: &HttpOutcome) -> bool {
    match outcome {
        Ok(response) => matches!(response.status, 408 | 429 | 500 | 502 | 503 | 504),
        Err(HttpError::Connect(_) | HttpError::Timeout | HttpError::Transport(_)) => true,
        Err(HttpError::InvalidRequest(_) | HttpError::ResponseTooLarge(_)) => false,
    }
}

/// The `Retry-After` of a response, in seconds or as an HTTP date (at most an hour is
/// taken; a date already past is no wait).
pub fn retry_after(response: &HttpResponse) -> Option<Duration> {
    retry_after_at(response, std::time::SystemTime::now())
}

/// [`retry_after`] as seen at `now`.
fn retry_after_at(response: &HttpResponse, now: std::time::SystemTime) -> Option<Duration> {
    let value = response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))?
        .1
        .trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(Duration::from_secs(3600)))
}

/// The stored form of a policy (what a deployment keeps).
impl From<&Policy> for StoredPolicy {
    fn from(policy: &Policy) -> Self {
        StoredPolicy {
            retry: policy.retry.as_ref().map(StoredRetry::from),
            rerun: policy.rerun.as_ref().map(StoredRetry::from),
            functions: policy
                .functions
                .iter()
                .map(|(name, f)| {
                    let stored = StoredFunctionPolicy {
                        retry: f.retry.as_ref().map(StoredRetry::from),
                        rerun: f.rerun.as_ref().map(StoredRetry::from),
                        on_exhausted: f.on_exhausted,
                    };
                    (name.clone(), stored)
                })
                .collect(),
            on_exhausted: policy.on_exhausted,
        }
    }
}

/// A stored policy as it is used.
impl From<&StoredPolicy> for Policy {
    fn from(stored: &StoredPolicy) -> Self {
        Policy {
            retry: stored.retry.as_ref().map(RetryPolicy::from),
            rerun: stored.rerun.as_ref().map(RetryPolicy::from),
            functions: stored
                .functions
                .iter()
                .map(|(name, f)| {
                    let policy = FunctionPolicy {
                        retry: f.retry.as_ref().map(RetryPolicy::from),
                        rerun: f.rerun.as_ref().map(RetryPolicy::from),
                        on_exhausted: f.on_exhausted,
                    };
                    (name.clone(), policy)
                })
                .collect(),
            on_exhausted: stored.on_exhausted,
        }
    }
}

impl From<&RetryPolicy> for StoredRetry {
    fn from(p: &RetryPolicy) -> Self {
        StoredRetry {
            max_attempts: p.max_attempts,
            initial_delay_ms: p.initial_delay_ms,
            max_delay_ms: p.max_delay_ms,
            deadline_ms: p.deadline_ms,
        }
    }
}

impl From<&StoredRetry> for RetryPolicy {
    fn from(s: &StoredRetry) -> Self {
        RetryPolicy {
            max_attempts: s.max_attempts,
            initial_delay_ms: s.initial_delay_ms,
            max_delay_ms: s.max_delay_ms,
            deadline_ms: s.deadline_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn transient_outcomes_are_the_retryable_statuses_and_missing_responses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(transient(&Ok(response(status, &[]))), "{status}");
        }
        for status in [200, 201, 400, 401, 404, 409, 422, 501] {
            assert!(!transient(&Ok(response(status, &[]))), "{status}");
        }
        assert!(transient(&Err(HttpError::Timeout)));
        assert!(transient(&Err(HttpError::Connect("refused".into()))));
        assert!(!transient(&Err(HttpError::InvalidRequest("bad".into()))));
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_honours_retry_after() {
        let policy = RetryPolicy::default();
        for failed in 1..=12 {
            let bound = (200u64 << (failed - 1)).min(30_000);
            let wait = policy.backoff(failed, None);
            assert!(wait <= Duration::from_millis(bound), "{failed}: {wait:?}");
        }
        let after = policy.backoff(1, Some(Duration::from_secs(2)));
        assert!(after >= Duration::from_secs(2) && after <= Duration::from_millis(2200));
        let r = response(429, &[("Retry-After", "3")]);
        assert_eq!(retry_after(&r), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(&response(429, &[("retry-after", "soon")])),
            None
        );
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_it() {
        let now = httpdate::parse_http_date("Wed, 02 Dec 2026 10:00:00 GMT").expect("date");
        let at = |date: &str| retry_after_at(&response(503, &[("Retry-After", date)]), now);
        assert_eq!(
            at("Wed, 02 Dec 2026 10:00:07 GMT"),
            Some(Duration::from_secs(7))
        );
        // The obsolete forms HTTP still allows.
        assert_eq!(
            at("Wednesday, 02-Dec-26 10:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            at("Wed Dec  2 10:01:00 2026"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            at("Wed, 02 Dec 2026 09:59:00 GMT"),
            Some(Duration::ZERO),
            "past"
        );
        assert_eq!(
            at("Thu, 03 Dec 2026 10:00:00 GMT"),
            Some(Duration::from_secs(3600)),
            "capped"
        );
        assert_eq!(at("Wed, 32 Dec 2026 10:00:00 GMT"), None);
    }

    #[test]
    fn bad_policies_name_the_field() {
        let policy = RetryPolicy {
            max_delay_ms: 10,
            ..RetryPolicy::default()
        };
        let err = policy.validate().expect_err("max < initial");
        assert_eq!(err.field, "max_delay_ms");
        assert!(RetryPolicy::default().validate().is_ok());
    }

    #[test]
    fn a_policy_survives_being_stored() {
        let policy: Policy = serde_json::from_str(
            r#"{"retry": {"max_attempts": 4}, "on_exhausted": "pause",
                "functions": {"f": {"rerun": {"max_attempts": 2}, "on_exhausted": "fail"}}}"#,
        )
        .expect("a policy");
        assert_eq!(Policy::from(&StoredPolicy::from(&policy)), policy);
        assert_eq!(policy.exhausted_for("f"), Exhausted::Fail);
        assert_eq!(policy.exhausted_for("g"), Exhausted::Pause);
        assert_eq!(Policy::default().exhausted_for("g"), Exhausted::Fail);
    }
}
