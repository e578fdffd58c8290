//! Durable waiting: timers, signals, and waiting on several things at once.
//!
//! Every wait is journaled. A wait that is not over suspends the invocation: the host keeps
//! nothing in memory for it, and resumes it by replay when the wait is over — seconds or
//! weeks later, across host restarts. A replay does not wait again.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::reprise::function::host;
use crate::bindings::reprise::function::types::{AwaitMode, Awaitable as WitAwaitable, Timestamp};

/// Something to wait for: a child invocation, a point in time, or a signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Awaitable {
    /// A child invocation (by id) to finish: its JSON output, or its error.
    Child(String),
    /// A wall-clock time to be reached: an empty output.
    Timer(SystemTime),
    /// The next signal of this name sent to this invocation: its JSON payload.
    Signal(String),
}

/// A timer that fires at `when`.
pub fn timer(when: SystemTime) -> Awaitable {
    Awaitable::Timer(when)
}

/// A timer that fires `after` from now.
pub fn timeout(after: Duration) -> Awaitable {
    Awaitable::Timer(crate::now() + after)
}

/// The next signal named `name` (letters, digits, `_` and `-`).
pub fn signal(name: &str) -> Awaitable {
    Awaitable::Signal(name.to_string())
}

/// How one awaited item ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Its position in the list waited on.
    pub index: usize,
    /// Its JSON output (empty for a timer), or its error message.
    pub outcome: Result<Vec<u8>, String>,
}

impl Settled {
    /// Decodes the JSON output (a child's result or a signal's payload) as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match &self.outcome {
            Ok(bytes) => serde_json::from_slice(bytes).map_err(|e| {
                Error::msg(format!(
                    "cannot decode the output of item {}: {e}",
                    self.index
                ))
            }),
            Err(message) => Err(Error::msg(format!("item {} failed: {message}", self.index))),
        }
    }
}

/// Waits until every item has succeeded, or one has failed. Returns every outcome in order,
/// or the first failure.
pub fn all(items: &[Awaitable]) -> Result<Vec<Vec<u8>>, Settled> {
    let settled = wait_for(items, AwaitMode::All);
    if let Some(failed) = settled.iter().find(|s| s.outcome.is_err()) {
        return Err(failed.clone());
    }
    Ok(settled
        .into_iter()
        .map(|s| s.outcome.unwrap_or_default())
        .collect())
}

/// Waits until one item has succeeded (returned), or all have failed (every failure, in
/// order).
pub fn any(items: &[Awaitable]) -> Result<Settled, Vec<Settled>> {
    let settled = wait_for(items, AwaitMode::Any);
    match settled.iter().position(|s| s.outcome.is_ok()) {
        Some(at) => Ok(settled[at].clone()),
        None => Err(settled),
    }
}

/// Waits until one item has finished, either way, and returns it (the first in order if
/// several finished together). The others are left as they are: children keep running and
/// signals not received stay for a later wait.
///
/// ```no_run
/// use std::time::Duration;
/// use reprise_sdk::wait::{race, signal, timeout};
///
/// let first = race(&[signal("approval"), timeout(Duration::from_secs(3 * 24 * 3600))]);
/// let approved = first.index == 0;
/// ```
pub fn race(items: &[Awaitable]) -> Settled {
    wait_for(items, AwaitMode::Race)
        .into_iter()
        .next()
        .expect("the host settled a race without a winner")
}

/// Waits for the next signal `name` sent to this invocation and decodes its JSON payload.
/// A signal sent before the wait is kept for it; several are received in the order sent.
pub fn await_signal<T: DeserializeOwned>(name: &str) -> Result<T, Error> {
    race(&[signal(name)]).json()
}

/// Waits for `duration`, durably: a long sleep suspends the invocation (no memory is held)
/// and survives host restarts; a replay does not wait again.
pub fn sleep(duration: Duration) {
    sleep_until(crate::now() + duration);
}

/// Waits until wall-clock time `when`, durably (see [`sleep`]).
pub fn sleep_until(when: SystemTime) {
    let _ = all(&[timer(when)]);
}

/// The host wait: the settled items, in order.
fn wait_for(items: &[Awaitable], mode: AwaitMode) -> Vec<Settled> {
    let wit: Vec<WitAwaitable> = items.iter().map(to_wit).collect();
    host::wait_for(&wit, mode)
        .into_iter()
        .enumerate()
        .filter_map(|(index, outcome)| outcome.map(|outcome| Settled { index, outcome }))
        .collect()
}

fn to_wit(item: &Awaitable) -> WitAwaitable {
    match item {
        Awaitable::Child(id) => WitAwaitable::Child(id.clone()),
        Awaitable::Timer(when) => {
            let since = when
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            WitAwaitable::Timer(Timestamp {
                seconds: since.as_secs(),
                nanoseconds: since.subsec_nanos(),
            })
        }
        Awaitable::Signal(name) => WitAwaitable::Signal(name.clone()),
    }
}
