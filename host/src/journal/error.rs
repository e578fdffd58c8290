//! Why a store read or write failed: refusals the callers branch on, and storage failures.

use std::sync::Arc;

use super::codec::DecodeError;

/// A failure of the storage under the journal: the backend's, a file's, or a stored value
/// that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum StorageFailure {
    /// The database failed (or could not be created or opened); the backend's own error.
    #[error("database: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading, writing or syncing a file (the log, or a database being created) failed.
    #[error("file: {0}")]
    File(#[from] std::io::Error),
    /// A stored value (or a log record) does not decode.
    #[error(transparent)]
    Corrupt(#[from] DecodeError),
}

/// Why the writer stopped taking writes.
#[derive(Debug, thiserror::Error)]
#[error("{what}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
pub struct Halt {
    /// What went wrong.
    pub what: &'static str,
    /// The failure underneath, if there is one.
    pub source: Option<StorageFailure>,
}

/// Why a write was refused or lost.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The journal already holds an entry at this position; entries are never overwritten.
    #[error("journal of {invocation} already has step {seq}")]
    StepTaken { invocation: String, seq: u32 },
    /// An invocation with this id exists already.
    #[error("invocation {0} exists already")]
    InvocationExists(String),
    /// The invocation to update does not exist.
    #[error("invocation {0} does not exist")]
    NoSuchInvocation(String),
    /// The invocation has finished; its record no longer changes.
    #[error("invocation {0} has finished and cannot change")]
    InvocationFinished(String),
    /// The invocation is not pending or running, so it takes no steps (e.g. it was cancelled).
    #[error("invocation {0} is not running")]
    NotRunning(String),
    /// The write would change an invocation's state in a way only another write may.
    #[error("invocation {invocation} cannot be written so: {why}")]
    NotAllowed {
        invocation: String,
        why: &'static str,
    },
    /// A tenant with this name exists already.
    #[error("tenant `{0}` exists already")]
    TenantExists(String),
    /// There is no tenant with this name.
    #[error("tenant `{0}` does not exist")]
    NoSuchTenant(String),
    /// The idempotency key holds already, for this same request: it made `invocation`.
    #[error("idempotency key `{key}` was used already, for invocation {invocation}")]
    Duplicate {
        key: String,
        invocation: crate::ids::InvocationId,
    },
    /// The idempotency key holds already, for another request.
    #[error(
        "idempotency key `{key}` was used for invocation {invocation} with another request; use a new key"
    )]
    KeyReused {
        key: String,
        invocation: crate::ids::InvocationId,
    },
    /// The invocation is not paused, so it cannot be resumed.
    #[error("invocation {0} is not paused")]
    NotPaused(String),
    /// The write would take the tenant over a quota (`stored_bytes`).
    #[error(transparent)]
    OverQuota(#[from] super::quota::OverQuota),
    /// The tenant has no deployment with this name.
    #[error("deployment `{0}` does not exist")]
    NoSuchDeployment(String),
    /// A key with this hash is stored already (a new key is random: this is a retry).
    #[error("key {0} exists already")]
    KeyExists(String),
    /// There is no key with this id, or it is revoked already.
    #[error("key {0} does not exist or is revoked already")]
    NoSuchKey(String),
    /// A schedule with this name exists already.
    #[error("schedule `{0}` exists already")]
    ScheduleExists(String),
    /// The tenant has no schedule with this name.
    #[error("schedule `{0}` does not exist")]
    NoSuchSchedule(String),
    /// The schedule was written since it was read (the write is to be made again).
    #[error("schedule `{0}` changed meanwhile")]
    ScheduleChanged(String),
    /// The invocation changed since it was checked for a rewind or a fork (check again).
    #[error("invocation {0} changed while it was being checked; try again")]
    InvocationChanged(String),
    /// Only a finished or paused invocation is rewound.
    #[error(
        "invocation {invocation} is {state}: only a finished or paused invocation can be rewound (pause it first)"
    )]
    NotRewindable {
        invocation: String,
        state: &'static str,
    },
    /// The invocation is an attached child whose parent has not finished: the parent may
    /// have counted its end already.
    #[error(
        "invocation {invocation} is a child of {parent}, which has not finished and may have counted its end: rewind or cancel the parent first"
    )]
    ParentUnfinished { invocation: String, parent: String },
    /// The journal has fewer steps than the rewind keeps.
    #[error("invocation {invocation} has {steps} steps: there is no step {step} to go back to")]
    NoSuchStep {
        invocation: String,
        step: u32,
        steps: u32,
    },
    /// The invocation left this node, or is leaving it.
    #[error("invocation {invocation} {}", if to.is_empty() { "was exported as a bundle".to_string() } else { format!("moved to {to}") })]
    Moved { invocation: String, to: String },
    /// The invocation has unfinished children or an unfinished parent, which cannot move.
    #[error("invocation {invocation} cannot move: {why}")]
    Linked { invocation: String, why: String },
    /// The move is not under way (it was decided already, or never started).
    #[error("invocation {invocation} is not leaving as move {move_id:032x}")]
    NoSuchMove { invocation: String, move_id: u128 },
    /// The move arrived already: the invocation is owned here.
    #[error("move {0:032x} arrived already")]
    Arrived(u128),
    /// The move was refused here before it arrived.
    #[error("move {0:032x} was refused here")]
    ArrivalRefused(u128),
    /// No component with this hash is stored.
    #[error("component {0} is not stored")]
    NoSuchComponent(String),
    /// The database or the log failed; nothing of the batch was committed.
    #[error("storage failure: {0}")]
    Storage(Arc<StorageFailure>),
    /// A sync or a commit failed: the writer stopped taking writes, and the next start
    /// recovers from the last durable commit and the log.
    #[error("the journal stopped after a storage failure (restart to recover): {0}")]
    Halted(Arc<Halt>),
    /// The writer has stopped.
    #[error("the journal writer has stopped")]
    Closed,
}

/// Errors of store reads and writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database or its log could not be opened.
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        source: Box<StoreError>,
    },
    /// The database or a file failed.
    #[error("storage failure: {0}")]
    Storage(#[from] StorageFailure),
    /// A deployment just written cannot be read back.
    #[error("deployment `{0}` vanished after it was written")]
    DeploymentVanished(String),
    /// A stored value does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A write was refused or lost.
    #[error(transparent)]
    Write(#[from] WriteError),
}
