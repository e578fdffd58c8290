//! Durable state in one redb file: deployments, components, invocation records and journals.
//!
//! Reads go to redb (`Store`), and journal reads also to the entries durable in the
//! write-ahead log but not yet in redb (`recent`); every write goes through one group-commit
//! writer (`writer`) that makes what is waiting durable as one batch.

mod apply;
mod bytes;
mod codec;
mod deferred;
mod digest;
mod disk;
mod entry;
mod error;
#[cfg(test)]
pub(crate) mod formats;
mod http;
#[cfg(test)]
mod inspect;
mod log_file;
mod log_record;
mod options;
mod policy;
#[cfg(test)]
mod power_loss;
mod recent;
mod recorded;
mod records;
mod schema;
#[cfg(test)]
mod sim_disk;
mod store;
pub mod waits;
mod wal;
#[cfg(test)]
mod workload;
mod writer;

pub use apply::{Effects, RetryState, StepEffect};
pub use codec::DecodeError;
pub use deferred::Deferred;
pub use digest::{Level, Request as CanonicalRequest};
pub use entry::{Outcome, StepEntry, StepKind};
pub use error::{Halt, StorageFailure, StoreError, WriteError};
pub use http::{HttpError, HttpOutcome, HttpResponse};
pub use options::{DEFAULT_CACHE_BYTES, StoreOptions};
pub use policy::{StoredFunctionPolicy, StoredPolicy, StoredRetry};
pub use recorded::Recorded;
pub use records::{Deployment, Failure, FailureKind, InvocationRecord, InvocationState};
pub use store::Store;
pub use waits::{AwaitMode, Awaitable, Settled, WaitState};
