//! Writes as data: every durable change is one [`Op`], applied by `rules` in a backend's
//! transaction and recorded as is by a backend's write-ahead log, so a replay applies it again
//! exactly.

use serde::{Deserialize, Serialize};

use super::access::{KeyRecord, TenantRecord};
use super::bundle::Bundle;
use super::egress::EgressRules;
use super::history::{RewindPlan, StoredStep, UpgradePlan};
use super::idempotency::IdempotencyKey;
use super::quota::{Quotas, QuotasV1};
use super::records::{Deployment, DeploymentV1, InvocationRecord};
use super::schedule::Schedule;
use super::waits::{AwaitMode, Awaitable};
use crate::ids::{ComponentHash, InvocationId, TenantId};

/// One write. Ops are also what the write-ahead log records, so they replay exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Op {
    /// Append a step at `seq` of a pending or running invocation, with what it entails;
    /// first create the invocation from `create` if its creation was deferred.
    AppendStep {
        tenant: TenantId,
        invocation: InvocationId,
        seq: u32,
        #[serde(with = "super::bytes")]
        entry: Vec<u8>,
        effect: StepEffect,
        create: Option<Box<InvocationRecord>>,
    },
    /// Create (`create`) or update an invocation record that is not suspending.
    PutInvocation {
        record: Box<InvocationRecord>,
        create: bool,
    },
    /// Suspend a running invocation on `items` (the wait step is at `seq`), or make it
    /// pending at once if the wait is already satisfied; `retry` keeps the attempts of the
    /// HTTP step at `seq` that waits to be retried.
    Suspend {
        record: Box<InvocationRecord>,
        seq: u32,
        mode: AwaitMode,
        items: Vec<Awaitable>,
        retry: Option<RetryState>,
    },
    /// A timer row fell due.
    TimerDue {
        due_ms: u64,
        tenant: TenantId,
        invocation: InvocationId,
    },
    /// Deliver a signal to an unfinished invocation.
    Signal {
        tenant: TenantId,
        invocation: InvocationId,
        name: String,
        #[serde(with = "super::bytes")]
        payload: Vec<u8>,
    },
    /// Cancel an unfinished invocation and its attached descendants.
    Cancel {
        tenant: TenantId,
        invocation: InvocationId,
    },
    /// Store a component (if not stored yet) and point a deployment at it, as written before
    /// policies had `on_exhausted` (replaced by [`Op::DeployV2`]; kept so that old logs
    /// replay).
    Deploy {
        deployment: DeploymentV1,
        #[serde(with = "super::bytes")]
        component: Vec<u8>,
    },
    /// Create a tenant. (Ops are only ever added at the end: a log record names an op by its
    /// position.)
    CreateTenant { tenant: TenantRecord },
    /// Store a new API key, of an existing tenant or an admin's.
    CreateKey { key: KeyRecord },
    /// Revoke the key with this hash.
    RevokeKey { hash: [u8; 32] },
    /// Set an existing tenant's quotas, as written before `stored_bytes` existed (replaced
    /// by [`Op::SetQuotas`]; kept so that old logs replay).
    SetQuotasV1 { tenant: TenantId, quotas: QuotasV1 },
    /// Set (or, with `None`, remove) the egress rules of an existing tenant, or of one of its
    /// deployments.
    SetEgress {
        tenant: TenantId,
        deployment: Option<String>,
        rules: Option<EgressRules>,
    },
    /// Set an existing tenant's quotas (replacing the ones it had).
    SetQuotas { tenant: TenantId, quotas: Quotas },
    /// Create a pending invocation, under an idempotency key (refused, as a duplicate or a
    /// reuse, while the key holds) and/or to start at `start_at_ms` (scheduled until then).
    CreateInvocation {
        record: Box<InvocationRecord>,
        key: Option<IdempotencyKey>,
        start_at_ms: Option<u64>,
    },
    /// Deliver a signal under an idempotency key: refused the same way when repeated.
    SignalOnce {
        tenant: TenantId,
        invocation: InvocationId,
        name: String,
        #[serde(with = "super::bytes")]
        payload: Vec<u8>,
        key: IdempotencyKey,
    },
    /// Pause an unfinished invocation: it stops at its next host call and does not wake.
    Pause {
        tenant: TenantId,
        invocation: InvocationId,
    },
    /// Resume a paused invocation where it was.
    Resume {
        tenant: TenantId,
        invocation: InvocationId,
    },
    /// Remove these invocations of `tenant` that finished by `before_ms` (a retention
    /// sweep), with their journals, and these idempotency keys (scope, key) if they no
    /// longer hold. What is not due is left alone, and so is a child whose parent has not
    /// finished.
    Forget {
        tenant: TenantId,
        invocations: Vec<InvocationId>,
        keys: Vec<(String, String)>,
        before_ms: u64,
    },
    /// Write a schedule: a new one (`revision` 0, refused if the name is taken), or the next
    /// revision of one (refused unless the stored one is at `revision - 1`).
    PutSchedule { schedule: Box<Schedule> },
    /// Remove a schedule (its invocations stay).
    RemoveSchedule { tenant: TenantId, name: String },
    /// Rewind a finished or paused invocation as `plan` says: its later steps move to its
    /// history and it runs again from there. Refused unless it is still as it was checked.
    Rewind {
        tenant: TenantId,
        invocation: InvocationId,
        plan: RewindPlan,
    },
    /// Create pending `record` as a fork of `from` (then pinned to `from_component`) with
    /// `steps`, the first steps of `from` as read when the fork was checked.
    Fork {
        record: Box<InvocationRecord>,
        from: InvocationId,
        from_component: ComponentHash,
        steps: Vec<StoredStep>,
    },
    /// Store a component (if not stored yet) and point a deployment at it.
    DeployV2 {
        deployment: Deployment,
        #[serde(with = "super::bytes")]
        component: Vec<u8>,
    },
    /// Pause pending or running `record` (written as given, in state `paused`) because the
    /// host's attempts ran out; with `seq`, the kept attempts of that HTTP step are dropped,
    /// so that a resume starts them over.
    PauseExhausted {
        record: Box<InvocationRecord>,
        seq: Option<u32>,
    },
    /// Start moving invocation `invocation` out (to node `to`, or "" for a bundle file) as
    /// move `move_id`: it stops running here and wakes for nothing, its rows are kept.
    /// Refused if it has unfinished children or an unfinished parent, or is moving already.
    Leave {
        tenant: TenantId,
        invocation: InvocationId,
        move_id: u128,
        to: String,
    },
    /// The other end has leaving `invocation` (move `move_id`): drop its rows here and keep
    /// the record as where it went.
    Depart {
        tenant: TenantId,
        invocation: InvocationId,
        move_id: u128,
    },
    /// The other end refused move `move_id`: leaving `invocation` is owned here again, as it
    /// was.
    StayHome {
        tenant: TenantId,
        invocation: InvocationId,
        move_id: u128,
    },
    /// As `Arrive` with nothing of its children but their ids (the op of format-1 bundles).
    Import { bundle: Box<Bundle> },
    /// Refuse move `move_id` before it arrives (refused if it has arrived).
    RefuseArrival {
        move_id: u128,
        tenant: TenantId,
        invocation: InvocationId,
    },
    /// Move unfinished `invocation` onto another version of its code, as `plan` was checked
    /// (refused unless it is still on `plan.from` with `plan.steps` steps).
    Upgrade {
        tenant: TenantId,
        invocation: InvocationId,
        plan: UpgradePlan,
    },
    /// Remove `tenant`'s old versions (of `name`, or of every name) that no unfinished
    /// invocation runs on, and the component bytes nothing of any tenant needs any more.
    DropVersions {
        tenant: TenantId,
        name: Option<String>,
    },
    /// Another node reports that `record`'s invocation, a child that moved there from here,
    /// ended so: take its end here once (refused if it is owned here).
    ChildEnded { record: Box<InvocationRecord> },
    /// `node` acknowledged these messages of the outbox: (tenant, invocation, kind).
    Delivered {
        node: String,
        messages: Vec<(TenantId, InvocationId, u8)>,
    },
    /// Own the invocation in `bundle` from now on, with what `family` says of its children
    /// (refused if this move arrived or was refused already, or the invocation is here and
    /// not moved away).
    Arrive {
        bundle: Box<Bundle>,
        family: super::bundle::Family,
    },
    /// Keep these lines of what `invocation` wrote to stdout and stderr (a line already kept
    /// under its key is left as it is; refused if the invocation is not here, or past the
    /// tenant's `stored_bytes`).
    PutOutput {
        tenant: TenantId,
        invocation: InvocationId,
        lines: Vec<super::output::OutputLine>,
    },
}

/// What a step entails besides its journal entry, written in the same transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum StepEffect {
    /// Nothing.
    None,
    /// Create this child invocation (a dispatch).
    CreateChild(Box<InvocationRecord>),
    /// Remove these received signals: (name, arrival number).
    ConsumeSignals(Vec<(String, u64)>),
    /// Remove the kept attempts of this (HTTP) step: its outcome is final.
    EndRetries,
}

/// The attempts of an HTTP step between two of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryState {
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first started (ms since the Unix epoch).
    pub first_ms: u64,
}

/// Invocations whose state an op changed besides its own target, for the scheduler to act on.
#[derive(Debug, Default)]
pub struct Effects {
    /// Became pending: start them.
    pub woken: Vec<(TenantId, InvocationId)>,
    /// Were cancelled: stop them if they run, and tell their waiters.
    pub cancelled: Vec<(TenantId, InvocationId)>,
    /// Were paused: stop them if they run.
    pub paused: Vec<(TenantId, InvocationId)>,
    /// Messages to other nodes were put in the outbox: send them.
    pub outbox: bool,
}
