//! Durable timers: `sleep-until`.
//!
//! A timer that is already due, or due within [`SHORT_SLEEP`], is waited for in memory and
//! journaled when it fires. A later one suspends the invocation: the host call fails with
//! [`Suspend`], the executor records the timer and drops the instance, and the timer service
//! resumes the invocation when it is due; the replay then reaches this call again, finds the
//! timer due, and journals it. A journaled timer is never waited for again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{StepRequest, Steps, mismatched};
use crate::bindings::Timestamp;
use crate::journal::Outcome;

/// Longest wait served in memory rather than by suspending the invocation.
pub const SHORT_SLEEP: Duration = Duration::from_secs(1);

/// The invocation must wait; surfaces as the root cause of the trap.
#[derive(Debug, thiserror::Error)]
pub enum Suspend {
    /// Until a timer is due (ms since the Unix epoch).
    #[error("suspended until a timer is due at {due_ms} ms")]
    Timer { due_ms: u64 },
}

fn to_system_time(when: &Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::new(when.seconds, when.nanoseconds.min(999_999_999))
}

/// RFC 3339 text of `when`.
pub(super) fn rfc3339(when: &Timestamp) -> String {
    humantime::format_rfc3339_millis(to_system_time(when)).to_string()
}

/// Journaled wait until `when`.
pub async fn sleep_until(steps: &mut Steps, when: Timestamp) -> wasmtime::Result<()> {
    if !steps.replaying() {
        let due = to_system_time(&when);
        if let Ok(left) = due.duration_since(SystemTime::now()) {
            if left > SHORT_SLEEP {
                let due_ms = due
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                return Err(Suspend::Timer { due_ms }.into());
            }
            tokio::time::sleep(left).await;
        }
    }
    match steps.take(StepRequest::Timer { when }).await? {
        Outcome::Unit => Ok(()),
        other => Err(mismatched("timer", &other)),
    }
}
