//! The storage seam: what the scheduler, the host calls and the API need from durable
//! storage, one trait per concern, and the backends that provide it.
//!
//! Reads are synchronous and see every acknowledged write. Writes are `async`: each resolves
//! once it is durable (or refused, having written nothing), and is applied by the backend
//! with the journal's one set of rules (`crate::journal::rules`), so every backend refuses,
//! wakes and cascades alike. `redb` is the embedded backend; what another backend would have
//! to implement is in docs/ARCHITECTURE.md.

use std::sync::Arc;

use async_trait::async_trait;

mod access;
mod deferred;
mod deployments;
mod invocations;
mod journals;
mod moves;
mod outbox;
mod output;
pub mod redb;
mod schedules;
mod signals;
mod waits;

pub use access::Access;
pub use deferred::{Deferred, NotDurable};
pub use deployments::Deployments;
pub use invocations::{Invocations, Page};
pub use journals::Journals;
pub use moves::Moves;
pub use outbox::Outbox;
pub use output::Output;
pub use schedules::Schedules;
pub use signals::Signals;
pub use waits::Waits;

use crate::ids::TenantId;
use crate::journal::{Halt, InvocationState, StoreError};

/// Every concern's storage, as one node's durable state.
#[async_trait]
pub trait Storage:
    Deployments
    + Invocations
    + Journals
    + Waits
    + Signals
    + Access
    + Schedules
    + Moves
    + Outbox
    + Output
{
    /// Waits until the storage halts after a failure (it then refuses every write until the
    /// host restarts); returns why.
    async fn halted(&self) -> Arc<Halt>;

    /// What admitting new work of `tenant` checks: its invocations by state, and the bytes
    /// it stores (read together where the backend can).
    fn admission(&self, tenant: &TenantId) -> Result<Admission, StoreError> {
        Ok(Admission {
            counts: self.counts(tenant)?,
            stored_bytes: self.stored_bytes(tenant)?,
        })
    }
}

/// A tenant's counts by state and stored bytes, as admission checks them.
#[derive(Debug, Default)]
pub struct Admission {
    /// Invocations by state (states with none left out).
    pub counts: Vec<(InvocationState, u64)>,
    /// Bytes stored.
    pub stored_bytes: u64,
}

/// The storage a host runs on, shared by everything that reads or writes.
pub type SharedStorage = Arc<dyn Storage>;
