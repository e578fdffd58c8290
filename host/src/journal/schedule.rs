//! Schedules: a cron expression in a time zone that invokes one function with one input at
//! each firing. What a firing is and when it is due is the scheduler's (`scheduler/cron.rs`);
//! stored here is what a schedule is and how far it has fired.
//!
//! Every write of a schedule names the revision it read (`revision`): a write made from an
//! older read is refused, so a pause never loses to a firing written at the same time, and
//! the other way round.

use serde::{Deserialize, Serialize};

use crate::ids::{InvocationId, TenantId};

/// What to do with the firings that were due while the host was down (or too busy to make
/// them within the schedule's grace).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missed {
    /// Make none of them (they are counted as skipped).
    Skip,
    /// Make the latest of them, once; skip the others.
    Once,
    /// Make the latest `n` of them, oldest first; skip the older ones.
    All(u32),
}

/// A schedule of a tenant, and how far it has fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its owner.
    pub tenant: TenantId,
    /// Its name, unique within the tenant.
    pub name: String,
    /// The cron expression (5 fields, or 6 with seconds first).
    pub cron: String,
    /// The IANA time zone the expression is read in (`UTC`, `Europe/Paris`).
    pub tz: String,
    /// What each firing invokes: `DEPLOYMENT[.FUNCTION]`.
    pub target: String,
    /// The JSON input of each firing.
    #[serde(with = "super::bytes")]
    pub input: Vec<u8>,
    /// What happens to firings missed by more than `grace_ms`.
    pub missed: Missed,
    /// How late a firing may be made and still count as on time.
    pub grace_ms: u64,
    /// Whether it is paused (it makes no firings, and none count as missed).
    pub paused: bool,
    /// The next firing not yet made (ms since the Unix epoch); `None` when the expression has
    /// no more.
    pub next_ms: Option<u64>,
    /// Firings made.
    pub fired: u64,
    /// Firings skipped (missed, under the policy).
    pub skipped: u64,
    /// Firings refused (a quota, a removed function): counted, never retried.
    pub refused: u64,
    /// The last firing made: its time and the invocation it made.
    pub last_fired: Option<(u64, InvocationId)>,
    /// Why the last refused firing was refused.
    pub last_refusal: Option<String>,
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// How many times it was written: a write names the revision it read.
    pub revision: u64,
}

/// Why a missed-firings policy does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`missed` `{0}` is not a policy: expected `skip`, `once` or `all:N` (N from 1 to 1000)")]
pub struct BadMissed(String);

impl std::str::FromStr for Missed {
    type Err = BadMissed;

    fn from_str(text: &str) -> Result<Self, BadMissed> {
        let bad = || BadMissed(text.chars().take(64).collect());
        match text {
            "skip" => Ok(Missed::Skip),
            "once" => Ok(Missed::Once),
            _ => {
                let n = text.strip_prefix("all:").ok_or_else(bad)?;
                match n.parse::<u32>() {
                    Ok(n @ 1..=1000) => Ok(Missed::All(n)),
                    _ => Err(bad()),
                }
            }
        }
    }
}

impl std::fmt::Display for Missed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missed::Skip => f.write_str("skip"),
            Missed::Once => f.write_str("once"),
            Missed::All(n) => write!(f, "all:{n}"),
        }
    }
}
