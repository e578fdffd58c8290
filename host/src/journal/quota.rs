//! Per-tenant quotas: what a tenant may use, as overrides of the host's defaults.
//!
//! Stored quotas carry format tag 2 (with `stored_bytes` and `retention_secs`); tag 1 values
//! (and `SetQuotasV1` ops), written before they existed, still decode, as [`QuotasV1`].

use serde::{Deserialize, Serialize};

use super::codec::{DecodeError, decode_tagged, encode_tagged};
use super::records::InvocationState;

/// A tenant's overrides of the host's default limits; a field left `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    /// Instances of the tenant executing at once.
    pub max_running: Option<u64>,
    /// Pending plus suspended invocations of the tenant.
    pub max_waiting: Option<u64>,
    /// Guest run time of one run (instantiation to its end or suspension), in ms.
    pub run_ms: Option<u64>,
    /// Linear memory of one instance, in bytes.
    pub memory_bytes: Option<u64>,
    /// Size of a component, in bytes.
    pub component_bytes: Option<u64>,
    /// Size of an invocation's input, in bytes.
    pub input_bytes: Option<u64>,
    /// Size of an invocation's output, in bytes.
    pub output_bytes: Option<u64>,
    /// Journal entries of one invocation.
    pub journal_entries: Option<u64>,
    /// Bytes of journal entries of one invocation.
    pub journal_bytes: Option<u64>,
    /// Bytes the tenant stores in all: components, inputs, outputs, journal entries and
    /// signals.
    pub stored_bytes: Option<u64>,
    /// Seconds a finished invocation (with its journal) is kept before it is removed.
    pub retention_secs: Option<u64>,
}

/// Quotas as stored before `stored_bytes` existed (format tag 1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotasV1 {
    pub(super) max_running: Option<u64>,
    pub(super) max_waiting: Option<u64>,
    pub(super) run_ms: Option<u64>,
    pub(super) memory_bytes: Option<u64>,
    pub(super) component_bytes: Option<u64>,
    pub(super) input_bytes: Option<u64>,
    pub(super) output_bytes: Option<u64>,
    pub(super) journal_entries: Option<u64>,
    pub(super) journal_bytes: Option<u64>,
}

impl From<QuotasV1> for Quotas {
    fn from(old: QuotasV1) -> Self {
        Quotas {
            max_running: old.max_running,
            max_waiting: old.max_waiting,
            run_ms: old.run_ms,
            memory_bytes: old.memory_bytes,
            component_bytes: old.component_bytes,
            input_bytes: old.input_bytes,
            output_bytes: old.output_bytes,
            journal_entries: old.journal_entries,
            journal_bytes: old.journal_bytes,
            stored_bytes: None,
            retention_secs: None,
        }
    }
}

/// The format tag of stored quotas.
const QUOTAS_FORMAT: u8 = 2;

/// Encodes `quotas` as stored.
pub fn encode_quotas(quotas: &Quotas) -> Vec<u8> {
    encode_tagged(QUOTAS_FORMAT, quotas)
}

/// Decodes stored quotas, of this format or the one before.
pub fn decode_quotas(bytes: &[u8]) -> Result<Quotas, DecodeError> {
    match bytes.first() {
        Some(&super::codec::FORMAT_V1) => {
            decode_tagged::<QuotasV1>("quotas", super::codec::FORMAT_V1, bytes).map(Into::into)
        }
        _ => decode_tagged("quotas", QUOTAS_FORMAT, bytes),
    }
}

/// The limits a tenant runs under: its quotas, else the host's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// See [`Quotas::max_running`].
    pub max_running: u64,
    /// See [`Quotas::max_waiting`].
    pub max_waiting: u64,
    /// See [`Quotas::run_ms`].
    pub run_ms: u64,
    /// See [`Quotas::memory_bytes`].
    pub memory_bytes: u64,
    /// See [`Quotas::component_bytes`].
    pub component_bytes: u64,
    /// See [`Quotas::input_bytes`].
    pub input_bytes: u64,
    /// See [`Quotas::output_bytes`].
    pub output_bytes: u64,
    /// See [`Quotas::journal_entries`].
    pub journal_entries: u64,
    /// See [`Quotas::journal_bytes`].
    pub journal_bytes: u64,
    /// See [`Quotas::stored_bytes`].
    pub stored_bytes: u64,
    /// See [`Quotas::retention_secs`].
    pub retention_secs: u64,
}

const MIB: u64 = 1024 * 1024;

impl Limits {
    /// The host's defaults: generous for honest work, finite for every resource.
    pub const DEFAULT: Limits = Limits {
        max_running: 512,
        max_waiting: 10_000_000,
        run_ms: 60_000,
        memory_bytes: 256 * MIB,
        component_bytes: 64 * MIB,
        input_bytes: 4 * MIB,
        output_bytes: 4 * MIB,
        journal_entries: 2_000_000,
        journal_bytes: 256 * MIB,
        stored_bytes: 16 * 1024 * MIB,
        retention_secs: 7 * 24 * 60 * 60,
    };

    /// `quotas` over these limits.
    pub fn with(self, quotas: &Quotas) -> Limits {
        Limits {
            max_running: quotas.max_running.unwrap_or(self.max_running),
            max_waiting: quotas.max_waiting.unwrap_or(self.max_waiting),
            run_ms: quotas.run_ms.unwrap_or(self.run_ms),
            memory_bytes: quotas.memory_bytes.unwrap_or(self.memory_bytes),
            component_bytes: quotas.component_bytes.unwrap_or(self.component_bytes),
            input_bytes: quotas.input_bytes.unwrap_or(self.input_bytes),
            output_bytes: quotas.output_bytes.unwrap_or(self.output_bytes),
            journal_entries: quotas.journal_entries.unwrap_or(self.journal_entries),
            journal_bytes: quotas.journal_bytes.unwrap_or(self.journal_bytes),
            stored_bytes: quotas.stored_bytes.unwrap_or(self.stored_bytes),
            retention_secs: quotas.retention_secs.unwrap_or(self.retention_secs),
        }
    }
}

/// How many invocations count towards `max_waiting` in `counts` (by state): the pending
/// (running ones included: they are stored as pending), the suspended, the scheduled and the
/// paused.
fn waiting(counts: &[(InvocationState, u64)]) -> u64 {
    counts
        .iter()
        .filter(|(state, _)| {
            matches!(state, InvocationState::Pending | InvocationState::Paused)
                || state.is_waiting()
        })
        .map(|(_, n)| n)
        .sum()
}

impl Limits {
    /// `Err` if `input_bytes` of input is over `input_bytes`.
    pub fn check_input(&self, input_bytes: usize) -> Result<(), OverQuota> {
        OverQuota::check(
            "input_bytes",
            input_bytes as u64,
            self.input_bytes,
            "bytes of input",
        )
    }

    /// `Err` if one more invocation would take the tenant, with `counts` by state stored and
    /// `unstored` more not written yet, over `max_waiting`.
    pub fn check_waiting(
        &self,
        counts: &[(InvocationState, u64)],
        unstored: u64,
    ) -> Result<(), OverQuota> {
        OverQuota::check(
            "max_waiting",
            waiting(counts) + unstored + 1,
            self.max_waiting,
            "pending or suspended invocations",
        )
    }
}

impl Limits {
    /// `Err` if storing `more` bytes besides the `used` the tenant stores would take it over
    /// `stored_bytes`.
    pub fn check_stored(&self, used: u64, more: u64) -> Result<(), OverQuota> {
        OverQuota::check(
            "stored_bytes",
            used.saturating_add(more),
            self.stored_bytes,
            "bytes stored",
        )
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A quota that a request or a run went over: which, and its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("over the tenant's quota `{quota}` ({limit} {unit})")]
pub struct OverQuota {
    /// The quota's name, as `reprise tenant set` takes it.
    pub quota: &'static str,
    /// Its value.
    pub limit: u64,
    /// What it counts.
    pub unit: &'static str,
}

impl OverQuota {
    /// Over `quota` of `limit` `unit`.
    pub fn new(quota: &'static str, limit: u64, unit: &'static str) -> Self {
        OverQuota { quota, limit, unit }
    }

    /// `Err` naming `quota` if `used` is over `limit`.
    pub fn check(
        quota: &'static str,
        used: u64,
        limit: u64,
        unit: &'static str,
    ) -> Result<(), Self> {
        if used > limit {
            Err(OverQuota::new(quota, limit, unit))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_override_only_what_they_set_and_a_refusal_names_the_quota() {
        let quotas = Quotas {
            run_ms: Some(5),
            ..Quotas::default()
        };
        let limits = Limits::DEFAULT.with(&quotas);
        assert_eq!(limits.run_ms, 5);
        assert_eq!(limits.memory_bytes, Limits::DEFAULT.memory_bytes);
        let over = OverQuota::check("input_bytes", 11, 10, "bytes").expect_err("over");
        assert_eq!(
            over.to_string(),
            "over the tenant's quota `input_bytes` (10 bytes)"
        );
        assert!(OverQuota::check("input_bytes", 10, 10, "bytes").is_ok());
    }
}
