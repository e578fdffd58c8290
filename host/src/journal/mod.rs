//! The durable model, whatever stores it: deployments, invocation records, journal entries,
//! waits and signals, the writes that change them ([`Op`]) and the rules every write follows
//! ([`rules::apply`], against the rows of [`rows`]).
//!
//! Nothing here knows a database. The storage seam (`storage/`) is what the rest of the host
//! uses, and its backends apply these ops with these rules; every persisted byte is encoded by
//! `codec` from types defined here, pinned by `formats`.

mod access;
#[cfg(test)]
mod arbitrary_input;
mod bundle;
mod bytes;
pub(crate) mod codec;
mod departure;
mod digest;
mod egress;
mod entry;
mod error;
#[cfg(test)]
pub(crate) mod formats;
mod history;
mod http;
mod idempotency;
mod op;
mod outbox;
mod output;
mod policy;
mod quota;
mod recorded;
mod records;
pub mod rows;
pub mod rules;
mod schedule;
mod versions;
pub mod waits;

pub use access::{KeyRecord, KeyRole, TenantRecord, key_hash, key_id, same_hash};
pub use bundle::{
    BUNDLE_VERSION, Bundle, BundleError, ChildCopy, EncodedEvent, Family, KeptSignal,
};
pub use codec::DecodeError;
pub use departure::{Arrival, Departure, Phase};
pub use digest::{Level, Request as CanonicalRequest};
pub use egress::{AllowedHost, BadCidr, BadHost, Cidr, EgressRules, canonical_ip};
pub use entry::{Outcome, StepEntry, StepKind};
pub use error::{Halt, StorageFailure, StoreError, WriteError};
pub use history::{HistoryEvent, RewindPlan, Rewound, StoredStep, UpgradePlan};
pub use http::{HttpError, HttpOutcome, HttpResponse};
pub use idempotency::{
    IdempotencyKey, KEY_RETENTION_MS, KeyName, KeyedRequest, MAX_KEY_BYTES, canonical_json,
    valid_key,
};
pub use op::{Effects, Op, RetryState, StepEffect};
pub use outbox::Message;
pub use output::{MAX_LINE_BYTES, MAX_OUTPUT_BYTES, MAX_OUTPUT_LINES, OutputLine, Stdio};
pub use policy::{
    Exhausted, StoredFunctionPolicy, StoredFunctionPolicyV1, StoredPolicy, StoredPolicyV1,
    StoredRetry,
};
pub use quota::{Limits, OverQuota, Quotas, QuotasV1, decode_quotas, encode_quotas};
pub use recorded::Recorded;
pub use records::{
    Deployment, DeploymentV1, Failure, FailureKind, InvocationRecord, InvocationState,
    decode_deployment, encode_deployment,
};
pub use schedule::{BadMissed, Missed, Schedule};
pub use versions::{VersionUse, needed_components, uses as version_uses};
pub use waits::{AwaitMode, Awaitable, Settled, WaitState};
