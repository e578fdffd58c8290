//! Journal entries: one per step, with the request digest and the recorded outcome.

use serde::{Deserialize, Serialize};

use super::http::HttpOutcome;
use super::waits::Settled;
use crate::ids::InvocationId;

/// The kind of host call a step records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// An outgoing HTTP request.
    Http,
    /// Wall-clock time (reprise `now` or `wasi:clocks/wall-clock`).
    WallClock,
    /// `wasi:clocks/monotonic-clock` time.
    MonotonicClock,
    /// Secure random bytes (reprise or `wasi:random/random`).
    Random,
    /// `wasi:random/insecure` bytes.
    InsecureRandom,
    /// `wasi:random/insecure-seed`.
    InsecureSeed,
    /// A log line.
    Log,
    /// A child invocation started.
    Dispatch,
    /// A wait (timers, children, signals) that was satisfied.
    Await,
}

impl StepKind {
    /// The lowercase name used in the API and CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::WallClock => "wall_clock",
            Self::MonotonicClock => "monotonic_clock",
            Self::Random => "random",
            Self::InsecureRandom => "insecure_random",
            Self::InsecureSeed => "insecure_seed",
            Self::Log => "log",
            Self::Dispatch => "dispatch",
            Self::Await => "await",
        }
    }
}

/// The recorded result of a step, fed back verbatim on replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// An HTTP response or transport error.
    Http(HttpOutcome),
    /// Wall-clock time.
    Time { seconds: u64, nanoseconds: u32 },
    /// A monotonic-clock instant in nanoseconds.
    Instant(u64),
    /// Bytes (random).
    Bytes(#[serde(with = "super::bytes")] Vec<u8>),
    /// A number (random).
    U64(u64),
    /// Two numbers (insecure seed).
    Pair(u64, u64),
    /// Nothing (log).
    Unit,
    /// The child a dispatch started, or why it could not.
    Dispatched(Result<InvocationId, String>),
    /// Per awaited item, how it ended, if it counts towards the satisfied wait.
    Settled(Vec<Option<Settled>>),
}

impl Outcome {
    /// A one-line description for people.
    pub fn summary(&self) -> String {
        match self {
            Outcome::Http(Ok(resp)) => format!("{} ({} bytes)", resp.status, resp.body.len()),
            Outcome::Http(Err(err)) => format!("error: {err}"),
            Outcome::Time {
                seconds,
                nanoseconds,
            } => format!("{seconds}.{nanoseconds:09}s since epoch"),
            Outcome::Instant(ns) => format!("{ns} ns"),
            Outcome::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Outcome::U64(n) => format!("{n}"),
            Outcome::Pair(a, b) => format!("({a}, {b})"),
            Outcome::Unit => "ok".to_string(),
            Outcome::Dispatched(Ok(child)) => format!("child {child}"),
            Outcome::Dispatched(Err(err)) => format!("error: {err}"),
            Outcome::Settled(items) => settled_summary(items),
        }
    }
}

fn settled_summary(items: &[Option<Settled>]) -> String {
    let ok = items.iter().filter(|i| matches!(i, Some(Ok(_)))).count();
    let failed = items.iter().filter(|i| matches!(i, Some(Err(_)))).count();
    match (items.len(), ok, failed) {
        (1, 1, _) => "done".to_string(),
        (1, _, 1) => "failed".to_string(),
        (n, ok, 0) => format!("{ok} of {n} done"),
        (n, ok, failed) => format!("{ok} of {n} done, {failed} failed"),
    }
}

impl StepEntry {
    /// What the entry counts towards the `journal_bytes` quota: its request summary and
    /// outcome payload, plus 32 bytes for the rest.
    pub fn size(&self) -> u64 {
        let payload = match &self.outcome {
            Outcome::Http(Ok(resp)) => {
                resp.body.len()
                    + resp
                        .headers
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>()
            }
            Outcome::Http(Err(err)) => err.to_string().len(),
            Outcome::Bytes(bytes) => bytes.len(),
            Outcome::Dispatched(Err(err)) => err.len(),
            Outcome::Settled(items) => items.len() * 8,
            _ => 16,
        };
        (self.summary.len() + payload + 32) as u64
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepEntry {
    /// What kind of host call.
    pub kind: StepKind,
    /// Truncated sha256 of the request, compared on replay.
    pub digest: [u8; 16],
    /// A short description of the request for people (e.g. `POST https://…`).
    pub summary: String,
    /// How many times the host performed it before this outcome was final.
    pub attempts: u32,
    /// When the outcome was recorded (ms since the Unix epoch).
    pub recorded_at_ms: u64,
    /// The outcome.
    pub outcome: Outcome,
}
