//! `wait-for`: waiting on timers, children and signals, and the WASI monotonic-clock sleeps.
//!
//! A wait is one journaled step. Live, the host looks at what has happened: if that satisfies
//! the wait, the step records how each counting item ended (and receives the signals among
//! them, in the same transaction). If not, and only a timer due within [`SHORT_SLEEP`] could
//! change that, it waits in memory and looks again. Otherwise the call fails with [`Suspend`]:
//! the executor records the wait, drops the instance, and the invocation is resumed by replay
//! once the events the writer counts have satisfied the wait; the replay reaches this call
//! again, finds the wait satisfied, and journals it.
//!
//! A wait on timers alone that ends within [`SHORT_SLEEP`] is the exception: its outcome is
//! known in advance, so it is journaled when it starts and the cursor then sleeps until it ends
//! (in a replay too, for whatever time is left). The durable write overlaps the sleep instead
//! of following it. Every other journaled wait is never waited for again.

use std::collections::HashSet;
use std::time::Duration;

use super::children::parse_handle;
use super::{Live, StepError, StepRequest, Steps, mismatched};
use crate::bindings::Timestamp;
use crate::bindings::reprise::function::types::{AwaitMode as WitMode, Awaitable as WitAwaitable};
use crate::ids::InvocationId;
use crate::journal::waits::{self, Resolution};
use crate::journal::{
    AwaitMode, Awaitable, InvocationState, Outcome, RetryState, Settled, StepEffect,
};

/// Longest wait for a timer served in memory rather than by suspending the invocation.
pub const SHORT_SLEEP: Duration = Duration::from_secs(1);

/// The invocation must wait; surfaces as the root cause of the trap.
#[derive(Debug, thiserror::Error)]
pub enum Suspend {
    /// Until `items` satisfy `mode`; the wait step is at `seq`.
    #[error("suspended at step {seq} until a wait is over")]
    Wait {
        seq: u32,
        mode: AwaitMode,
        items: Vec<Awaitable>,
    },
    /// Until `due_ms`, when the HTTP step at `seq` makes its next attempt.
    #[error("suspended at step {seq} until the next attempt at {due_ms} ms")]
    Retry {
        seq: u32,
        due_ms: u64,
        retry: RetryState,
    },
    /// Until resumed: the attempts of the HTTP step at `seq` ran out (`why`), and the policy
    /// pauses rather than returning the last outcome.
    #[error("paused at step {seq}: {why}")]
    Exhausted { seq: u32, why: String },
    /// Until it runs elsewhere: it is moving to another node, and stopped before step `seq`
    /// with every step before it journaled.
    #[error("stopped before step {seq}: it is moving")]
    Yield { seq: u32 },
}

/// Journaled wait on the guest's `items` under `mode`.
pub async fn wait_for(
    steps: &mut Steps,
    items: Vec<WitAwaitable>,
    mode: WitMode,
) -> wasmtime::Result<Vec<Option<Settled>>> {
    let mode = match mode {
        WitMode::All => AwaitMode::All,
        WitMode::Any => AwaitMode::Any,
        WitMode::Race => AwaitMode::Race,
    };
    let mut seen = HashSet::new();
    let items = items
        .into_iter()
        .map(|item| {
            Ok(match item {
                WitAwaitable::Child(handle) => {
                    let id = parse_handle("wait-for", &handle)?;
                    if !seen.insert(id) {
                        return Err(bad(format!("child {id} is awaited twice in one wait")));
                    }
                    Awaitable::Child(id)
                }
                WitAwaitable::Timer(when) => Awaitable::Timer {
                    due_ms: due_ms(&when),
                },
                WitAwaitable::Signal(name) => {
                    if !crate::names::valid(&name) {
                        return Err(bad(format!(
                            "signal name `{}` is invalid: use 1 to 128 letters, digits, `_` and `-`",
                            name.chars().take(64).collect::<String>()
                        )));
                    }
                    Awaitable::Signal(name)
                }
            })
        })
        .collect::<wasmtime::Result<Vec<_>>>()?;
    await_items(steps, mode, &items).await
}

/// Journaled wait until wall-clock time `due_ms` (ms since the Unix epoch).
pub async fn sleep_until(steps: &mut Steps, due_ms: u64) -> wasmtime::Result<()> {
    await_items(steps, AwaitMode::All, &[Awaitable::Timer { due_ms }])
        .await
        .map(drop)
}

async fn await_items(
    steps: &mut Steps,
    mode: AwaitMode,
    items: &[Awaitable],
) -> wasmtime::Result<Vec<Option<Settled>>> {
    match steps.take(StepRequest::Await { mode, items }).await? {
        Outcome::Settled(settled) if settled.len() == items.len() => Ok(settled),
        other => Err(mismatched("wait", &other)),
    }
}

fn bad(message: String) -> wasmtime::Error {
    StepError::BadArgument {
        call: "wait-for",
        message,
    }
    .into()
}

/// `when` in whole ms since the Unix epoch, rounded up so a timer never fires early.
fn due_ms(when: &Timestamp) -> u64 {
    let nanos = u64::from(when.nanoseconds.min(999_999_999));
    when.seconds
        .saturating_mul(1000)
        .saturating_add(nanos.div_ceil(1_000_000))
}

/// A short description of a wait for the journal.
pub(super) fn describe(mode: AwaitMode, items: &[Awaitable]) -> String {
    let one = |item: &Awaitable| match item {
        Awaitable::Child(id) => format!("child {id}"),
        Awaitable::Timer { due_ms } => format!("timer until {}", rfc3339_ms(*due_ms)),
        Awaitable::Signal(name) => format!("signal `{name}`"),
    };
    match items {
        [item] => one(item),
        items => {
            let children = items
                .iter()
                .filter(|i| matches!(i, Awaitable::Child(_)))
                .count();
            let mut parts: Vec<String> = items
                .iter()
                .filter(|i| !matches!(i, Awaitable::Child(_)))
                .map(one)
                .collect();
            if children > 0 {
                parts.insert(0, format!("{children} children"));
            }
            format!("{} of {}", mode.as_str(), parts.join(", "))
        }
    }
}

/// RFC 3339 text of `ms` since the Unix epoch.
pub fn rfc3339_ms(ms: u64) -> String {
    let when = std::time::UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_millis(when).to_string()
}

/// Live part of a wait: settles it now, after a short in-memory sleep, or suspends.
pub(super) async fn settle(
    live: &Live<'_>,
    mode: AwaitMode,
    items: &[Awaitable],
) -> wasmtime::Result<(Outcome, StepEffect)> {
    loop {
        let now = crate::clock::now_ms();
        // A wait on timers alone ends at a time known now: when that is near, it is settled
        // as it will be then and journaled at once; `Steps::take` sleeps until then, live or
        // in a replay, so the step's durable write overlaps the sleep.
        let at = match timers_end(mode, items) {
            Some(end) if end.saturating_sub(now) <= SHORT_SLEEP.as_millis() as u64 => end.max(now),
            _ => now,
        };
        let resolved = resolve(live, items, at)?;
        if let Some(counted) = waits::decide(mode, &resolved) {
            let mut received = Vec::new();
            let settled = resolved
                .into_iter()
                .zip(counted)
                .map(|(item, counts)| match (item, counts) {
                    (Some(Ok((value, signal))), true) => {
                        received.extend(signal);
                        Some(Ok(value))
                    }
                    (Some(Err(message)), true) => Some(Err(message)),
                    _ => None,
                })
                .collect();
            return Ok((
                Outcome::Settled(settled),
                StepEffect::ConsumeSignals(received),
            ));
        }
        let next_timer = items
            .iter()
            .filter_map(|item| match item {
                Awaitable::Timer { due_ms } if *due_ms > now => Some(*due_ms),
                _ => None,
            })
            .min();
        match next_timer {
            Some(due) if due - now <= SHORT_SLEEP.as_millis() as u64 => {
                crate::clock::sleep_until_ms(due).await;
            }
            _ => {
                return Err(Suspend::Wait {
                    seq: live.seq,
                    mode,
                    items: items.to_vec(),
                }
                .into());
            }
        }
    }
}

/// When a wait on `items` under `mode` ends, if they are all timers (ms since the Unix epoch).
pub(super) fn timers_end(mode: AwaitMode, items: &[Awaitable]) -> Option<u64> {
    let dues = items
        .iter()
        .map(|item| match item {
            Awaitable::Timer { due_ms } => Some(*due_ms),
            _ => None,
        })
        .collect::<Option<Vec<u64>>>()?;
    match mode {
        AwaitMode::All => dues.into_iter().max(),
        AwaitMode::Any | AwaitMode::Race => dues.into_iter().min(),
    }
}

/// A resolved item: on success its value and, for a signal, (name, arrival number) to
/// receive; on failure the message.
type Resolved = Resolution<(Vec<u8>, Option<(String, u64)>), String>;

/// How each item has ended so far, at `now_ms`, by the journal's rules of what an item has
/// come to.
fn resolve(live: &Live<'_>, items: &[Awaitable], now_ms: u64) -> wasmtime::Result<Vec<Resolved>> {
    let running = live.running;
    let children: Vec<InvocationId> = items
        .iter()
        .filter_map(|item| match item {
            Awaitable::Child(id) => Some(*id),
            _ => None,
        })
        .collect();
    let mut records = live
        .store
        .invocations_by_id(&running.tenant, &children)?
        .into_iter();
    let child = |id: InvocationId| -> wasmtime::Result<Resolved> {
        let record = records.next().flatten();
        let Some(record) = record.filter(|r| r.parent == Some(running.id)) else {
            return Err(bad(format!("{id} is not a child of this invocation")));
        };
        Ok(match record.state {
            InvocationState::Completed => Some(Ok((record.output.unwrap_or_default(), None))),
            state if state.is_terminal() => Some(Err(record
                .failure
                .map_or_else(|| state.as_str().to_string(), |f| f.message))),
            _ => None,
        })
    };
    let signal = |name: &str, k: usize| -> wasmtime::Result<_> {
        Ok(live
            .store
            .signals(&running.tenant, running.id, name, k + 1)?
            .into_iter()
            .nth(k)
            .map(|(n, payload)| (payload, Some((name.to_string(), n)))))
    };
    waits::resolve(items, now_ms, child, signal, || (Vec::new(), None))
}
