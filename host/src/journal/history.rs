//! The audit trail of an invocation's journal: every rewind, with the steps it dropped, and
//! the fork an invocation was made by. A journal only ever loses steps to a rewind, and a
//! rewind never loses them: they are kept here, as they were stored, until the invocation is
//! forgotten.

use serde::{Deserialize, Serialize};

use super::records::{Failure, InvocationState};
use crate::ids::{ComponentHash, InvocationId};

/// One event in the history of an invocation's journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HistoryEvent {
    /// The journal was cut back to its first `to_step` steps and the invocation ran again.
    Rewound(Box<Rewound>),
    /// The invocation was made as a fork of `from`, with its first `at_step` steps.
    Forked {
        /// When (ms since the Unix epoch).
        at_ms: u64,
        /// The invocation it was forked from.
        from: InvocationId,
        /// How many of its steps it took.
        at_step: u32,
        /// The component `from` was pinned to then.
        from_component: ComponentHash,
    },
    /// The invocation was moved onto another version of its code, which had replayed its
    /// `at_step` steps identically (added last: events are stored by position).
    Upgraded {
        /// When (ms since the Unix epoch).
        at_ms: u64,
        /// How many steps the new code replayed.
        at_step: u32,
        /// The component it ran on before.
        from_component: ComponentHash,
        /// The component it runs on now.
        to_component: ComponentHash,
        /// The version of its deployment it runs on now.
        to_version: u32,
    },
}

/// A rewind as it was checked: keep the first `to_step` steps of a journal that had `steps`,
/// of an invocation in `state` with `history` events, and run again on `component` through
/// `deployment`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewindPlan {
    /// How many steps to keep.
    pub to_step: u32,
    /// How many steps the journal had.
    pub steps: u32,
    /// The state the invocation was in.
    pub state: InvocationState,
    /// How many events its history had (so a rewind made meanwhile is seen).
    pub history: u32,
    /// The component to run on.
    pub component: ComponentHash,
    /// The deployment to run through.
    pub deployment: String,
}

/// An upgrade as it was checked: `from`'s journal of `steps` steps replayed identically on
/// `to`, version `to_version` of the invocation's deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpgradePlan {
    /// How many steps the journal had.
    pub steps: u32,
    /// The component it was pinned to.
    pub from: ComponentHash,
    /// The component it is to run on.
    pub to: ComponentHash,
    /// The version `to` was deployed as.
    pub to_version: u32,
}

/// What one rewind changed, and what it dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rewound {
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// How many steps were kept (steps `to_step..` were dropped).
    pub to_step: u32,
    /// The state the invocation was in.
    pub from_state: InvocationState,
    /// The component it was pinned to.
    pub from_component: ComponentHash,
    /// The deployment it was invoked through before.
    pub from_deployment: String,
    /// The component it runs on now.
    pub to_component: ComponentHash,
    /// The deployment it runs through now.
    pub to_deployment: String,
    /// Why it had failed (or was cancelled), if it had.
    pub failure: Option<Failure>,
    /// What it had returned, if it had completed.
    #[serde(with = "super::bytes::option")]
    pub output: Option<Vec<u8>>,
    /// The dropped steps as they were stored: (sequence number, encoded entry).
    pub dropped: Vec<StoredStep>,
    /// Children that dropped dispatch steps had started and that were cancelled.
    pub cancelled: Vec<InvocationId>,
}

/// A journal step as it is stored (dropped by a rewind, or copied by a fork).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredStep {
    /// Its sequence number.
    pub seq: u32,
    /// Its encoded `StepEntry`.
    #[serde(with = "super::bytes")]
    pub entry: Vec<u8>,
}

impl HistoryEvent {
    /// The bytes it holds that its tenant's `stored_bytes` counts: the steps and the output
    /// it keeps.
    pub fn stored_bytes(&self) -> u64 {
        match self {
            HistoryEvent::Rewound(r) => {
                let steps: usize = r.dropped.iter().map(|s| s.entry.len()).sum();
                (steps + r.output.as_ref().map_or(0, Vec::len)) as u64
            }
            HistoryEvent::Forked { .. } | HistoryEvent::Upgraded { .. } => 0,
        }
    }

    /// When it happened (ms since the Unix epoch).
    pub fn when_ms(&self) -> u64 {
        match self {
            HistoryEvent::Rewound(r) => r.at_ms,
            HistoryEvent::Forked { at_ms, .. } | HistoryEvent::Upgraded { at_ms, .. } => *at_ms,
        }
    }
}
