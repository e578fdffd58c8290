//! Clocks: the reprise `now` call and the journaled WASI wall and monotonic clocks.

use std::time::UNIX_EPOCH;

use super::{StepRequest, Steps, mismatched};
use crate::bindings::Timestamp;
use crate::journal::Outcome;

/// The wall clock now.
pub(super) fn wall_clock() -> Outcome {
    let since = crate::clock::system_now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Outcome::Time {
        seconds: since.as_secs(),
        nanoseconds: since.subsec_nanos(),
    }
}

/// A monotonic instant: nanoseconds since the epoch, never below `last`, so that time does
/// not go back when an invocation continues in another process.
pub(super) fn monotonic(last: u64) -> Outcome {
    let now = crate::clock::system_now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Outcome::Instant(now.max(last))
}

/// Journaled wall-clock time.
pub async fn now(steps: &mut Steps) -> wasmtime::Result<Timestamp> {
    match steps.take(StepRequest::WallClock).await? {
        Outcome::Time {
            seconds,
            nanoseconds,
        } => Ok(Timestamp {
            seconds,
            nanoseconds,
        }),
        other => Err(mismatched("wall clock", &other)),
    }
}

/// Journaled monotonic-clock time in nanoseconds.
pub async fn instant(steps: &mut Steps) -> wasmtime::Result<u64> {
    match steps.take(StepRequest::MonotonicClock).await? {
        Outcome::Instant(ns) => Ok(ns),
        other => Err(mismatched("monotonic clock", &other)),
    }
}
