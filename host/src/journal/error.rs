//! Why a store read or write failed: refusals the callers branch on, and storage failures.

use super::codec::DecodeError;

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
    /// redb or the log failed; nothing of the batch was committed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// A batch reached the log but redb could not apply it; the writer stopped, and the next
    /// start replays the log.
    #[error("the journal stopped after a storage failure (restart to recover): {0}")]
    Halted(String),
    /// The writer has stopped.
    #[error("the journal writer has stopped")]
    Closed,
}

/// Errors of store reads and writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The redb file could not be opened.
    #[error("cannot open database {path}: {message}")]
    Open { path: String, message: String },
    /// redb failed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// A stored value does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A write was refused or lost.
    #[error(transparent)]
    Write(#[from] WriteError),
}
