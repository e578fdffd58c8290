//! Moves between nodes as the two ends record them: a departure on the node an invocation
//! leaves, an arrival on the node it goes to.
//!
//! Invariant: an invocation is owned by exactly one node. The node it leaves stops owning it
//! when it records the departure (`leaving`: it no longer runs it, but keeps every row, so
//! the move can still be abandoned); the node it goes to owns it from the commit that records
//! its arrival. A leaving invocation is resolved only by asking the other end: arrived (the
//! source then drops its rows and keeps a forwarding record) or refused (the other end
//! records the refusal first, so a late arrival of the same move is refused too, and the
//! source takes the invocation back).

use serde::{Deserialize, Serialize};

use super::records::InvocationState;

/// A move out of this node, kept with the invocation's forwarding record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Departure {
    /// The move: the arrival the other end records under the same id.
    pub move_id: u128,
    /// The node it goes to (its URL), or "" when it left as a bundle file.
    pub to: String,
    /// When it started leaving (ms since the Unix epoch).
    pub at_ms: u64,
    /// The state it was in before.
    pub from: InvocationState,
    /// Whether the other end has it (its rows here are gone) or the move is undecided.
    pub phase: Phase,
    /// Its wait, if it was suspended or scheduled: kept here while it leaves, so that no
    /// timer, signal or child wakes it.
    pub wait: Option<super::waits::WaitState>,
}

/// Where a departure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not run here and every row kept: the other end may or may not have it.
    Leaving,
    /// The other end has it; only the forwarding record is left here.
    Left,
}

impl Phase {
    /// The lowercase name used in the API and CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Leaving => "leaving",
            Phase::Left => "left",
        }
    }
}

/// A move into this node, as the receiving end recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// Tenant of the invocation.
    pub tenant: crate::ids::TenantId,
    /// The invocation.
    pub invocation: crate::ids::InvocationId,
    /// Imported (`true`), or refused before it could be (`false`).
    pub arrived: bool,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
}
