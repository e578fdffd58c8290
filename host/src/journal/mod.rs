//! Durable state in one redb file: deployments, components, invocation records and journals.
//!
//! Reads go straight to redb (`Store`); every write goes through one group-commit writer
//! (`writer`) that batches what is waiting into a single durable transaction.

mod apply;
mod bytes;
mod codec;
mod deferred;
mod entry;
mod records;
mod schema;
mod store;
mod waits;
mod wal;
mod writer;

pub use apply::{Effects, RetryState, StepEffect};
pub use codec::DecodeError;
pub use deferred::Deferred;
pub use entry::{Outcome, StepEntry, StepKind};
pub use records::{Deployment, Failure, FailureKind, InvocationRecord, InvocationState};
pub use store::{Store, StoreError, StoreOptions};
pub use waits::{AwaitMode, Awaitable, Settled, WaitState};
pub use writer::WriteError;
